"""How the CLI writes durations and sizes: `26:40` (`1:02:03` past an hour, `0:03.5` under a
minute) and binary units
(B, KiB, MiB, GiB) everywhere, the progress bars included, so one file never reads as
441.1 kB in the bar and 430.7 KiB in the result."""

from __future__ import annotations

from pydantic import ByteSize, TypeAdapter, ValidationError
from rich.progress import DownloadColumn, ProgressColumn, Task
from rich.text import Text

_BINARY_UNITS = ("B", "KiB", "MiB", "GiB", "TiB")


def human_duration(seconds: float) -> str:
    """`26:40`, or `1:02:03` from an hour on; under a minute to the tenth (`0:03.5`), since a
    short clip rounded to whole seconds says little (`0:00` for a 0.4 s beep)."""
    if round(seconds, 1) < 60:
        return f"0:{seconds:04.1f}"
    total = round(seconds)
    hours, rest = divmod(total, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"


_BYTE_SIZE = TypeAdapter(ByteSize)


def parse_size(text: str | int) -> int:
    """`8MiB`, `4 MB`, `512k` or plain bytes (pydantic's `ByteSize`: MiB is 2**20, MB 10**6);
    a typer option's parser (which gets the int default too), so a bad value is a usage
    error naming the option."""
    import typer

    try:
        return int(_BYTE_SIZE.validate_python(text.strip() if isinstance(text, str) else text))
    except ValidationError as exc:
        raise typer.BadParameter(f"{text!r} is not a size (e.g. 8MiB, 4MB, 1048576).") from exc


def human_size(n: float) -> str:
    """Bytes in binary units: `512 B`, `430.7 KiB`, `1.2 GiB`."""
    size = float(n)
    for unit in _BINARY_UNITS[:-1]:
        if size < 1024:
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1024
    return f"{size:.1f} {_BINARY_UNITS[-1]}"


class BinaryTransferSpeedColumn(ProgressColumn):
    """Rich's TransferSpeedColumn, in the binary units the rest of the CLI uses (Rich's own
    speed column knows only decimal kB/MB)."""

    def render(self, task: Task) -> Text:
        speed = task.finished_speed or task.speed
        if speed is None:
            return Text("?", style="progress.data.speed")
        return Text(f"{human_size(speed)}/s", style="progress.data.speed")


def binary_download_column() -> DownloadColumn:
    """Rich's done/total column in KiB/MiB."""
    return DownloadColumn(binary_units=True)


__all__ = ["BinaryTransferSpeedColumn", "binary_download_column", "human_duration", "human_size"]
