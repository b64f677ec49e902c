"""Stream an upload's body (multipart or raw) into a `StagedUpload`, never holding it whole.

Multipart is parsed with python-multipart's push parser as chunks arrive: the `file` part's
bytes go straight to the staging file; the small text fields are collected (capped).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import TYPE_CHECKING

from python_multipart.multipart import MultipartParser, parse_options_header
from starlette.requests import ClientDisconnect

from ..errors import AudiostoreError, BadRequest, PayloadTooLarge, UnsupportedMediaType
from ..service import StagedUpload

if TYPE_CHECKING:  # declared for type checkers only
    from python_multipart.multipart import MultipartCallbacks

MAX_FIELD_BYTES = 64 * 1024
MAX_FORM_TEXT_BYTES = 256 * 1024  # all text fields together: they are held in memory
MAX_FORM_PARTS = 64
MULTIPART_OVERHEAD = 64 * 1024
RAW_TYPES = ("audio/", "application/octet-stream", "video/webm", "video/mp4", "application/ogg")


class _MultipartSink:
    def __init__(self, staged: StagedUpload) -> None:
        self.staged = staged
        self.fields = staged.form_fields  # shared: the fields so far name the early put's key
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
                self.staged.filename = filename.decode("utf-8", "replace").replace("\\", "/").rsplit("/", 1)[-1]
            ctype = self._headers.get(b"content-type")
            if ctype:
                self.staged.declared_content_type = ctype.decode("latin-1")

    def _part_data(self, data: bytes, start: int, end: int) -> None:
        if self._is_file:
            self.staged.write(data[start:end])
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


async def read_upload(
    content_type: str | None,
    content_length: str | None,
    body: AsyncIterator[bytes],
    staged: StagedUpload,
) -> dict[str, str]:
    """Fill `staged` from the request body; return the form's text fields (empty for raw)."""
    if content_length is not None:
        try:
            declared = int(content_length)
        except ValueError as exc:
            raise BadRequest("Content-Length is not a number.") from exc
        if declared > staged.limit + MULTIPART_OVERHEAD:
            raise PayloadTooLarge(
                f"The upload ({declared} bytes) is larger than {staged.limit} bytes "
                f"({staged.limit_source})."
            )
    mime, options = parse_options_header(content_type or "")
    mime_s = mime.decode("latin-1").lower()
    if mime_s == "multipart/form-data":
        boundary = options.get(b"boundary")
        if not boundary:
            raise BadRequest("multipart/form-data without a boundary.")
        sink = _MultipartSink(staged)
        parser = MultipartParser(boundary, sink.callbacks())
        try:
            async for chunk in body:
                parser.write(chunk)
                await staged.pump()
            parser.finalize()
        except (AudiostoreError, ClientDisconnect):  # ours (a full disk stays a 507), or a cut body
            raise
        except Exception as exc:  # the parser's own errors: malformed multipart
            raise BadRequest(f"The multipart body is malformed: {exc}") from exc
        if not sink.ended:  # python-multipart's finalize() does not check this itself
            raise BadRequest("The multipart body ends before its closing boundary (--BOUNDARY--).")
        await staged.pump(final=True)
        if not sink.saw_file:
            raise BadRequest("The multipart body has no 'file' field.")
        return sink.fields
    if not mime_s.startswith(RAW_TYPES):
        raise UnsupportedMediaType(
            "Send multipart/form-data with a 'file' field, or the raw audio with an audio/* "
            "Content-Type."
        )
    staged.declared_content_type = mime_s
    async for chunk in body:
        staged.write(chunk)
        await staged.pump()
    await staged.pump(final=True)
    return {}
