from toolkit.tracking.mlflow_store import *  # noqa: F401,F403
