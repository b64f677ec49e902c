"""An upload's HTTP body (multipart or raw) as an `UploadSource`, never held whole.

Multipart is parsed with python-multipart's push parser as chunks arrive: the `file` part's
bytes are handed on to `Ingest` as they come; the small text fields are collected (capped).
The upload's fields are the query string's, overridden by the form's.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping
from datetime import datetime
from typing import TYPE_CHECKING

from python_multipart.multipart import MultipartParser, parse_options_header
from starlette.requests import ClientDisconnect

from ..errors import AudiostoreError, BadRequest, PayloadTooLarge, UnsupportedMediaType, ValidationFailed
from ..service import UploadFields, parse_metadata

if TYPE_CHECKING:  # declared for type checkers only
    from python_multipart.multipart import MultipartCallbacks

MAX_FIELD_BYTES = 64 * 1024
MAX_FORM_TEXT_BYTES = 256 * 1024  # all text fields together: they are held in memory
MAX_FORM_PARTS = 64
MULTIPART_OVERHEAD = 64 * 1024
RAW_TYPES = ("audio/", "application/octet-stream", "video/webm", "video/mp4", "application/ogg")
UPLOAD_FIELDS = ("name", "collection", "ttl_seconds", "expires_at", "metadata", "text", "voice_id", "owner")


def _int_field(values: Mapping[str, str], name: str) -> int | None:
    raw = values.get(name)
    if raw in (None, ""):
        return None
    try:
        return int(raw)
    except ValueError as exc:
        raise ValidationFailed(f"{name} must be an integer.") from exc


def time_field(values: Mapping[str, str], name: str) -> datetime | None:
    """An ISO 8601 time from a form or query field (None when absent or empty)."""
    raw = values.get(name)
    if raw in (None, ""):
        return None
    try:
        return datetime.fromisoformat(raw.replace("Z", "+00:00"))
    except ValueError as exc:
        raise ValidationFailed(f"{name} must be an ISO 8601 time.") from exc


def refuse_unknown_fields(form_fields: Mapping[str, str]) -> None:
    """A form field the upload does not take is a 422, not silently dropped: a client that
    sends its own `recordingId` must learn it was not kept."""
    unknown = sorted(set(form_fields) - set(UPLOAD_FIELDS))
    if unknown:
        raise ValidationFailed(
            f"Unknown form field(s): {', '.join(unknown)}. An upload takes `file` and "
            f"{', '.join(UPLOAD_FIELDS)}; put facts of your own (ids, a project) in `metadata`."
        )


def upload_fields(values: Mapping[str, str]) -> UploadFields:
    return UploadFields(
        name=values.get("name") or None,
        collection=values.get("collection") or None,
        ttl_seconds=_int_field(values, "ttl_seconds"),
        expires_at=time_field(values, "expires_at"),
        metadata=parse_metadata(values.get("metadata")),
        text=values.get("text"),
        voice_id=values.get("voice_id"),
        owner=values.get("owner") or None,
    )


class _MultipartSink:
    def __init__(self) -> None:
        self.fields: dict[str, str] = {}  # as they arrive: those before the file name its key
        self.filename: str | None = None
        self.content_type: str | None = None
        self.file_data: list[bytes] = []  # the file's bytes since the last chunk was handed on
        self.saw_file = False
        self.ended = False  # the closing boundary was seen
        self._parts = 0
        self._text_bytes = 0
        self._header_field = b""
        self._header_value = b""
        self._headers: dict[bytes, bytes] = {}
        self._name: str | None = None
        self._is_file = False
        self._buf = bytearray()

    def callbacks(self) -> MultipartCallbacks:
        return {
            "on_part_begin": self._part_begin,
            "on_header_field": self._header_field_cb,
            "on_header_value": self._header_value_cb,
            "on_header_end": self._header_end,
            "on_headers_finished": self._headers_finished,
            "on_part_data": self._part_data,
            "on_part_end": self._part_end,
            "on_end": self._end,
        }

    def _part_begin(self) -> None:
        self._parts += 1
        if self._parts > MAX_FORM_PARTS:
            raise BadRequest(f"The multipart body has more than {MAX_FORM_PARTS} parts.")
        self._headers = {}
        self._name = None
        self._is_file = False
        self._buf = bytearray()

    def _header_field_cb(self, data: bytes, start: int, end: int) -> None:
        self._header_field += data[start:end]

    def _header_value_cb(self, data: bytes, start: int, end: int) -> None:
        self._header_value += data[start:end]

    def _header_end(self) -> None:
        self._headers[self._header_field.lower()] = self._header_value
        self._header_field = b""
        self._header_value = b""

    def _headers_finished(self) -> None:
        _, options = parse_options_header(self._headers.get(b"content-disposition", b""))
        self._name = options.get(b"name", b"").decode("utf-8", "replace")
        if self._name == "file":
            if self.saw_file:
                raise BadRequest("Send one file per upload.")
            self.saw_file = True
            self._is_file = True
            filename = options.get(b"filename")
            if filename:
                self.filename = filename.decode("utf-8", "replace").replace("\\", "/").rsplit("/", 1)[-1]
            ctype = self._headers.get(b"content-type")
            if ctype:
                self.content_type = ctype.decode("latin-1")

    def _part_data(self, data: bytes, start: int, end: int) -> None:
        if self._is_file:
            self.file_data.append(data[start:end])
            return
        self._buf += data[start:end]
        self._text_bytes += end - start
        if len(self._buf) > MAX_FIELD_BYTES:
            raise BadRequest(f"Form field {self._name!r} is larger than {MAX_FIELD_BYTES} bytes.")
        if self._text_bytes > MAX_FORM_TEXT_BYTES:
            raise BadRequest(f"The form's text fields hold more than {MAX_FORM_TEXT_BYTES} bytes.")

    def _end(self) -> None:
        self.ended = True

    def _part_end(self) -> None:
        if not self._is_file and self._name:
            try:
                self.fields[self._name] = self._buf.decode("utf-8")
            except UnicodeDecodeError as exc:
                raise BadRequest(f"Form field {self._name!r} is not UTF-8.") from exc


class HttpUploadSource:
    """The `UploadSource` of one upload request: a multipart form, or the raw bytes."""

    def __init__(
        self, *, content_type: str | None, content_length: str | None, body: AsyncIterator[bytes],
        query: Mapping[str, str], limit: int, limit_source: str = "AUDIOSTORE_MAX_UPLOAD_BYTES",
    ) -> None:
        """Refuse, before any byte is read, a body declared too large or of a type no upload has."""
        self.declared_length: int | None = None
        if content_length is not None:
            try:
                self.declared_length = int(content_length)
            except ValueError as exc:
                raise BadRequest("Content-Length is not a number.") from exc
            if self.declared_length > limit + MULTIPART_OVERHEAD:
                raise PayloadTooLarge(
                    f"The upload ({self.declared_length} bytes) is larger than {limit} bytes "
                    f"({limit_source})."
                )
        mime, options = parse_options_header(content_type or "")
        mime_s = mime.decode("latin-1").lower()
        self._boundary: bytes | None = None
        self._raw_type: str | None = None
        if mime_s == "multipart/form-data":
            self._boundary = options.get(b"boundary")
            if not self._boundary:
                raise BadRequest("multipart/form-data without a boundary.")
        elif mime_s.startswith(RAW_TYPES):
            self._raw_type = mime_s
        else:
            raise UnsupportedMediaType(
                "Send multipart/form-data with a 'file' field, or the raw audio with an audio/* "
                "Content-Type."
            )
        self._body = body
        self._query = {k: v for k, v in query.items() if k in UPLOAD_FIELDS}
        self._sink = _MultipartSink()

    @property
    def filename(self) -> str | None:
        return self._sink.filename

    @property
    def declared_content_type(self) -> str | None:
        return self._raw_type if self._boundary is None else self._sink.content_type

    def chunks(self) -> AsyncIterator[bytes]:
        return self._raw() if self._boundary is None else self._multipart(self._boundary)

    async def _raw(self) -> AsyncIterator[bytes]:
        async for chunk in self._body:
            yield chunk

    async def _multipart(self, boundary: bytes) -> AsyncIterator[bytes]:
        sink = self._sink
        parser = MultipartParser(boundary, sink.callbacks())
        try:
            async for chunk in self._body:
                parser.write(chunk)
                if sink.file_data:
                    data = b"".join(sink.file_data)
                    sink.file_data.clear()
                    yield data
            parser.finalize()
        except (AudiostoreError, ClientDisconnect):  # ours (a full disk stays a 507), or a cut body
            raise
        except Exception as exc:  # the parser's own errors: malformed multipart
            raise BadRequest(f"The multipart body is malformed: {exc}") from exc
        if not sink.ended:  # python-multipart's finalize() does not check this itself
            raise BadRequest("The multipart body ends before its closing boundary (--BOUNDARY--).")
        if sink.file_data:
            yield b"".join(sink.file_data)
            sink.file_data.clear()
        if not sink.saw_file:
            raise BadRequest("The multipart body has no 'file' field.")

    def _values(self) -> dict[str, str]:
        values = dict(self._query)
        values.update({k: v for k, v in self._sink.fields.items() if k in UPLOAD_FIELDS})
        return values

    def head_fields(self) -> UploadFields | None:
        try:
            return upload_fields(self._values())
        except AudiostoreError:
            return None

    def fields(self) -> UploadFields:
        refuse_unknown_fields(self._sink.fields)
        return upload_fields(self._values())
