"""Prometheus metrics: one registry per process, exported at `GET /metrics`."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Histogram

REGISTRY = CollectorRegistry(auto_describe=True)

REQUESTS = Counter(
    "audiostore_http_requests", "HTTP requests by route, method and status.",
    ["route", "method", "status"], registry=REGISTRY,
)
REQUEST_SECONDS = Histogram(
    "audiostore_http_request_seconds", "HTTP request latency by route.", ["route", "method"],
    registry=REGISTRY,
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30),
)
UPLOADS = Counter("audiostore_uploads", "Uploads by outcome (error code or 'stored').", ["outcome"], registry=REGISTRY)
BYTES_IN = Counter("audiostore_bytes_in", "Audio bytes accepted from clients.", registry=REGISTRY)
BYTES_OUT = Counter("audiostore_bytes_out", "Bytes sent to clients in response bodies.", registry=REGISTRY)
EARLY_PUTS = Counter(
    "audiostore_early_puts", "Uploads sent to the store while they arrived, by outcome: "
    "'completed', 'abandoned' (the file was put after all) or 'aborted' (the upload failed).",
    ["outcome"], registry=REGISTRY,
)

# Text to speech
TTS_SYNTHESES = Counter(
    "audiostore_tts_syntheses", "Speech syntheses by engine and outcome (ok, failed).",
    ["engine", "outcome"], registry=REGISTRY,
)
TTS_SYNTHESIS_SECONDS = Histogram(
    "audiostore_tts_synthesis_seconds", "Time engines spent synthesising, by engine.", ["engine"],
    registry=REGISTRY, buckets=(0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60),
)
NATIVE_CALL_FAILURES = Counter(
    "audiostore_native_call_failures", "Calls into native code (engines) that lost their worker "
    "process, by pool and reason (crashed, timed_out).", ["pool", "reason"], registry=REGISTRY,
)
TTS_CACHE_HITS = Counter(
    "audiostore_tts_cache_hits", "TTS requests answered from stored audio, by engine.", ["engine"],
    registry=REGISTRY,
)
TTS_STREAMS = Counter(
    "audiostore_tts_streams",
    "Streamed syntheses by engine and outcome: stored, store_failed, failed, abandoned (every "
    "listener left before the end: nothing stored).",
    ["engine", "outcome"], registry=REGISTRY,
)
