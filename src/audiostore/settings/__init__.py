"""Configuration, read from `AUDIOSTORE_*` environment variables (or a `.env` file).

Settings are grouped by concern, one module each: the HTTP server, storage and S3, the
catalogue, ingest, signed URLs, processing, queues, TTS and the jobs. `Settings` composes the
groups into one object (every `AUDIOSTORE_*` name is its field's name); a service is typed to
take only the groups it reads. `load_settings()` reads them, naming the variable of a value
that is refused; `get_settings()` is that, once per process. Every field is documented here
and in the README's configuration table, with the same default; a test checks the two agree.
"""

from __future__ import annotations

import functools

from pydantic import ValidationError

from ..errors import ConfigurationError
from .catalogue import CatalogueSettings
from .client_access import ClientAccessSettings
from .group import SettingsGroup
from .http import HttpSettings
from .ingest import DEFAULT_FORMATS, IngestSettings
from .jobs import JobSettings
from .place import DataDirSettings
from .processing import ProcessingSettings
from .queues import QueueSettings
from .storage import S3Settings, StorageSettings
from .tts import TtsSettings
from .urls import UrlSettings

GROUPS: tuple[type[SettingsGroup], ...] = (
    HttpSettings, StorageSettings, CatalogueSettings, IngestSettings, UrlSettings,
    ProcessingSettings, QueueSettings, TtsSettings, JobSettings, ClientAccessSettings,
)


class Settings(
    HttpSettings, StorageSettings, CatalogueSettings, IngestSettings, UrlSettings,
    ProcessingSettings, QueueSettings, TtsSettings, JobSettings, ClientAccessSettings,
):
    """All of audiostore's settings: every group at once. Field docs are the user-facing
    documentation."""

    def problems(self) -> list[str]:
        return [p for group in GROUPS for p in group.problems(self)]


def env_name(field: str) -> str:
    """`s3_bucket` -> `AUDIOSTORE_S3_BUCKET`."""
    return f"AUDIOSTORE_{field.upper()}"


def load_settings() -> Settings:
    """Read settings from the environment; a rejected value names its variable."""
    try:
        return Settings()
    except ValidationError as exc:
        problems = []
        for error in exc.errors():
            field = str(error["loc"][0]) if error["loc"] else "?"
            problems.append(f"{env_name(field)}: {error['msg']}")
        raise ConfigurationError("Invalid settings: " + "; ".join(problems) + ".") from exc


@functools.cache
def get_settings() -> Settings:
    """The process-wide settings, read once from the environment."""
    return load_settings()


def settings_problems(settings: Settings) -> list[str]:
    """Every problem found, one sentence each, each naming its setting."""
    return settings.problems()


def check_settings(settings: Settings) -> None:
    """Raise `ConfigurationError` naming the first setting that cannot work."""
    for problem in settings.problems():
        raise ConfigurationError(problem)


__all__ = [
    "DEFAULT_FORMATS", "GROUPS", "CatalogueSettings", "ClientAccessSettings", "DataDirSettings",
    "HttpSettings", "IngestSettings", "JobSettings", "ProcessingSettings", "QueueSettings", "S3Settings",
    "Settings", "StorageSettings", "TtsSettings", "UrlSettings", "check_settings",
    "env_name", "get_settings", "load_settings", "settings_problems",
]
