"""Evaluation runs: items -> model -> parsed answers -> official metrics, resumable and cached."""
