"""What every settings group shares: the `AUDIOSTORE_` prefix, the `.env` file, frozen values,
and the field types several groups read in the same way (comma lists, human durations)."""

from __future__ import annotations

from typing import Annotated

from pydantic import BeforeValidator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict


def _split_csv(value: object) -> object:
    if isinstance(value, str):
        return [part.strip() for part in value.split(",") if part.strip()]
    return value


def _duration(value: object) -> object:
    from ..durations import parse_duration

    return parse_duration(value) if isinstance(value, str) else value


CommaList = Annotated[list[str], NoDecode, BeforeValidator(_split_csv)]
"""`a,b, c` in the environment; a list in Python."""

Seconds = Annotated[float, BeforeValidator(_duration)]
"""Seconds, or a human duration in the environment: `90s`, `30m`, `1h30m`, `7d`."""


class SettingsGroup(BaseSettings):
    """One concern's settings. `Settings` composes all of them; a service is typed to take
    only the group(s) it reads, so what it depends on is visible in its signature."""

    model_config = SettingsConfigDict(
        env_prefix="AUDIOSTORE_", env_file=".env", extra="ignore", frozen=True
    )

    def problems(self) -> list[str]:
        """Settings of this group that cannot work together, one sentence each, each naming
        its environment variable. Single values are checked by their field's constraints."""
        return []
