"""The SDK and CLI acting with a client token instead of an API key (`token=`,
`AUDIOSTORE_TOKEN`, `--token`), against a real `audiostore serve`: what the token's scopes
allow works, what they do not is a clear `PermissionDeniedError` with the service's message.
What a token stores and reads back runs on local disk + SQLite and on S3 + PostgreSQL
(`served_on`); the refusals, decided before any backend is touched, on the first only."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest

from fixtures_client_server import Served

from audiostore.client import (
    AsyncClient,
    AuthenticationError,
    Client,
    NotFoundError,
    PermissionDeniedError,
)


def sha256_of(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def token_for(served: Served, owner: str, scopes: list[str], collections: list[str] | None = None) -> str:
    with Client(served.url, api_key=served.new_key(owner)) as c:
        return c.create_token(scopes, collections=collections, lifetime_seconds=600).token


def test_a_token_uploads_gets_lists_and_downloads_within_its_scopes(
    served_on: Served, tones: dict[str, Path], tmp_path: Path
) -> None:
    served = served_on
    token = token_for(served, "tok-sdk", ["upload", "read", "list"], collections=["x"])
    with Client(served.url, token=token) as phone:
        obj = phone.upload(tones["wav"], collection="x")
        assert obj.owner == "tok-sdk" and obj.sha256 == sha256_of(tones["wav"])
        assert phone.get(obj.id).sha256 == obj.sha256
        assert [o.id for o in phone.list(collection="x")] == [obj.id]
        assert [o.id for o in phone.list()] == [obj.id]  # no collection: only its own
        copy = phone.download(obj.id, tmp_path / "copy.wav")
        assert sha256_of(copy) == obj.sha256

        with pytest.raises(PermissionDeniedError) as no_delete:
            phone.delete(obj.id)
        assert no_delete.value.status == 403 and no_delete.value.code == "scope_denied"
        assert no_delete.value.message == "This client token has no 'delete' scope."
        assert isinstance(no_delete.value, AuthenticationError)  # 401/403 still caught alike

        with pytest.raises(PermissionDeniedError) as other_list:
            phone.list_page(collection="y")
        assert other_list.value.code == "scope_denied" and "'y'" in other_list.value.message
        with pytest.raises(PermissionDeniedError):
            phone.upload(tones["wav"], collection="y")
    with Client(served.url, api_key=served.admin_key) as admin:
        assert admin.get(obj.id).id == obj.id  # the refused delete deleted nothing
        assert [o.collection for o in admin.list(owner="tok-sdk")] == ["x"]  # the refused upload stored nothing


def test_a_token_for_one_collection_does_not_see_another(served: Served, tones: dict[str, Path]) -> None:
    key = served.new_key("tok-coll")
    with Client(served.url, api_key=key) as c:
        elsewhere = c.upload(tones["wav"], collection="y")
        token = c.create_token(["read", "list"], collections=["x"]).token
    with Client(served.url, token=token) as reader:
        assert list(reader.list()) == []
        with pytest.raises(NotFoundError):
            reader.get(elsewhere.id)


async def test_the_async_client_takes_a_token_too(served: Served, tones: dict[str, Path]) -> None:
    token = token_for(served, "tok-async", ["upload", "list"], collections=["x"])
    async with AsyncClient(served.url, token=token) as browser:
        obj = await browser.upload(tones["wav"], collection="x")
        assert [o.id async for o in browser.list(collection="x")] == [obj.id]
        with pytest.raises(PermissionDeniedError) as denied:
            await browser.get(obj.id)
        assert denied.value.message == "This client token has no 'read' scope."
        with pytest.raises(PermissionDeniedError):
            await browser.list_page(collection="y")


def test_the_token_comes_from_the_environment_before_a_key(
    served: Served, tones: dict[str, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    token = token_for(served, "tok-env", ["list"])
    monkeypatch.setenv("AUDIOSTORE_KEY", served.new_key("tok-env-key-owner"))
    monkeypatch.setenv("AUDIOSTORE_TOKEN", token)
    with Client(served.url) as c:
        assert c.list_page().items == []
        with pytest.raises(PermissionDeniedError):  # it is the token, not the key
            c.upload(tones["wav"])
    monkeypatch.delenv("AUDIOSTORE_TOKEN")
    with Client(served.url) as c:
        assert c.upload(tones["wav"]).owner == "tok-env-key-owner"
    with pytest.raises(ValueError, match="not both"):
        Client(served.url, api_key="as_x", token=token)


def test_the_cli_acts_with_a_token(served_on: Served, tones: dict[str, Path], tmp_path: Path) -> None:
    served = served_on
    token = token_for(served, "tok-cli", ["upload", "read", "list"], collections=["x"])
    up = served.cli("upload", str(tones["wav"]), "--collection", "x", "--json", "--token", token,
                    env={"AUDIOSTORE_KEY": ""})
    assert up.returncode == 0, up.stderr
    obj = json.loads(up.stdout)[0]
    assert obj["owner"] == "tok-cli"
    listed = served.cli("ls", "--collection", "x", "--json", env={"AUDIOSTORE_TOKEN": token})
    assert listed.returncode == 0 and [o["id"] for o in json.loads(listed.stdout)] == [obj["id"]]
    got = served.cli("download", obj["id"], "-o", str(tmp_path / "t.wav"), "--no-progress",
                     "--token", token)
    assert got.returncode == 0, got.stderr
    assert sha256_of(tmp_path / "t.wav") == obj["sha256"]


def test_the_cli_names_the_token_it_was_refused_with(served: Served) -> None:
    token = token_for(served, "tok-cli-refused", ["read", "list"], collections=["x"])
    rm = served.cli("rm", "no-such-id", "--token", token)
    assert rm.returncode == 4
    assert "scope_denied: This client token has no 'delete' scope (the token given with --token)" in rm.stderr
    other = served.cli("ls", "--collection", "y", env={"AUDIOSTORE_TOKEN": token})
    assert other.returncode == 4 and "(the token in AUDIOSTORE_TOKEN)" in other.stderr
    both = served.cli("ls", "--key", served.admin_key, "--token", token)
    assert both.returncode == 2 and "not both" in both.stderr
