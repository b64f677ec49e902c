"""How listings print: a compact table on a terminal, plain lines in a pipe, ids whole.

A Rich table cuts a cell that does not fit to `01a230...`, which cannot be pasted into `url`,
`rm` or `keys revoke`. Here an id column never shrinks, other values wrap instead of ending
in `...`, a narrow terminal drops the least needed columns first, and a pipe gets one
tab-separated line per item with every field.
"""

from __future__ import annotations

from rich.console import Console
from rich.table import Column, Table


def plain_output() -> bool:
    """True when stdout is not a terminal (a pipe, a file): print tab-separated lines, not a
    table that would cut or wrap fields to a width nobody reads."""
    return not Console().is_terminal


def id_column(header: str = "id") -> Column:
    """An id is never cut (`01a230...` cannot be pasted into `url` or `rm`): the other
    columns wrap first."""
    return Column(header, no_wrap=True, min_width=36)


def listing(*columns: str | Column) -> Table:
    """A compact table (no frame, two spaces between columns) whose values wrap, never end
    in `...`: what is shown can be copied whole."""
    cols = [c if isinstance(c, Column) else Column(c, overflow="fold") for c in columns]
    return Table(*cols, box=None, pad_edge=False, padding=(0, 1), header_style="bold")


def fitting(fields: list[str], rows: list[dict[str, str]], width: int, least_needed: list[str]) -> list[str]:
    """`fields` less the least needed ones, dropped in that order until the table fits
    `width` (a narrow terminal keeps id, name, duration rather than wrap every column)."""
    def need(shown: list[str]) -> int:
        return sum(max(len(f), *(len(r[f]) for r in rows)) for f in shown) + 2 * (len(shown) - 1)

    shown = list(fields)
    for name in least_needed:
        if need(shown) <= width:
            break
        if name in shown:
            shown.remove(name)
    return shown


__all__ = ["fitting", "id_column", "listing", "plain_output"]
