"""The maintenance jobs: when they run, how much they take at once, and their grace periods."""

from __future__ import annotations

from pydantic import Field, field_validator

from .group import Seconds, SettingsGroup


class JobSettings(SettingsGroup):
    sweep_interval: Seconds = Field(
        60.0,
        description="Seconds (or `30s`, `5m`) between runs of the maintenance jobs (expiry "
        "sweep, stale pending uploads, delete retries, spool drain, temp files) inside "
        "`audiostore serve` and `audiostore worker`; 0 turns the timer off.",
    )
    sweep_daily_at: str | None = Field(
        None,
        description="Also run the maintenance jobs once a day at this UTC time, `HH:MM` (e.g. "
        "`12:00`). Unset: the interval alone.",
    )
    sweep_in_serve: bool = Field(
        True,
        description="Run the maintenance jobs inside `audiostore serve`. Turn off when "
        "dedicated `audiostore worker` processes do it.",
    )
    sweep_batch_size: int = Field(
        1000, ge=1, le=1000,
        description="Objects a job claims and deletes per batch (one S3 DeleteObjects call "
        "and one SQL statement each; S3 takes at most 1000 keys a call).",
    )
    pending_grace: Seconds = Field(
        3600.0,
        description="Seconds (or `1h`) after which an upload still `pending` (a crash between "
        "its intent row and its blob) is finished or rolled back by the jobs.",
    )
    tmp_grace: Seconds = Field(
        300.0,
        description="Seconds (or `5m`) after which a temp file in `{data_dir}/tmp` that no live "
        "upload holds is removed by the jobs.",
    )
    delete_retry_base: Seconds = Field(
        30.0, description="First wait (s) before retrying a failed blob delete; it doubles "
        "with each failure."
    )
    delete_retry_max: Seconds = Field(3600.0, description="Longest wait (s) between delete retries.")

    @field_validator("sweep_daily_at")
    @classmethod
    def _daily_at(cls, value: str | None) -> str | None:
        if value in (None, ""):
            return None
        hour, sep, minute = value.partition(":")
        if not (sep and hour.isdigit() and minute.isdigit() and int(hour) < 24 and int(minute) < 60):
            raise ValueError("sweep_daily_at must be HH:MM (UTC), e.g. 12:00")
        return f"{int(hour):02d}:{int(minute):02d}"
