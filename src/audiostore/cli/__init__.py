"""The `audiostore` command: serve and administer a service, or use one as a client."""

from __future__ import annotations

import sys

from ..stop_signal import PROCESS_STOP

if sys.argv[1:2] in (["worker"], ["serve"]):
    # Before the imports below, which take seconds on a loaded machine: a SIGTERM while they
    # run is a clean stop too (`stop_signal`). For `serve`, a Ctrl-C during its start was
    # lost (the server came up anyway, port held); now it is kept and handed to granian.
    PROCESS_STOP.install()

import typer  # noqa: E402

from . import client_commands, job_commands, server_commands, tts_command  # noqa: E402
from . import doctor_command, help_format, queue_commands, token_commands  # noqa: E402
from ..process_exit import end_process, exit_code_of  # noqa: E402

help_format.install()

app = typer.Typer(
    name="audiostore",
    help="Audio storage and delivery: run the service, manage keys, upload and fetch audio.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
server_commands.register(app)
doctor_command.register(app)
job_commands.register(app)
client_commands.register(app)
tts_command.register(app)
queue_commands.register(app)
token_commands.register(app)


def main() -> None:
    try:
        app()
    except SystemExit as exc:
        end_process(exit_code_of(exc))
    end_process(0)


__all__ = ["app", "main"]
