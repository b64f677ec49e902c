"""tus checksum extension: `Upload-Checksum: <algorithm> <base64 digest>` of one PATCH's body.

sha1 (which the protocol requires), sha256 and md5 (what browsers' tus clients offer).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
from dataclasses import dataclass
from typing import TYPE_CHECKING

from ..errors import UnsupportedChecksum

if TYPE_CHECKING:
    from hashlib import _Hash

ALGORITHMS = ("sha1", "sha256", "md5")


@dataclass(frozen=True, slots=True)
class ExpectedChecksum:
    algorithm: str
    digest: bytes

    def hasher(self) -> _Hash:
        return hashlib.new(self.algorithm, usedforsecurity=False)

    def matches(self, hasher: _Hash) -> bool:
        return hmac.compare_digest(hasher.digest(), self.digest)


def parse_upload_checksum(header: str | None) -> ExpectedChecksum | None:
    """The checksum a PATCH announces; 400 `unsupported_checksum` for another algorithm or a
    malformed value."""
    if header is None:
        return None
    algorithm, _, encoded = header.strip().partition(" ")
    if algorithm not in ALGORITHMS:
        raise UnsupportedChecksum()
    try:
        digest = base64.b64decode(encoded.strip(), validate=True)
    except (binascii.Error, ValueError) as exc:
        raise UnsupportedChecksum("Upload-Checksum's digest is not Base64.") from exc
    if len(digest) != hashlib.new(algorithm, usedforsecurity=False).digest_size:
        raise UnsupportedChecksum(f"Upload-Checksum's {algorithm} digest has the wrong length.")
    return ExpectedChecksum(algorithm, digest)
