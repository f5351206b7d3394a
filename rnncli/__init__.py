"""rnn: vanilla recurrent networks from scratch in NumPy, driven from the command line."""

__version__ = "0.1.0"
