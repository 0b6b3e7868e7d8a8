"""unsmudge: a precomputed static site generator for interactive machine-learning lessons."""

__version__ = "0.1.0"
