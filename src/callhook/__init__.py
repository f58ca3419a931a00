"""callhook: the event and webhook layer of a telephone exchange."""

__version__ = "0.1.0"
