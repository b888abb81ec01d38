"""Hyperparameter tuning with Optuna (placeholder while being written)."""
