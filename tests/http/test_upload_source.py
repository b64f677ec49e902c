"""The HTTP body as an `UploadSource`: what it refuses before reading, and which fields are
known at the file's head (they name an early put's key) and which only at the end."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from audiostore.errors import BadRequest, PayloadTooLarge, UnsupportedMediaType, ValidationFailed
from audiostore.http.upload_body import HttpUploadSource

BOUNDARY = "xyzzy"


def form(*parts: tuple[str, bytes, str | None]) -> bytes:
    out = b""
    for name, value, filename in parts:
        disposition = f'form-data; name="{name}"' + (f'; filename="{filename}"' if filename else "")
        out += f"--{BOUNDARY}\r\nContent-Disposition: {disposition}\r\n\r\n".encode() + value + b"\r\n"
    return out + f"--{BOUNDARY}--\r\n".encode()


async def in_pieces(body: bytes, size: int = 7) -> AsyncIterator[bytes]:
    for i in range(0, len(body), size):
        yield body[i : i + size]


def source(body: bytes, *, content_type: str | None = None, length: str | None = None,
           query: dict[str, str] | None = None, limit: int = 1 << 20) -> HttpUploadSource:
    return HttpUploadSource(
        content_type=content_type or f"multipart/form-data; boundary={BOUNDARY}",
        content_length=length, body=in_pieces(body), query=query or {}, limit=limit,
    )


@pytest.mark.parametrize(("length", "content_type", "error"), [
    ("not a number", None, BadRequest),
    (str(2 << 20), None, PayloadTooLarge),
    (None, "text/plain", UnsupportedMediaType),
    (None, "multipart/form-data", BadRequest),  # no boundary
])
def test_refused_before_a_byte_is_read(length: str | None, content_type: str | None, error: type) -> None:
    with pytest.raises(error):
        source(b"", content_type=content_type, length=length)


async def test_fields_before_the_file_are_known_at_its_head_and_the_rest_at_the_end() -> None:
    body = form(("collection", b"early", None), ("file", b"RIFF-bytes", "dir\\take.wav"),
                ("name", b"late.wav", None))
    src = source(body, query={"collection": "from-query", "ttl_seconds": "60"})
    got = b""
    async for chunk in src.chunks():
        if not got:  # the first of the file's bytes: what an early put would be named by
            head = src.head_fields()
            assert head is not None and head.collection == "early" and head.name is None
            assert src.filename == "take.wav"  # the path a browser may send is dropped
        got += chunk
    assert got == b"RIFF-bytes"
    fields = src.fields()
    assert (fields.collection, fields.name, fields.ttl_seconds) == ("early", "late.wav", 60)


async def test_an_unknown_field_is_refused_at_the_end() -> None:
    src = source(form(("file", b"x", "a.wav"), ("recordingId", b"7", None)))
    assert [c async for c in src.chunks()] == [b"x"]
    with pytest.raises(ValidationFailed, match="recordingId"):
        src.fields()


async def test_a_form_without_its_closing_boundary_or_file_is_refused() -> None:
    cut = source(form(("file", b"abc", "a.wav")).removesuffix(f"--{BOUNDARY}--\r\n".encode()))
    with pytest.raises(BadRequest, match="closing boundary"):
        _ = [c async for c in cut.chunks()]
    no_file = source(form(("name", b"a.wav", None)))
    with pytest.raises(BadRequest, match="no 'file'"):
        _ = [c async for c in no_file.chunks()]


async def test_a_raw_body_is_its_own_file() -> None:
    src = source(b"ID3 raw bytes", content_type="audio/mpeg", query={"name": "q.mp3"})
    assert b"".join([c async for c in src.chunks()]) == b"ID3 raw bytes"
    assert src.declared_content_type == "audio/mpeg" and src.filename is None
    assert src.fields().name == "q.mp3"
