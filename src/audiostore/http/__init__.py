"""The HTTP API: thin routes over the service."""

from .app import create_app

__all__ = ["create_app"]
