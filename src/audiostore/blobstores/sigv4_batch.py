"""SigV4 presigned GET URLs for a batch of keys, made from obstore's URL for the first key.

obstore signs each URL from scratch: the day's signing key (four HMACs), the URL built and
parsed back, the canonical request formatted: about 12 us of CPU a URL, a batch of 1000 or
not. Every URL of a batch shares all of that but its path; what differs is one SHA-256 and one
HMAC (about 2 us). So obstore signs the first key, and the rest are signed here with the same
time, lifetime, credential scope and host, after checking that this code reproduces obstore's
signature of the first key exactly. If it does not (an addressing or a query this code does
not know), or a key needs escaping in a path, the batch goes back to obstore whole: the URLs
are always the ones obstore would make.

The signing (AWS Signature Version 4, query-string authentication):
canonical request = method, path, sorted query without the signature, `host:` header, the
signed header names, `UNSIGNED-PAYLOAD`; string to sign = algorithm, time, scope, SHA-256 of
the canonical request; signature = HMAC-SHA256 under the key derived from the secret, the
date, the region and the service.
"""

from __future__ import annotations

import hashlib
import hmac
import re
from collections.abc import Callable, Sequence
from urllib.parse import unquote, urlsplit

from ..hmac_sha256 import HmacSha256

__all__ = ["sign_like_first"]

# A key whose path needs no escaping, with no `.`/`..` segments (a URL parser folds those):
# its URL path is the prefix plus the key as it is, so the canonical path needs no encoder.
_PLAIN_KEY = re.compile(r"(?!\.{1,2}(?:/|$))[A-Za-z0-9_~-][A-Za-z0-9._~-]*"
                        r"(?:/(?!\.{1,2}(?:/|$))[A-Za-z0-9._~-]+)*")
_QUERY_ORDER = ("X-Amz-Algorithm", "X-Amz-Credential", "X-Amz-Date", "X-Amz-Expires",
                "X-Amz-SignedHeaders", "X-Amz-Signature")
_ALGORITHM = "AWS4-HMAC-SHA256"


def _signing_key(secret: str, date: str, region: str, service: str) -> bytes:
    key = hmac.digest(f"AWS4{secret}".encode(), date.encode(), "sha256")
    for part in (region, service, "aws4_request"):
        key = hmac.digest(key, part.encode(), "sha256")
    return key


def sign_like_first(
    keys: Sequence[str], secret: str, sign_one: Callable[[str], str],
) -> list[str] | None:
    """Presigned GET URLs for `keys`, the first made by `sign_one` (obstore) and the rest here
    to match it; None when that cannot be guaranteed (the caller then lets obstore sign all)."""
    if not keys or not all(_PLAIN_KEY.fullmatch(k) for k in keys):
        return None
    first = sign_one(keys[0])
    head, sep, query = first.partition("?")
    if not sep or not head.endswith("/" + keys[0]):
        return None
    pairs = [p.partition("=") for p in query.split("&")]
    if tuple(p[0] for p in pairs) != _QUERY_ORDER:
        return None  # a session token, another header signed, another order: not ours to copy
    values = {k: v for k, _, v in pairs}
    if values["X-Amz-Algorithm"] != _ALGORITHM or values["X-Amz-SignedHeaders"] != "host":
        return None
    scope_parts = unquote(values["X-Amz-Credential"]).split("/")
    if len(scope_parts) != 5 or scope_parts[4] != "aws4_request":
        return None
    _, date, region, service, _ = scope_parts
    when = values["X-Amz-Date"]
    prefix = head[: len(head) - len(keys[0])]
    parts = urlsplit(prefix)
    host, path_prefix = parts.netloc, parts.path
    if not host or "@" in host:
        return None
    unsigned = query[: query.rindex("&X-Amz-Signature=")]
    mac = HmacSha256(_signing_key(secret, date, region, service))
    sha256 = hashlib.sha256
    # The canonical request around the path, and the string to sign before its hash.
    after_path = f"\n{unsigned}\nhost:{host}\n\nhost\nUNSIGNED-PAYLOAD".encode()
    before_hash = f"{_ALGORITHM}\n{when}\n{date}/{region}/{service}/aws4_request\n"

    def signature(key: str) -> str:
        canonical = b"GET\n" + f"{path_prefix}{key}".encode() + after_path
        return mac.hexdigest(f"{before_hash}{sha256(canonical).hexdigest()}".encode())

    if signature(keys[0]) != values["X-Amz-Signature"]:
        return None
    url_tail = f"?{unsigned}&X-Amz-Signature="
    return [first, *(f"{prefix}{key}{url_tail}{signature(key)}" for key in keys[1:])]
