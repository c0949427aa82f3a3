"""redissim: a discrete-event simulation and visualisation engine of Redis 7 internals."""

__version__ = "0.1.0"
