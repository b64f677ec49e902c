"""FastAPI's native OpenTelemetry is off, and asks nothing per request, unless OpenTelemetry is
set up when the app is built (http/framework_telemetry.py); asked for, it stays on."""

from __future__ import annotations

import pytest
from opentelemetry import trace

from audiostore.http.framework_telemetry import OFF, fastapi_telemetry
from conftest import Api


def test_off_without_opentelemetry(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("FASTAPI_OTEL_AUTO_CONFIGURE", raising=False)
    assert fastapi_telemetry() == OFF


def test_left_to_fastapi_when_asked_for_or_set_up(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FASTAPI_OTEL_AUTO_CONFIGURE", "true")
    assert fastapi_telemetry() is None
    monkeypatch.delenv("FASTAPI_OTEL_AUTO_CONFIGURE")

    class SetUpProvider(trace.NoOpTracerProvider):
        """What `opentelemetry-instrument` would have set: not the API's stand-in."""

    monkeypatch.setattr(trace, "get_tracer_provider", SetUpProvider)
    assert fastapi_telemetry() is None


@pytest.mark.parametrize("backend", ["local"], indirect=True)
async def test_a_request_asks_no_provider(api: Api, monkeypatch: pytest.MonkeyPatch) -> None:
    asked: list[str] = []
    real = trace.get_tracer_provider

    def counted() -> trace.TracerProvider:
        asked.append("tracer")
        return real()

    monkeypatch.setattr(trace, "get_tracer_provider", counted)
    for path in ("/v1/health", "/v1/info"):
        assert (await api.http.get(path, headers=api.alice)).status_code == 200
    assert asked == []
