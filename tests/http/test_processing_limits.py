"""Processing limits: a small file that decodes to hours buys a bounded amount of CPU.

A rendition or waveform past its CPU or output budget answers 422 `processing_limit` and
leaves no blob, no row and no scratch; asked again, it answers the same at once. An analysis
past its budget marks the object `analysis: failed`, never to be retried, and the uploads
behind it are measured as usual. The bombs are made by PyAV (`decode_bombs.py`).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from audio_factory import make_tone
from conftest import Api, backend_settings_local, make_api
from decode_bombs import make_silent_flac
from audiostore.jobs import run_job
from audiostore.service.analysis import ANALYSIS_LEASE
from audiostore.service.staging import StagedUpload

# Long enough for minutes of MP3 encoding and seconds of loudness measuring, far past the
# one CPU second these tests allow; past any maximum duration an ingest check might set.
BOMB_SECONDS = 3600
WAIT = 120  # bounded waits (s) for work that today's code would let run for minutes


@pytest.fixture(scope="module")
def bomb(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_silent_flac(tmp_path_factory.mktemp("bomb") / "silence.flac", BOMB_SECONDS)


async def limited_api(tmp_path: Path, **overrides: Any) -> tuple[Api, Any]:
    settings = backend_settings_local(
        tmp_path, auth_cache_seconds=0, processing_cpu_seconds_min=1.0,
        processing_cpu_seconds_max=1.0, max_duration_seconds=10 * BOMB_SECONDS,
        # Renditions made whole before their first byte, so a limit can still answer 422
        # (a first play that streams is cut short instead: test_fast_start.py).
        rendition_whole_first_seconds=10 * BOMB_SECONDS, **overrides,
    )
    return await make_api(settings)


@pytest.fixture
async def api(tmp_path: Path) -> AsyncIterator[Api]:
    a, runtime = await limited_api(tmp_path)
    try:
        yield a
    finally:
        await a.http.aclose()
        await runtime.close()


def scratch_left(api: Api) -> list[Path]:
    tmp = api.runtime.audio.tmp_dir
    return sorted(tmp.iterdir()) if tmp.exists() else []


async def upload_unanalysed(api: Api, path: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, Any]:
    """Upload with the analysis after the upload left out (as if the process had stopped)."""
    analysis = api.runtime.analysis
    assert analysis is not None

    def dropped(row: object, staged: StagedUpload) -> None:
        staged.discard()

    with monkeypatch.context() as m:
        m.setattr(analysis, "submit", dropped)
        r = await api.upload(path)
    assert r.status_code == 201, r.text
    return r.json()


async def test_a_rendition_past_its_cpu_budget_is_422_and_leaves_nothing(
    api: Api, bomb: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    obj = await upload_unanalysed(api, bomb, monkeypatch)
    blobs = await api.blob_keys()
    url = f"/v1/audio/{obj['id']}/content?format=mp3"
    r = await asyncio.wait_for(api.http.get(url, headers=api.alice), WAIT)
    assert r.status_code == 422, r.text[:300]
    assert r.json()["error"]["code"] == "processing_limit"
    assert await api.blob_keys() == blobs  # no rendition blob
    assert (await api.http.get(f"/v1/audio/{obj['id']}", headers=api.alice)).json()["renditions"] == []
    assert scratch_left(api) == []
    # Asked again, the answer is the same without paying for the work again.
    renders = api.runtime.renditions.renders
    again = await asyncio.wait_for(api.http.get(url, headers=api.alice), 10)
    assert again.status_code == 422 and again.json()["error"]["code"] == "processing_limit"
    assert api.runtime.renditions.renders == renders
    assert api.runtime.renditions.jobs.in_flight() == 0


async def test_a_waveform_past_its_cpu_budget_is_422(
    api: Api, bomb: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    obj = await upload_unanalysed(api, bomb, monkeypatch)
    blobs = await api.blob_keys()
    r = await asyncio.wait_for(
        api.http.get(f"/v1/audio/{obj['id']}/waveform?samples_per_pixel=8000", headers=api.alice), WAIT
    )
    assert r.status_code == 422 and r.json()["error"]["code"] == "processing_limit", r.text[:300]
    assert await api.blob_keys() == blobs
    assert scratch_left(api) == []


async def test_output_past_what_the_stored_duration_implies_is_422(
    api: Api, tmp_path: Path
) -> None:
    """An object stored with a duration its audio does not match (a header that lied, before
    durations were taken from the decode): its renditions stop at twice what it implies."""
    tone = make_tone(tmp_path / "long.flac", "flac", seconds=30.0, channels=2)
    obj = (await api.upload(tone)).json()
    await api.settled()
    await api.runtime.catalog.update_audio(obj["id"], {"duration": 0.5})
    blobs = await api.blob_keys()
    for path in ("content?format=wav", "waveform?samples_per_pixel=2"):
        r = await api.http.get(f"/v1/audio/{obj['id']}/{path}", headers=api.alice)
        assert r.status_code == 422 and r.json()["error"]["code"] == "processing_limit", (path, r.text[:300])
    assert await api.blob_keys() == blobs
    assert scratch_left(api) == []


async def test_a_rendition_past_the_output_size_limit_is_422(tmp_path: Path, tones: dict[str, Path]) -> None:
    a, runtime = await make_api(backend_settings_local(
        tmp_path, auth_cache_seconds=0, processing_max_output_bytes=100_000
    ))
    try:
        obj = (await a.upload(tones["wav"])).json()  # 2 s: 350 KB as WAV, 32 KB as MP3
        await a.settled()
        blobs = await a.blob_keys()
        wav = await a.http.get(f"/v1/audio/{obj['id']}/content?format=wav", headers=a.alice)
        assert wav.status_code == 422 and wav.json()["error"]["code"] == "processing_limit"
        assert await a.blob_keys() == blobs
        mp3 = await a.http.get(f"/v1/audio/{obj['id']}/content?format=mp3", headers=a.alice)
        assert mp3.status_code == 200
    finally:
        await a.http.aclose()
        await runtime.close()


async def test_an_analysis_past_its_budget_fails_once_and_does_not_hold_up_the_others(
    api: Api, bomb: Path, tmp_path: Path
) -> None:
    first = await api.upload(bomb)
    assert first.status_code == 201
    tone = make_tone(tmp_path / "after.wav", "wav", seconds=2.0, channels=2, amplitude=0.1, frequency=1000.0)
    second = await api.upload(tone)
    assert second.status_code == 201
    await asyncio.wait_for(api.settled(), WAIT)
    bomb_obj = (await api.http.get(f"/v1/audio/{first.json()['id']}", headers=api.alice)).json()
    assert bomb_obj["analysis"] == "failed" and bomb_obj["loudness_lufs"] is None
    after = (await api.http.get(f"/v1/audio/{second.json()['id']}", headers=api.alice)).json()
    assert after["analysis"] == "done" and after["loudness_lufs"] is not None
    # Given up for good: the job never takes it again, after any number of leases.
    api.clock.advance(ANALYSIS_LEASE.total_seconds() + 1)
    job = await asyncio.wait_for(run_job(api.runtime, "analyse_due"), WAIT)
    assert job.counts == {"analysed": 0, "given_up": 0, "failed": 0}
    assert scratch_left(api) == []


async def test_the_analysis_job_gives_up_on_a_bomb_instead_of_retrying_it(
    api: Api, bomb: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    obj = await upload_unanalysed(api, bomb, monkeypatch)
    assert obj["analysis"] == "pending"
    api.clock.advance(ANALYSIS_LEASE.total_seconds() + 1)
    job = await asyncio.wait_for(run_job(api.runtime, "analyse_due"), WAIT)
    assert job.counts == {"analysed": 0, "given_up": 1, "failed": 0}
    got = (await api.http.get(f"/v1/audio/{obj['id']}", headers=api.alice)).json()
    assert got["analysis"] == "failed"
    api.clock.advance(ANALYSIS_LEASE.total_seconds() + 1)
    again = await asyncio.wait_for(run_job(api.runtime, "analyse_due"), WAIT)
    assert again.counts == {"analysed": 0, "given_up": 0, "failed": 0}
    assert scratch_left(api) == []


async def _job_whose_client_leaves(done_seconds: float) -> tuple[asyncio.Task[str], Any]:
    """A shared job that has rendered `done_seconds` of 100 at one CPU second each, then
    waits (as a PyAV loop between frames) until its budget is cancelled or it is let go."""
    from audiostore.audio.work_budget import WorkBudget
    from audiostore.service.render_jobs import RenderJobs

    jobs, budget, go_on = RenderJobs(), WorkBudget(), asyncio.Event()
    running: list[asyncio.Task[Any]] = []

    async def make(b: WorkBudget) -> str:
        running.append(asyncio.current_task())  # type: ignore[arg-type]
        b.audio_seconds, b.cpu_used = done_seconds, done_seconds  # what the frames charged
        while True:
            b.check()
            if go_on.is_set():
                return "made"
            await asyncio.sleep(0.01)

    client = asyncio.create_task(jobs.run("a/r-mp3", budget, total_seconds=100.0, make=make))
    for _ in range(100):
        await asyncio.sleep(0.01)
        if budget.audio_seconds:
            break
    client.cancel()  # the client hangs up
    with pytest.raises(asyncio.CancelledError):
        await client
    go_on.set()
    return running[0], budget


async def test_a_job_whose_client_left_stops_unless_nearly_done() -> None:
    from audiostore.errors import ShuttingDown

    far, budget = await _job_whose_client_leaves(done_seconds=10.0)
    assert budget.cancel.is_set()
    with pytest.raises(ShuttingDown):
        await asyncio.wait_for(far, 10)
    near, budget = await _job_whose_client_leaves(done_seconds=99.5)  # half a CPU second left
    assert not budget.cancel.is_set()
    assert await asyncio.wait_for(near, 10) == "made"
