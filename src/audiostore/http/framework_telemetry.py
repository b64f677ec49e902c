"""FastAPI's native OpenTelemetry: left on when this process has OpenTelemetry set up, off
otherwise.

FastAPI asks on every request whether a global tracer, meter or logger provider has been set
up since the last one: three provider look-ups, each reading the environment (a few
microseconds of every request, measured 3% of a health probe in process), for a question
whose answer does not change in a server no code is added to after start. OpenTelemetry
comes to an `audiostore serve` process, if at all, before the app is built:
`opentelemetry-instrument audiostore serve` sets the providers at interpreter start,
`OTEL_PYTHON_*_PROVIDER` names them, `FASTAPI_OTEL_AUTO_CONFIGURE=true` has FastAPI set them
up from the environment. With any of these, FastAPI's default (follow the providers) stays;
without, the three signals are off and the per-request check costs nothing.
"""

from __future__ import annotations

import os

from fastapi.telemetry import TelemetryConfig
from opentelemetry import _logs, metrics, trace

__all__ = ["OFF", "fastapi_telemetry"]

OFF: TelemetryConfig = {"tracing": False, "metrics": False, "logs": False}
# The API's stand-ins until a real provider is set (FastAPI's own test of "unconfigured").
_STAND_INS = frozenset({"ProxyTracerProvider", "_ProxyMeterProvider", "ProxyLoggerProvider"})


def fastapi_telemetry() -> TelemetryConfig | None:
    """`FastAPI(telemetry=...)`: None (FastAPI's default) when OpenTelemetry is set up or
    FastAPI is asked to set it up; else `OFF`."""
    if os.environ.get("FASTAPI_OTEL_AUTO_CONFIGURE", "").lower() == "true":
        return None
    providers = (trace.get_tracer_provider(), metrics.get_meter_provider(), _logs.get_logger_provider())
    if any(type(provider).__name__ not in _STAND_INS for provider in providers):
        return None
    return OFF
