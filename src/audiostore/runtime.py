"""The composition root: builds the catalogue, blob store, signer and services from settings.

The HTTP app, the CLI's admin commands and the jobs each get their parts from `Runtime`, so
there is one place that decides which implementation a setting selects.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from . import catalog as catalog_mod
from .blob_keys import check_template
from .blobstores import BlobStore, LocalBlobStore
from .catalog import Catalog
from .errors import ConfigurationError, InvalidName
from .native_workers import NativeWorkerPool
from .service import ApiKeyService, AudioService, Ingest, IssuedKey
from .service.analysis import UploadAnalysis
from .service.client_tokens import ClientTokens
from .service.content_source import BlobAccess
from .service.deletion import Deletion
from .service.loudness_meter import LoudnessMeter
from .service.original_copy import OriginalCopies
from .service.public_collections import PublicCollections
from .service.queue_urls import QueueUrls
from .service.queues import QueueService
from .service.renditions import RenditionService
from .service.served_rows import ServedRows
from .service.token_revocations import TokenRevocations
from .service.speech_streams import SpeechStreams
from .service.tts import TtsService
from .service.tus_concatenation import TusConcatenation
from .service.tus_uploads import TusUploads
from .service.upload_grants import UploadGrants
from .settings import Settings, check_settings
from .signing import UrlSigner, load_or_create_secret
from .tts import build_registry, engine_pool


def utc_now() -> datetime:
    return datetime.now(UTC)


def build_store(settings: Settings) -> BlobStore:
    if settings.store == "local":
        return LocalBlobStore(settings.data_dir / "blobs")
    from .blobstores.s3 import S3BlobStore  # imported only when chosen

    primary = S3BlobStore.from_settings(settings)
    if settings.fallback == "spool":
        from .blobstores.spooling import SpoolingBlobStore

        return SpoolingBlobStore(primary, LocalBlobStore(settings.data_dir / "spool"))
    return primary


@dataclass
class Runtime:
    settings: Settings
    catalog: Catalog
    store: BlobStore
    audio: AudioService
    ingest: Ingest
    analysis: UploadAnalysis
    deletion: Deletion
    keys: ApiKeyService
    tts: TtsService
    renditions: RenditionService
    queues: QueueService
    queue_urls: QueueUrls
    tts_processes: NativeWorkerPool
    tokens: ClientTokens
    public: PublicCollections
    speech: SpeechStreams
    tus_uploads: TusUploads
    upload_grants: UploadGrants
    tus_concatenation: TusConcatenation
    clock: Callable[[], datetime] = field(default=utc_now)

    @classmethod
    def build(cls, settings: Settings, *, clock: Callable[[], datetime] = utc_now) -> Runtime:
        check_settings(settings)  # stops here, naming the setting, if it cannot work
        try:
            check_template(settings.key_template)
        except InvalidName as exc:
            raise ConfigurationError(exc.message) from exc
        settings.data_dir.mkdir(parents=True, exist_ok=True)
        secrets_ = settings.signing_secrets or [
            load_or_create_secret(settings.data_dir / "signing.key")
        ]
        catalog = Catalog(catalog_mod.create_engine(settings.resolved_database_url))
        store = build_store(settings)
        signer = UrlSigner(secrets_)

        def tick() -> datetime:  # every service reads the one clock (tests move it)
            return clock()

        # Each service is handed the settings groups it reads (`settings` is every group at
        # once, so it is passed as each), and single values of other groups by name.
        tmp_dir = settings.data_dir / "tmp"
        public_url = settings.resolved_public_url
        access = BlobAccess(store, signed_urls=settings.signed_urls)
        originals = OriginalCopies(store, tmp_dir)
        meter = LoudnessMeter(settings=settings, catalog=catalog, originals=originals)
        renditions = RenditionService(
            settings=settings, catalog=catalog, store=store, access=access, originals=originals,
            meter=meter, clock=tick,
        )
        audio = AudioService(
            settings=settings, public_url=public_url, tmp_dir=tmp_dir, catalog=catalog,
            store=store, signer=signer, access=access,
            served_rows=ServedRows.for_store(settings.store, settings.content_cache_seconds, catalog),
            derived=renditions, clock=tick,
        )
        analysis = UploadAnalysis(meter, renditions)
        ingest = Ingest(
            settings=settings, key_template=settings.key_template,
            pending_grace=settings.pending_grace, tmp_dir=tmp_dir, catalog=catalog, store=store,
            audio=audio, analysis=analysis, clock=tick,
        )
        deletion = Deletion(
            catalog=catalog, store=store, clock=tick, batch_size=settings.sweep_batch_size,
            retry_base=settings.delete_retry_base, retry_max=settings.delete_retry_max,
        )
        keys = ApiKeyService(catalog, clock=lambda: clock(), cache_seconds=settings.auth_cache_seconds)
        tts_processes = engine_pool(settings)  # workers start on first use
        tts = TtsService(
            settings=settings, audio=audio, ingest=ingest, registry=build_registry(settings, tts_processes),
            requests=catalog.tts_requests, deletion=deletion,
        )
        queues = QueueService(audio, renditions, settings=settings)
        revocations = TokenRevocations(
            catalog.token_revocations,
            cache_seconds=settings.token_revocation_cache_seconds,
            horizon_seconds=settings.token_max_lifetime, clock=lambda: clock(),
        )
        tokens = ClientTokens(
            settings=settings, ingest=settings, secrets_=secrets_, revocations=revocations,
            clock=lambda: clock(),
        )
        public = PublicCollections(
            audio, queues, catalog.public_collections, settings=settings
        )
        tus_uploads = TusUploads(
            audio, catalog.tus_uploads, ingest, settings=settings,
            parts_dir=settings.tus_parts_dir or settings.data_dir / "uploads",
        )
        upload_grants = UploadGrants(
            ingest=settings, urls=settings, upload_url_max_expiry=settings.upload_url_max_expiry,
            public_url=public_url, signer=signer, catalog=catalog.upload_grants, clock=tick,
        )
        return cls(
            settings=settings, catalog=catalog, store=store, audio=audio, ingest=ingest,
            analysis=analysis, deletion=deletion, keys=keys, tts=tts, renditions=renditions,
            queues=queues, queue_urls=QueueUrls(queues), tts_processes=tts_processes,
            tokens=tokens, public=public, speech=SpeechStreams(tts), tus_uploads=tus_uploads,
            upload_grants=upload_grants, tus_concatenation=TusConcatenation(tus_uploads), clock=clock,
        )

    async def migrate(self) -> None:
        await catalog_mod.upgrade(self.catalog.engine)

    async def check_store_credentials(self) -> None:
        """Stop the start when the bucket rejects our S3 credentials. Without this, with the
        fallback spool on, every upload would quietly go to the spool for good."""
        from .blobstores.spooling import primary_of

        probe = getattr(primary_of(self.store), "rejected_credentials", None)
        if probe is None:
            return
        try:
            # A bucket that is down must not hold the start up for the client's retries.
            code = await asyncio.wait_for(probe(), timeout=5)
        except TimeoutError:
            return
        if code is not None:
            source = ("AUDIOSTORE_S3_ACCESS_KEY_ID / AUDIOSTORE_S3_SECRET_ACCESS_KEY"
                      if self.settings.s3_access_key_id else
                      "the AWS chain (AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY, AWS_PROFILE, the role)")
            raise ConfigurationError(
                f"Bucket {self.settings.s3_bucket} rejects the credentials from {source} "
                f"({code}). Fix them; `audiostore doctor` checks the whole setup."
            )

    async def ensure_admin_key(self) -> IssuedKey | None:
        """On first start: create an admin key, write it to `<data dir>/admin.key` (0600)."""
        if await self.keys.has_any():
            return None
        issued = await self.keys.create("admin", admin=True, label="first admin key")
        write_secret_file(self.settings.data_dir / "admin.key", issued.key)
        return issued

    def begin_shutdown(self) -> None:
        """Cancel the renditions, waveforms and analyses in flight (each stops within a frame)
        and refuse new ones, so requests waiting on them end and the server can stop."""
        self.renditions.begin_shutdown()
        self.analysis.stop()

    async def close(self) -> None:
        # Work in flight first, so a shutdown takes seconds: a synthesis ends at once (502),
        # renditions and analyses stop within a frame.
        await asyncio.to_thread(self.tts_processes.close)
        await self.renditions.close()
        await self.analysis.close()
        await self.store.close()
        await self.catalog.close()


def credentials_problem() -> str | None:
    """`Runtime.check_store_credentials` for the settings in the environment; the message if
    it fails. `serve` runs this in a child process: an S3 call in the server's own process
    would start obstore's async runtime there, and granian's forked workers would inherit it
    without its threads, so every S3 call in them would hang."""
    from .settings import load_settings

    async def check() -> str | None:
        rt = Runtime.build(load_settings())
        try:
            await rt.check_store_credentials()
        except ConfigurationError as exc:
            return exc.message
        finally:
            await rt.close()
        return None

    return asyncio.run(check())


def write_secret_file(path: Path, secret: str) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(secret + "\n")
    os.chmod(path, 0o600)
