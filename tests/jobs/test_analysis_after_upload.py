"""Loudness is measured after the upload answers: by the process that took the upload, or,
when that never happened (the process stopped right after the 201), by the `analyse_due` job
once the lease has run out; normalising before either has run measures first."""

from __future__ import annotations

from pathlib import Path

import pytest

from audio_factory import make_tone
from audiostore.audio.loudness import measure_loudness
from audiostore.jobs import run_job
from audiostore.service.analysis import ANALYSIS_LEASE
from audiostore.service.staging import StagedUpload
from conftest import Api


@pytest.fixture
def no_analysis_after_upload(api: Api, monkeypatch: pytest.MonkeyPatch) -> None:
    """As if the process stopped right after answering: the staged file goes, nothing runs."""
    analysis = api.runtime.analysis
    assert analysis is not None

    def dropped(row: object, staged: StagedUpload) -> None:
        staged.discard()

    monkeypatch.setattr(analysis, "submit", dropped)


async def quiet_upload(api: Api, tmp_path: Path) -> dict:
    tone = make_tone(tmp_path / "quiet.wav", "wav", seconds=2.0, channels=2, frequency=1000.0, amplitude=0.1)
    r = await api.upload(tone)
    assert r.status_code == 201
    return r.json()


@pytest.mark.usefixtures("no_analysis_after_upload")
async def test_the_job_measures_an_upload_whose_analysis_never_ran(api: Api, tmp_path: Path) -> None:
    obj = await quiet_upload(api, tmp_path)
    assert obj["analysis"] == "pending"

    # Within the lease the job leaves the row to the process that took the upload.
    early = await run_job(api.runtime, "analyse_due")
    assert early.error is None and early.counts == {"analysed": 0, "given_up": 0, "failed": 0}

    api.clock.advance(ANALYSIS_LEASE.total_seconds() + 1)
    done = await run_job(api.runtime, "analyse_due")
    assert done.counts == {"analysed": 1, "given_up": 0, "failed": 0}
    got = (await api.http.get(f"/v1/audio/{obj['id']}", headers=api.alice)).json()
    assert got["analysis"] == "done"
    assert abs(got["loudness_lufs"] - -20.0) <= 0.5

    again = await run_job(api.runtime, "analyse_due")
    assert again.counts == {"analysed": 0, "given_up": 0, "failed": 0}


@pytest.mark.usefixtures("no_analysis_after_upload")
async def test_normalising_before_the_analysis_measures_first(api: Api, tmp_path: Path) -> None:
    obj = await quiet_upload(api, tmp_path)
    r = await api.http.get(f"/v1/audio/{obj['id']}/content?format=wav&normalize=true", headers=api.alice)
    assert r.status_code == 200
    out = tmp_path / "normalized.wav"
    out.write_bytes(r.content)
    measured = measure_loudness(out)
    target = api.runtime.settings.loudness_target_lufs
    assert measured.integrated_lufs is not None and abs(measured.integrated_lufs - target) <= 1.0
    got = (await api.http.get(f"/v1/audio/{obj['id']}", headers=api.alice)).json()
    assert got["analysis"] == "done" and got["loudness_lufs"] is not None


async def test_an_object_deleted_before_its_analysis_gets_no_ingest_renditions(
    api: Api, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    analysis = api.runtime.analysis
    assert analysis is not None
    held: list[tuple[object, StagedUpload]] = []
    monkeypatch.setattr(analysis, "submit", lambda row, staged: held.append((row, staged)))
    monkeypatch.setattr(api.runtime.renditions, "ingest_requests", lambda row: ["wanted"])
    made: list[str] = []

    async def after_ingest(row: object) -> None:
        made.append(getattr(row, "id"))

    monkeypatch.setattr(api.runtime.renditions, "after_ingest", after_ingest)
    obj = await quiet_upload(api, tmp_path)
    assert (await api.http.delete(f"/v1/audio/{obj['id']}", headers=api.alice)).status_code == 204
    (row, staged), = held
    await analysis.analyse(row, staged.path)  # type: ignore[arg-type]
    staged.discard()
    assert made == []
    assert await api.blob_keys() == []
