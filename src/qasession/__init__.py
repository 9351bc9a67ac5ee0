"""qasession: host public question-and-answer sessions on social platforms."""

__version__ = "0.1.0"
