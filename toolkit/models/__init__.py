"""Scoring models: the xgboost scorer, the scorecard baseline, training and evaluation."""
