"""infratests: infrastructure claims as tests."""

__version__ = "0.1.0"
