"""Service-signed URLs: an expiry and an HMAC over exactly what the URL may open.

The signed message names the audio id, the expiry and the rendition parameters in canonical
order, so a signature never unlocks another object or another rendition. Several secrets may
be configured: the first signs, every one verifies (rotation). Verification is constant-time.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
from collections.abc import Mapping, Sequence
from pathlib import Path

from .errors import SignatureExpired, SignatureInvalid

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


def _message(audio_id: str, expires: int, params: Mapping[str, str]) -> bytes:
    canonical = "&".join(f"{k}={params[k]}" for k in sorted(params))
    return f"v1\n{audio_id}\n{expires}\n{canonical}".encode()


class UrlSigner:
    def __init__(self, secrets_: Sequence[str]) -> None:
        if not secrets_:
            raise ValueError("at least one signing secret is needed")
        self._keys = [s.encode() for s in secrets_]

    def _digest(self, key: bytes, message: bytes) -> str:
        mac = hmac.new(key, message, hashlib.sha256).digest()
        return base64.urlsafe_b64encode(mac).rstrip(b"=").decode()

    def sign(self, audio_id: str, expires: int, params: Mapping[str, str]) -> str:
        return self._digest(self._keys[0], _message(audio_id, expires, params))

    def verify(
        self, audio_id: str, expires: int, params: Mapping[str, str], signature: str, *, now: float
    ) -> None:
        """Raise `SignatureInvalid` or `SignatureExpired` unless the signature holds."""
        message = _message(audio_id, expires, params)
        given = signature.encode()
        ok = False
        for key in self._keys:  # check every key, so timing does not tell which one matched
            ok |= hmac.compare_digest(self._digest(key, message).encode(), given)
        if not ok:
            raise SignatureInvalid()
        if expires < now:
            raise SignatureExpired()
