"""The package version, in a module of its own so that modules such as ``osteotrial.io`` can
stamp it on their files without importing the package root (which forwards to ``api``)."""

__version__ = "0.1.0"
