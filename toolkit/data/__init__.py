"""Data: the feature registry and builder, model tables, dataset files and splits."""
