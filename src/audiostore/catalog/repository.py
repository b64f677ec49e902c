"""The catalogue as one object: the database, and a module per table.

`Catalog` is the `audio` table's statements (`audio_rows.py`: what most callers need), with
every other table one attribute away: `claims` (the jobs' batches), `derived_blobs`,
`queues`, `api_keys`, `idempotency_keys`, `tts_requests`, `token_revocations`,
`public_collections`, `tus_uploads`, `upload_grants`. All run on one `Database`, whose
`session()` is the one way to open a transaction.
"""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncEngine

from .api_keys import ApiKeyCatalog
from .audio_rows import AudioRows
from .claims import Claims
from .derived_blobs import DerivedBlobCatalog
from .idempotency_keys import IdempotencyKeyCatalog
from .public_collections import PublicCollectionCatalog
from .queues import QueueCatalog
from .sessions import Database
from .token_revocations import TokenRevocationCatalog
from .tts_requests import TtsRequestCatalog
from .tus_uploads import TusUploadCatalog
from .upload_grants import UploadGrantCatalog


class Catalog(AudioRows):
    def __init__(self, engine: AsyncEngine) -> None:
        super().__init__(Database(engine))
        self.claims = Claims(self.database, self)
        self.derived_blobs = DerivedBlobCatalog(self.database)
        self.queues = QueueCatalog(self.database)
        self.api_keys = ApiKeyCatalog(self.database)
        self.idempotency_keys = IdempotencyKeyCatalog(self.database)
        self.tts_requests = TtsRequestCatalog(self.database)
        self.token_revocations = TokenRevocationCatalog(self.database)
        self.public_collections = PublicCollectionCatalog(self.database)
        self.tus_uploads = TusUploadCatalog(self.database)
        self.upload_grants = UploadGrantCatalog(self.database)

    @property
    def engine(self) -> AsyncEngine:
        return self.database.engine

    async def ping(self) -> None:
        await self.database.ping()

    async def close(self) -> None:
        await self.database.close()
