"""--help without a type beside flags.

Typer 0.29's rich help prints a type column for every option, so a flag such as `--json`
(or `--help` itself) reads `--json <bool>` as if it took a value. A flag takes none: its
type is left out, every other option keeps its own (`--ttl <int>`). Typer has no setting
for this, hence the one override, made once at import.
"""

from __future__ import annotations

from typing import Any

from typer.core import TyperOption

_typed = TyperOption.display_type_rich


def _type_unless_flag(self: TyperOption, ctx: Any) -> Any:
    return None if self.is_flag else _typed(self, ctx)


def install() -> None:
    TyperOption.display_type_rich = _type_unless_flag  # type: ignore[method-assign]  # the one hook Typer offers


__all__ = ["install"]
