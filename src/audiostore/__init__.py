"""audiostore: self-hosted audio storage and delivery for application developers."""

__version__ = "0.1.0"
__all__ = ["__version__"]
