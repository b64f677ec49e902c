"""Two real `audiostore serve` processes on one PostgreSQL and one bucket: a client token made
on one works on the other; revoking an owner's tokens, or making a public collection private,
on one stops them on the other within the documented cache bound."""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest

from fixtures_seaweedfs import SeaweedFS
from server_process import ServerProcess

from audiostore.client import Client

pytestmark = [pytest.mark.s3, pytest.mark.postgres]
BOUND = 1.0  # AUDIOSTORE_TOKEN_REVOCATION_CACHE_SECONDS and AUDIOSTORE_PUBLIC_CACHE_SECONDS here


@pytest.fixture
def two_servers(
    tmp_path: Path, seaweedfs: SeaweedFS, s3_bucket: str, postgres_url: str
) -> Iterator[tuple[ServerProcess, ServerProcess, str]]:
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith(("AUDIOSTORE_", "AWS_"))},
        "AUDIOSTORE_STORE": "s3", "AUDIOSTORE_S3_BUCKET": s3_bucket,
        "AUDIOSTORE_S3_ENDPOINT": seaweedfs.endpoint, "AUDIOSTORE_S3_REGION": seaweedfs.region,
        "AUDIOSTORE_S3_ALLOW_HTTP": "true", "AUDIOSTORE_S3_ACCESS_KEY_ID": seaweedfs.access_key,
        "AUDIOSTORE_S3_SECRET_ACCESS_KEY": seaweedfs.secret_key, "AUDIOSTORE_DATABASE_URL": postgres_url,
        "AUDIOSTORE_SIGNING_SECRETS": "one-secret-for-both-servers", "AUDIOSTORE_SWEEP_INTERVAL": "0",
        "AUDIOSTORE_TOKEN_REVOCATION_CACHE_SECONDS": str(BOUND),
        "AUDIOSTORE_PUBLIC_CACHE_SECONDS": str(BOUND), "AUDIOSTORE_AUTH_CACHE_SECONDS": "0",
    }
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    a = ServerProcess(tmp_path / "a" / "data", env=env).start()
    try:
        b = ServerProcess(tmp_path / "b" / "data", env=env).start()
        try:
            yield a, b, (tmp_path / "a" / "data" / "admin.key").read_text().strip()
        finally:
            b.stop()
    finally:
        a.stop()


def eventually(check: Callable[[], bool], *, within: float) -> bool:
    """Whether `check` holds at some point within `within` seconds (polled, bounded)."""
    deadline = time.monotonic() + within
    for _ in range(200):
        if check():
            return True
        if time.monotonic() > deadline:
            return False
        time.sleep(0.1)
    return False


def test_revocation_and_privacy_reach_the_other_server(
    two_servers: tuple[ServerProcess, ServerProcess, str], tones: dict[str, Path]
) -> None:
    a, b, admin_key = two_servers
    with Client(a.url, api_key=admin_key) as on_a:
        obj = on_a.upload(tones["wav"], collection="cards", owner="kids")
        token = on_a.create_token(["read"], owner="kids").token
    auth = {"Authorization": f"Bearer {token}"}

    def status_on(server: ServerProcess, path: str, headers: dict[str, str] | None = None) -> int:
        return httpx.get(f"{server.url}{path}", headers=headers or {}, timeout=30).status_code

    # Minted on a, verified on b with no lookup: one signing secret.
    assert status_on(b, f"/v1/audio/{obj.id}", auth) == 200
    revoked = httpx.post(f"{a.url}/v1/tokens/revoke", json={"owner": "kids"},
                         headers={"Authorization": f"Bearer {admin_key}"}, timeout=30)
    assert revoked.status_code == 200
    assert status_on(a, f"/v1/audio/{obj.id}", auth) == 401  # at once where it was revoked
    assert eventually(lambda: status_on(b, f"/v1/audio/{obj.id}", auth) == 401, within=BOUND + 10)
    assert httpx.get(f"{b.url}/v1/info", headers=auth).json()["error"]["code"] == "token_revoked"

    public = f"/v1/public/kids/cards/{obj.id}"
    assert status_on(b, public) == 404  # b now remembers it as private, for up to BOUND
    made = httpx.put(f"{a.url}/v1/collections/kids/cards/public",
                     headers={"Authorization": f"Bearer {admin_key}"}, timeout=30)
    assert made.status_code == 200
    assert status_on(a, public) == 200
    assert eventually(lambda: status_on(b, public) == 200, within=BOUND + 10)
    got = httpx.get(f"{b.url}{public}", headers={"Range": "bytes=0-99"}, timeout=30)
    assert got.status_code == 206 and got.content == tones["wav"].read_bytes()[:100]

    private = httpx.delete(f"{a.url}/v1/collections/kids/cards/public",
                           headers={"Authorization": f"Bearer {admin_key}"}, timeout=30)
    assert private.status_code == 204
    assert status_on(a, public) == 404
    assert eventually(lambda: status_on(b, public) == 404, within=BOUND + 10)
