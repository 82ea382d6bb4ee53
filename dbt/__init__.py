"""pydbt: a dynamic binary translator in Python (QEMU linux-user style)."""
__version__ = "0.1.0"
