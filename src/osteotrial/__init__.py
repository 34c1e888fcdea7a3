"""osteotrial: an in-silico trial emulator for osteoporosis drugs."""

__version__ = "0.1.0"
