"""Client tokens and public collections through the SDK (sync and async) and the CLI, against a
real `audiostore serve` process."""

from __future__ import annotations

import json
from pathlib import Path

import httpx
import pytest

from fixtures_client_server import Served

from audiostore.client import AsyncClient, AuthenticationError, Client, NotFoundError, RejectedInputError
from audiostore.client import ApiError


def test_sdk_mints_a_token_a_phone_uploads_with(served: Served, tones: dict[str, Path]) -> None:
    key = served.new_key("coach")
    with Client(served.url, api_key=key) as c:
        t = c.create_token(["upload", "read"], collections=["takes"], max_bytes=10_000_000,
                           formats=["wav"], lifetime_seconds=300)
        assert t.owner == "coach" and t.scopes == ["read", "upload"] and t.collections == ["takes"]
        with Client(served.url, api_key=t.token) as phone:
            obj = phone.upload(tones["wav"], collection="takes")
            assert obj.owner == "coach" and obj.collection == "takes"
            assert phone.get(obj.id).sha256 == obj.sha256
            with pytest.raises(ApiError) as denied:
                phone.delete(obj.id)
            assert denied.value.status == 403 and denied.value.code == "scope_denied"
            with pytest.raises(RejectedInputError) as wrong:
                phone.upload(tones["mp3"], collection="takes")
            assert wrong.value.status == 415
        c.delete(obj.id)


def test_sdk_revokes_and_publishes(served: Served, tones: dict[str, Path]) -> None:
    with Client(served.url, api_key=served.admin_key) as admin:
        t = admin.create_token(["read"], owner="kids")
        with Client(served.url, api_key=t.token) as reader:
            reader.info()
            gone = admin.revoke_tokens("kids")
            assert gone.owner == "kids"
            with pytest.raises(AuthenticationError) as refused:
                reader.info()
            assert refused.value.code == "token_revoked"
        obj = admin.upload(tones["wav"], collection="cards", owner="kids")
        made = admin.make_public("kids", "cards")
        public_url = f"{made.url}{obj.id}"
        got = httpx.get(public_url, headers={"Range": "bytes=0-99"})
        assert got.status_code == 206 and got.content == tones["wav"].read_bytes()[:100]
        assert got.headers["cache-control"].startswith("public, max-age=")
        assert ("kids", "cards") in {(p.owner, p.collection) for p in admin.public_collections()}
        admin.make_private("kids", "cards")
        assert httpx.get(public_url).status_code == 404
        with pytest.raises(NotFoundError):
            admin.make_private("kids", "cards")
        admin.delete(obj.id)


async def test_async_sdk_mints_the_same(served: Served) -> None:
    key = served.new_key("daw")
    async with AsyncClient(served.url, api_key=key) as c:
        t = await c.create_token(["list"], lifetime_seconds=60)
        assert t.scopes == ["list"] and t.owner == "daw"
        async with AsyncClient(served.url, api_key=t.token) as browser:
            assert (await browser.list_page()).items == []
            with pytest.raises(ApiError) as denied:
                await browser.create_token(["read"])
            assert denied.value.code == "scope_denied"


def test_cli_token_and_public_commands(served: Served, tones: dict[str, Path]) -> None:
    key = served.new_key("cli-owner")
    made = served.cli("token", "create", "--scope", "read", "--scope", "upload", "-c", "songs",
                      "--lifetime", "120", "--max-bytes", "5000000", "-f", "wav", key=key)
    assert made.returncode == 0, made.stderr
    token, summary = made.stdout.splitlines()[:2]
    assert token.count(".") == 2 and "owner cli-owner" in summary and "scopes read,upload" in summary
    up = served.cli("upload", str(tones["wav"]), "--collection", "songs", "--json", key=token)
    assert up.returncode == 0, up.stderr
    obj = json.loads(up.stdout)[0]  # one object per file given
    outside = served.cli("upload", str(tones["wav"]), "--collection", "other", key=token)
    assert outside.returncode != 0 and "scope_denied" in outside.stderr

    as_json = served.cli("token", "create", "-s", "read", "--owner", "cli-owner", "--json",
                         key=served.admin_key)
    assert as_json.returncode == 0 and json.loads(as_json.stdout)["owner"] == "cli-owner"
    bad = served.cli("token", "create", "-s", "read", "--lifetime", "0", key=key)
    assert bad.returncode != 0 and "lifetime_seconds" in bad.stderr

    pub = served.cli("public", "add", "cli-owner", "songs", key=key)
    assert pub.returncode == 0, pub.stderr
    assert httpx.get(pub.stdout.strip() + obj["id"]).status_code == 200
    listed = served.cli("public", "list", key=key)
    assert "cli-owner/songs  api" in listed.stdout
    assert served.cli("public", "rm", "cli-owner", "songs", key=key).returncode == 0
    assert httpx.get(pub.stdout.strip() + obj["id"]).status_code == 404

    revoked = served.cli("token", "revoke", "cli-owner", key=served.admin_key)
    assert revoked.returncode == 0, revoked.stderr
    after = served.cli("info", key=token)
    assert after.returncode != 0 and "revoked" in after.stderr
