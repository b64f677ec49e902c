"""Uploads that arrive in pieces: tus uploads' idle lifetime, how long a PATCH may stall,
where their parts wait and whether each PATCH waits for the disk, and how long a signed upload
URL may live."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field

from .group import Seconds, SettingsGroup


class ResumableUploadSettings(SettingsGroup):
    tus_upload_expiry: Seconds = Field(
        86400.0,
        description="Seconds (or `24h`) an unfinished tus upload (`/v1/uploads`) may sit "
        "idle: each PATCH moves its `Upload-Expires` this far ahead; past it the upload is 410 "
        "and the jobs remove its part from `{data_dir}/uploads`.",
    )
    tus_lease_seconds: Seconds = Field(
        30.0, gt=0,
        description="Seconds (or `30s`, at least 60 counted) a tus part file without an upload "
        "row must sit before the expiry job removes it (a crash between creating the part and "
        "its row). A PATCH's claim is its part's flock, which dies with its process.",
    )
    tus_patch_idle_timeout: Seconds = Field(
        60.0, gt=0,
        description="Seconds (or `1m`) a tus PATCH may go without receiving a byte before it "
        "is ended as if its connection had dropped: the bytes that arrived are kept and the "
        "upload is free again. A client that went silent without closing (a phone that left "
        "the network sends no FIN) would otherwise hold the upload's lock, and its own retry "
        "would get 423 for as long as that connection lingers.",
    )
    tus_parts_dir: Path | None = Field(
        None,
        description="Folder of unfinished tus uploads' parts. Unset: `{data_dir}/uploads`. "
        "Instances that share uploads (PATCHes of one upload landing on either) must share "
        "this folder (one host, or a shared volume).",
    )
    tus_sync_each_patch: bool = Field(
        False,
        description="Make each tus PATCH wait until its bytes are on the disk (`fdatasync`) "
        "before acknowledging its offset. Off: a killed server loses nothing (the page cache "
        "outlives it) and after a power loss an upload resumes from what the disk kept (the "
        "offset is never more than the part's length); turn on for a filesystem that may "
        "keep a file's length without its data (ext4 `data=writeback`).",
    )
    tus_max_concat_parts: int = Field(
        64, ge=1,
        description="Most partial uploads one final upload of the tus concatenation extension "
        "(`Upload-Concat: final;...`) may name; more is 400 `upload_concat_invalid`.",
    )
    upload_url_max_expiry: int = Field(
        86400, ge=1,
        description="Longest lifetime (s) of a signed upload URL (`POST /v1/audio/upload-url`); "
        "the default lifetime is AUDIOSTORE_URL_DEFAULT_EXPIRY, capped by this.",
    )
