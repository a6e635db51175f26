"""processtwin: a Python-native digital twin platform for process plants."""

__version__ = "0.1.0"

__all__ = ["__version__"]
