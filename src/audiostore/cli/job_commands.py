"""Maintenance commands that run on the service's machine: sweep, worker, cleanup, reconcile.

They use the server's settings and call the jobs directly (no HTTP).
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
from typing import TYPE_CHECKING, Any

import typer
from rich.console import Console
from rich.table import Table

from ..durations import parse_duration
from ..stop_signal import PROCESS_STOP
from .catalogue_access import DataDir, use_data_dir
from .server_commands import run_with_runtime

if TYPE_CHECKING:  # the jobs pull in the whole server; client commands should start fast
    from ..jobs import JobResult, ReconcileReport
    from ..runtime import Runtime

err = Console(stderr=True)


def _seconds(value: str, what: str) -> float:
    try:
        return parse_duration(value)
    except ValueError as exc:
        raise typer.BadParameter(str(exc), param_hint=what) from None


def _print_results(results: list[JobResult], json_out: bool) -> None:
    if json_out:
        typer.echo(json.dumps([r.to_dict() for r in results], indent=2))
        return
    table = Table("job", "what it did", "seconds")
    for r in results:
        did = r.error or (" ".join(f"{k}={v}" for k, v in r.counts.items()) or "-")
        table.add_row(r.job, did, f"{r.seconds:.2f}")
    Console().print(table)


def sweep(
    json_out: bool = typer.Option(False, "--json", help="Print JSON."),
    data_dir: DataDir = None,
) -> None:
    """Run every maintenance job once (expiry, stale pending, delete retries, spool drain,
    temp files) and print what each did. For cron and for tests."""
    from ..jobs import run_jobs_once

    use_data_dir(data_dir)

    results = run_with_runtime(run_jobs_once)
    _print_results(results, json_out)
    if any(r.error for r in results):
        raise typer.Exit(1)


def worker(
    json_out: bool = typer.Option(False, "--json", help="Print one JSON line per job run."),
    data_dir: DataDir = None,
) -> None:
    """Run the maintenance jobs alone, on AUDIOSTORE_SWEEP_INTERVAL and/or
    AUDIOSTORE_SWEEP_DAILY_AT, until stopped (SIGTERM or Ctrl-C: the batch under way is
    finished, then exit 0). Several workers may share one PostgreSQL catalogue; on SQLite run
    one. The line `worker: started` on stderr says the stop signals are handled from here."""
    stop_signal = PROCESS_STOP
    stop_signal.install()  # (again) first: a stop during the slow start below is clean too
    typer.echo(f"audiostore worker: started (pid {os.getpid()}); SIGTERM or Ctrl-C stops it "
               "after the batch under way", err=True)
    use_data_dir(data_dir)

    from ..jobs import MaintenanceLoop
    from ..settings import load_settings

    # After the imports: what libraries log while they load is not the operator's business.
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    settings = load_settings()
    interval = settings.sweep_interval or (0 if settings.sweep_daily_at else 60.0)

    def report(results: list[JobResult]) -> None:
        if json_out:
            for r in results:
                typer.echo(json.dumps(r.to_dict()), nl=True)

    async def go(rt: Runtime) -> None:
        loop = MaintenanceLoop(rt, interval=interval, daily_at=settings.sweep_daily_at,
                               on_results=report)
        running = asyncio.get_running_loop()
        stop_signal.attach(running, loop.stop)
        try:
            await loop.run()
        finally:
            stop_signal.detach(running)

    if stop_signal.requested:
        return  # stopped before it began: nothing to finish
    run_with_runtime(go)


def cleanup(
    older_than: str = typer.Option(..., "--older-than", help="Age: 30m, 24h, 7d, or seconds."),
    collection: str = typer.Option(None, help="Only this collection."),
    owner: str = typer.Option(None, help="Only this owner's audio."),
    json_out: bool = typer.Option(False, "--json", help="Print JSON."),
    data_dir: DataDir = None,
) -> None:
    """Delete audio created more than --older-than ago, expiring or not."""
    from ..jobs import cleanup_older_than

    use_data_dir(data_dir)

    age = _seconds(older_than, "--older-than")
    if age <= 0:
        raise typer.BadParameter("must be positive", param_hint="--older-than")
    counts: dict[str, Any] = run_with_runtime(
        lambda rt: cleanup_older_than(rt, older_than=age, collection=collection, owner=owner)
    )
    if json_out:
        typer.echo(json.dumps(counts))
    else:
        typer.echo(f"deleted {counts['deleted']} of {counts['matched']} objects older than "
                   f"{older_than}" + (f" ({counts['left_for_retry']} left for retry)"
                                      if counts["left_for_retry"] else ""))


# `reconcile` exits like `diff`: 0 nothing found; 3 found (and with --fix, repaired); 1 is
# every admin command's error (no catalogue, store down) and 2 a usage error, so a script
# can tell "found something" from "could not look".
RECONCILE_FOUND = 3


def reconcile_cmd(
    fix: bool = typer.Option(
        False, "--fix/--dry-run",
        help="--fix: delete the orphan blobs and remove the broken objects. Default (--dry-run): "
        "list what --fix would delete, change nothing.",
    ),
    grace: str = typer.Option("1h", help="Only judge blobs and rows older than this."),
    json_out: bool = typer.Option(False, "--json", help="Print JSON: counts, keys and ids."),
    data_dir: DataDir = None,
) -> None:
    """Find blobs no object owns and objects whose blob is missing, and list them (the keys
    and ids --fix would delete); --fix repairs both. Exit 0: nothing found; 3: something
    found (and with --fix, repaired); 1: an error."""
    from ..jobs import reconcile

    use_data_dir(data_dir)

    seconds = _seconds(grace, "--grace")
    report = run_with_runtime(lambda rt: reconcile(rt, fix=fix, grace=seconds))
    if json_out:
        typer.echo(json.dumps(report.to_dict(), indent=2))
    else:
        _print_reconcile(report, grace)
    if report.found:
        raise typer.Exit(RECONCILE_FOUND)


def _print_reconcile(report: ReconcileReport, grace: str) -> None:
    """One line per finding, whole keys and ids, then the counts in words."""
    if report.orphans:
        typer.echo(f"orphan blobs, no object owns them ({'deleted' if report.fixed else 'would delete'}):")
        for o in report.orphans:
            typer.echo(f"  {o.store}\t{o.key}")
    if report.broken:
        typer.echo(f"objects whose blob is missing ({'removed' if report.fixed else 'would remove'}):")
        for b in report.broken:
            typer.echo(f"  {b.id}\t{b.owner}\t{b.key}")
    typer.echo(f"orphan blobs: {report.orphan_blobs} (deleted {report.orphan_blobs_deleted})")
    typer.echo(f"objects with a missing blob: {report.missing_blobs} (removed {report.broken_rows_removed})")
    typer.echo(f"checked {report.blobs_checked} blobs and {report.rows_checked} objects; left alone, "
               f"younger than the {grace} grace: {report.young_blobs} blobs no object owns yet, "
               f"{report.young_rows} objects")
    if report.found and not report.fixed:
        typer.echo("dry run: nothing was changed; `audiostore reconcile --fix` deletes what is listed")


def register(app: typer.Typer) -> None:
    app.command()(sweep)
    app.command()(worker)
    app.command()(cleanup)
    app.command("reconcile")(reconcile_cmd)
