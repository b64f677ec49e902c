"""The `audiostore` command: serve and administer a service, or use one as a client."""

from __future__ import annotations

import typer

from . import client_commands, job_commands, server_commands, tts_command
from . import doctor_command, queue_commands
from ..process_exit import end_process, exit_code_of

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


def main() -> None:
    try:
        app()
    except SystemExit as exc:
        end_process(exit_code_of(exc))
    end_process(0)


__all__ = ["app", "main"]
