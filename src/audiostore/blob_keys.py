"""Blob key layout and the one place where names and key parts are checked.

Everything that ends up in a blob key, or is stored as a user-visible name, passes through
`check_name` / `check_key_part` here. A rejected value raises `InvalidName` (400); nothing is
silently rewritten, so a client never finds its object under a key it did not expect.
"""

from __future__ import annotations

import re
import string
from datetime import datetime

from .errors import InvalidName

_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
_KEY_PART = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._@=+-]{0,127}$")
_TEMPLATE_FIELDS = {"owner", "collection", "date", "id", "ext", "name"}
MAX_NAME_LENGTH = 255


def check_name(name: str) -> str:
    """A display name: any text without control characters, path separators or `..`."""
    if not name or len(name) > MAX_NAME_LENGTH:
        raise InvalidName(f"A name must be 1 to {MAX_NAME_LENGTH} characters.")
    if _CONTROL.search(name) or "/" in name or "\\" in name or ".." in name:
        raise InvalidName(f"Name {name!r} contains '..', a slash or a control character.")
    return name


def check_key_part(value: str, *, what: str) -> str:
    """An owner or collection: letters, digits and `._@=+-`, no leading dot, <= 128 chars."""
    if not _KEY_PART.match(value) or ".." in value:
        raise InvalidName(
            f"{what} {value!r} may only hold letters, digits and '._@=+-', must start with a "
            "letter or digit and may not contain '..'."
        )
    return value


def _name_slug(name: str) -> str:
    stem = name.rsplit(".", 1)[0] if "." in name else name
    slug = re.sub(r"[^A-Za-z0-9._-]+", "-", stem).strip("-.")
    return slug[:80] or "audio"


def check_template(template: str) -> str:
    """Fail early (at start) if the key template names an unknown field or escapes its root."""
    fields = {f for _, f, _, _ in string.Formatter().parse(template) if f}
    unknown = fields - _TEMPLATE_FIELDS
    if unknown:
        raise InvalidName(
            f"AUDIOSTORE_KEY_TEMPLATE uses unknown fields {sorted(unknown)}; "
            f"allowed: {sorted(_TEMPLATE_FIELDS)}."
        )
    if "id" not in fields:
        raise InvalidName("AUDIOSTORE_KEY_TEMPLATE must contain {id} so keys are unique.")
    if template.startswith("/") or ".." in template or _CONTROL.search(template):
        raise InvalidName("AUDIOSTORE_KEY_TEMPLATE may not start with '/' or contain '..'.")
    return template


def build_blob_key(
    template: str,
    *,
    owner: str,
    collection: str,
    audio_id: str,
    ext: str,
    created_at: datetime,
    name: str | None = None,
) -> str:
    """The blob key of an object's original bytes, from the configured template."""
    key = template.format(
        owner=check_key_part(owner, what="owner"),
        collection=check_key_part(collection, what="collection"),
        date=created_at.strftime("%Y-%m-%d"),
        id=audio_id,
        ext=ext,
        name=_name_slug(name or "audio"),
    )
    # Defence in depth: the parts above cannot produce these, but a template could.
    segments = key.split("/")
    if any(seg in ("", ".", "..") for seg in segments) or _CONTROL.search(key):
        raise InvalidName(f"Key {key!r} built from the template is not a safe path.")
    return key


def rendition_key(original_key: str, variant: str, ext: str) -> str:
    """Key of a derived blob (rendition, waveform) kept beside the original."""
    base = original_key.rsplit(".", 1)[0]
    if not re.fullmatch(r"[a-z0-9_-]+", variant):
        raise InvalidName(f"Bad rendition variant {variant!r}.")
    return f"{base}.{variant}.{ext}"
