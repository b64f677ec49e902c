"""Service-signed URLs: an expiry and an HMAC over exactly what the URL may open.

The signed message names the subject (an audio id), the expiry and the rendition parameters
in one canonical, escaped encoding, so a signature never unlocks another object or another
rendition. Several secrets may be configured: the first signs, every one verifies (rotation).
Verification is constant-time.

Canonical means one spelling for one meaning: every key and value percent-escaped (all but
RFC 3986's unreserved characters, upper-case hex), pairs sorted by key, each key once. The URL
carries exactly that spelling, and `parse_signed_query` refuses any other (a key folded into
another with `%3D`/`%26`, a parameter twice, `+` for a space, lower-case hex): what is served
is then always what was signed, whatever a proxy or a cache in between makes of the query.
Message version `v2`; URLs signed with `v1` (unescaped) no longer verify.
"""

from __future__ import annotations

import base64
import binascii
import hmac
import re
import secrets
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote, unquote

from .errors import SignatureExpired, SignatureInvalid
from .hmac_sha256 import HmacSha256

EXPIRES_PARAM = "expires"
SIGNATURE_PARAM = "signature"


def load_or_create_secret(path: Path) -> str:
    """The secret kept in the data dir, created (mode 0600) on first use."""
    if path.exists():
        return path.read_text().strip()
    path.parent.mkdir(parents=True, exist_ok=True)
    secret = secrets.token_urlsafe(48)
    fd = path.open("x")
    try:
        path.chmod(0o600)
        fd.write(secret + "\n")
    finally:
        fd.close()
    return secret


_UNRESERVED = re.compile(r"[A-Za-z0-9._~-]*")  # RFC 3986: what `quote` leaves as it is
_URLSAFE = bytes.maketrans(b"+/", b"-_")  # base64 -> base64url (RFC 4648 section 5)


def _escape(text: str) -> str:
    # Ids, expiries and signatures are all unreserved: skip `quote`, a few microseconds a call.
    return text if _UNRESERVED.fullmatch(text) else quote(text, safe="")


def canonical_query(params: Mapping[str, str]) -> str:
    """`params` as the one query string a signature covers: escaped, sorted by key."""
    return "&".join(f"{_escape(k)}={_escape(params[k])}" for k in sorted(params))


def signed_query(params: Mapping[str, str], expires: int, signature: str) -> str:
    """The query string of a signed URL: the canonical parameters, then expiry and signature."""
    tail = f"{EXPIRES_PARAM}={expires}&{SIGNATURE_PARAM}={_escape(signature)}"
    return f"{canonical_query(params)}&{tail}" if params else tail


@dataclass(frozen=True, slots=True)
class SignedQuery:
    params: dict[str, str]
    expires: str
    signature: str


def parse_signed_query(raw_query: str) -> SignedQuery:
    """Split a signed URL's raw query string; `SignatureInvalid` unless it is canonical.

    Order is free (reordering changes no meaning); every other difference from
    `canonical_query`'s spelling is refused, because it is how a URL is made to mean one thing
    to the signature and another to whatever reads the parameters.
    """
    values: dict[str, str] = {}
    for pair in raw_query.split("&") if raw_query else []:
        raw_key, eq, raw_value = pair.partition("=")
        key, value = unquote(raw_key), unquote(raw_value)  # bad UTF-8 -> U+FFFD: refused below
        if not eq or key in values or _escape(key) != raw_key or _escape(value) != raw_value:
            raise SignatureInvalid("The signed URL's query is not in its signed form.")
        values[key] = value
    expires = values.pop(EXPIRES_PARAM, "")
    signature = values.pop(SIGNATURE_PARAM, "")
    return SignedQuery(values, expires, signature)


def _message(subject: str, expires: int, params: Mapping[str, str]) -> bytes:
    return f"v2\n{_escape(subject)}\n{expires}\n{canonical_query(params)}".encode()


def _urlsafe(mac: bytes) -> str:
    return base64.urlsafe_b64encode(mac).rstrip(b"=").decode()


class UrlSigner:
    def __init__(self, secrets_: Sequence[str]) -> None:
        if not secrets_:
            raise ValueError("at least one signing secret is needed")
        self._keys = [HmacSha256(s.encode()) for s in secrets_]

    def sign(self, audio_id: str, expires: int, params: Mapping[str, str]) -> str:
        return _urlsafe(self._keys[0].digest(_message(audio_id, expires, params)))

    def sign_each(self, audio_ids: Sequence[str], expires: int) -> list[str]:
        """`sign(id, expires, {})` for each id: the same signatures, with the per-id work cut
        to the HMAC (a batch of 1000 URLs): ids checked for escaping at once, the shared part
        of the message made once, the base64 of all signatures encoded as one text."""
        digest = self._keys[0].digest
        tail = f"\n{expires}\n"
        if _UNRESERVED.fullmatch("".join(audio_ids)):  # ids that need no escaping: the usual
            messages = [f"v2\n{audio_id}{tail}".encode() for audio_id in audio_ids]
        else:
            messages = [f"v2\n{_escape(audio_id)}{tail}".encode() for audio_id in audio_ids]
        # b2a_base64 of 32 bytes is 43 characters, one `=` and a newline: join, make URL-safe
        # once, split on the padding.
        encoded = b"".join([binascii.b2a_base64(digest(m)) for m in messages])
        return encoded.translate(_URLSAFE).decode().split("=\n")[:-1]

    def verify(
        self, audio_id: str, expires: int, params: Mapping[str, str], signature: str, *, now: float
    ) -> None:
        """Raise `SignatureInvalid` or `SignatureExpired` unless the signature holds."""
        message = _message(audio_id, expires, params)
        given = signature.encode()
        ok = False
        for key in self._keys:  # check every key, so timing does not tell which one matched
            ok |= hmac.compare_digest(_urlsafe(key.digest(message)).encode(), given)
        if not ok:
            raise SignatureInvalid()
        if expires < now:
            raise SignatureExpired()
