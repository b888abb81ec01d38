"""Workflows: the only code that chains stages (train, tune, explain, reload, pipeline)."""
