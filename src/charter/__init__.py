"""Charter: AI governance and operations platform."""

__version__ = "0.1.0"
