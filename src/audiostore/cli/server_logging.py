"""What `audiostore serve` prints: granian's lines, ours, and the access log, on stdout.

Handed to granian as its `log_dictconfig`, so every worker process sets it up the same way.
Without it the service's own INFO lines (job counts, the catalogue mode) went nowhere and its
warnings came out bare through Python's last-resort handler, while granian printed a line
for every client that hung up.
"""

from __future__ import annotations

import copy
import logging
from typing import Any

from granian.log import LOGGING_CONFIG

__all__ = ["ACCESS_LOGGER", "DropClientDisconnects", "server_log_config"]

ACCESS_LOGGER = "audiostore.access"
# granian (its Rust side, logger `_granian.asgi.io`) reports each connection the client
# closed before the answer was all sent, at INFO: a player seeking, ffmpeg probing, a
# download cancelled. All normal, and 23 lines for a few seeks; the access log says 206 with
# the bytes sent instead. Worse transport errors come at WARNING and above and stay.
_DISCONNECT_PREFIX = "ASGI transport error"


class DropClientDisconnects(logging.Filter):
    """Drops granian's INFO line for a client that hung up; keeps everything else."""

    def filter(self, record: logging.LogRecord) -> bool:
        return not (record.levelno < logging.WARNING
                    and record.name.startswith("_granian")
                    and record.getMessage().startswith(_DISCONNECT_PREFIX))


def server_log_config() -> dict[str, Any]:
    """granian's own logging setup, plus: its disconnect lines dropped, the `audiostore`
    loggers at INFO in the same `[LEVEL] message` form, and the access log (one line per
    request, timestamped; off with AUDIOSTORE_ACCESS_LOG=false, see `http.access_log`)."""
    config: dict[str, Any] = copy.deepcopy(LOGGING_CONFIG)
    config["filters"] = {"client_disconnects": {"()": f"{__name__}.DropClientDisconnects"}}
    console = config["handlers"]["console"]
    console["filters"] = ["client_disconnects"]
    # Timestamped lines, written a moment late in one go (access_lines.py says why).
    config["handlers"]["audiostore_access"] = {
        "class": "audiostore.access_lines.AccessLineHandler", "stream": "ext://sys.stdout",
    }
    config["loggers"]["audiostore"] = {"handlers": ["console"], "level": "INFO", "propagate": False}
    config["loggers"][ACCESS_LOGGER] = {
        "handlers": ["audiostore_access"], "level": "INFO", "propagate": False,
    }
    return config
