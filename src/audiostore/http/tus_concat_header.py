"""tus `Upload-Concat`: `partial`, or `final;` and the space-separated URLs of the partial
uploads, in order. A URL may be absolute (tus-js-client resolves each `Location` against its
endpoint) or a path; either way its path must be `/v1/uploads/{id}` of this service. The
scheme and host are not trusted to mean anything: what a final upload may use is decided by
the catalogue (the same owner's complete partial uploads), never by the URL."""

from __future__ import annotations

from urllib.parse import urlsplit

from ..catalog.tus_uploads import FINAL, PARTIAL
from ..errors import UploadConcatInvalid
from ..service.tus_concatenation import PartialRef
from ..service.tus_parts import UPLOAD_ID

UPLOADS_PATH = "/v1/uploads/"
MAX_HEADER_CHARS = 64 * 1024


def parse_upload_concat(header: str) -> tuple[str, list[PartialRef]]:
    """(PARTIAL, []) or (FINAL, the partials named); 400 `upload_concat_invalid` otherwise."""
    value = header.strip()
    if value == PARTIAL:
        return PARTIAL, []
    if len(value) > MAX_HEADER_CHARS:
        raise UploadConcatInvalid(f"Upload-Concat is longer than {MAX_HEADER_CHARS} characters.")
    kind, sep, urls = value.partition(";")
    if kind.strip() != FINAL or not sep:
        raise UploadConcatInvalid()
    refs: list[PartialRef] = []
    for url in urls.split():
        try:
            parts = urlsplit(url)
        except ValueError as exc:
            raise UploadConcatInvalid(f"{url[:200]!r} is not a URL.") from exc
        upload_id = parts.path[len(UPLOADS_PATH):] if parts.path.startswith(UPLOADS_PATH) else ""
        if parts.scheme not in ("", "http", "https") or not UPLOAD_ID.fullmatch(upload_id):
            raise UploadConcatInvalid(
                f"{url[:200]!r} is not the URL of an upload of this service ({UPLOADS_PATH}{{id}})."
            )
        refs.append(PartialRef(upload_id=upload_id, url=url))
    if not refs:
        raise UploadConcatInvalid("Upload-Concat: final; needs the URLs of its partial uploads.")
    return FINAL, refs
