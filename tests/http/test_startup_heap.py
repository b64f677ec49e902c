"""A server moves its start-up heap out of the cyclic collector's sight once it has started
(`http/startup_heap.py`), after collecting start-up's own garbage; an app given a runtime (the
tests' in-process apps) leaves the collector alone."""

from __future__ import annotations

import gc
import weakref
from collections.abc import Iterator
from pathlib import Path

import pytest

from audiostore.http import app as app_module
from audiostore.http.app import create_app
from audiostore.http.startup_heap import freeze_startup_heap
from conftest import Api, backend_settings_local


@pytest.fixture
def unfrozen() -> Iterator[None]:
    """The collector as a test process has it, before and after (frozen objects would stay)."""
    gc.unfreeze()
    try:
        yield
    finally:
        gc.unfreeze()


class _Node:
    other: _Node | None = None


def test_start_up_garbage_is_collected_and_the_rest_frozen(unfrozen: None) -> None:
    garbage, kept = _Node(), _Node()
    garbage.other = garbage  # a cycle only the cyclic collector frees
    gone = weakref.ref(garbage)
    del garbage
    kept.other = kept
    assert gc.get_freeze_count() == 0
    freeze_startup_heap()
    assert gone() is None, "start-up's garbage must be collected, not kept for good"
    assert gc.get_freeze_count() > 0
    # The collector no longer walks what lived at start-up (gc.get_objects lists only the
    # generations it walks, not the permanent one).
    assert not any(o is kept for o in gc.get_objects())
    fresh = _Node()
    assert any(o is fresh for o in gc.get_objects())


async def test_a_server_freezes_its_heap_once_started(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, unfrozen: None
) -> None:
    # As `audiostore serve` builds it: no runtime given, the settings read at start.
    settings = backend_settings_local(tmp_path, sweep_in_serve=False)
    monkeypatch.setattr(app_module, "get_settings", lambda: settings)
    app = create_app()
    assert gc.get_freeze_count() == 0
    async with app.router.lifespan_context(app):
        runtime = app.state.runtime
        # Everything start-up built, the runtime and its catalogue included, is frozen.
        assert gc.get_freeze_count() > 10_000
        assert not any(o is runtime for o in gc.get_objects())
        assert not any(o is runtime.catalog for o in gc.get_objects())


async def test_an_app_given_a_runtime_leaves_the_collector_alone(api: Api, unfrozen: None) -> None:
    r = await api.http.get("/v1/health")
    assert r.status_code == 200
    assert gc.get_freeze_count() == 0
