"""`audiostore doctor`: one line per check of settings, blob store and catalogue."""

from __future__ import annotations

import asyncio

import typer
from rich.console import Console

from ..doctor import run_doctor
from ..errors import AudiostoreError
from ..settings import load_settings
from .catalogue_access import DataDir, use_data_dir

_MARK = {True: "[green]ok  [/green]", False: "[red]FAIL[/red]", None: "[yellow]skip[/yellow]"}


def doctor(data_dir: DataDir = None) -> None:
    """Check the deployment: settings; can the store be reached, written, read, signed and
    deleted from; can the database be reached, and are its migrations current. Exits 1 if
    any check fails. It creates nothing: no catalogue, no data folder."""
    use_data_dir(data_dir)
    out = Console(highlight=False, soft_wrap=True)
    try:
        settings = load_settings()
    except AudiostoreError as exc:
        out.print(f"{_MARK[False]} settings: {exc.message}")
        raise typer.Exit(1) from None
    report = asyncio.run(run_doctor(settings))
    for check in report:
        out.print(f"{_MARK[check.ok]} {check.name}: {check.detail}")
    if any(check.ok is False for check in report):
        raise typer.Exit(1)


def register(app: typer.Typer) -> None:
    app.command()(doctor)
