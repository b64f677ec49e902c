"""The data folder: where the embedded default keeps everything that lives on this machine."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field

from .group import SettingsGroup


class DataDirSettings(SettingsGroup):
    data_dir: Path = Field(
        Path("audiostore-data"),
        description="Where the embedded default keeps its SQLite catalogue, blobs, temp "
        "files, the signing secret and the first admin key.",
    )
