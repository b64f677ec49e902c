"""GET /v1/audio/{id}/waveform: audiowaveform JSON and .dat, cached once, 4xx on bad input."""

from __future__ import annotations

from pathlib import Path

import pytest

from audiostore.audio.waveform import parse_dat
from conftest import Api

from waveform_signal import RATE, SPP, silence_then_square


@pytest.fixture(scope="module")
def square_wav(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return silence_then_square(tmp_path_factory.mktemp("wfh") / "sq.wav", silent_pixels=4, square_pixels=6)


async def test_json_and_dat_agree_and_are_exact(api: Api, square_wav: Path) -> None:
    obj = (await api.upload(square_wav)).json()
    base = f"/v1/audio/{obj['id']}/waveform?samples_per_pixel={SPP}&bits=16&channels=all"
    js = await api.http.get(base, headers=api.alice)
    assert js.status_code == 200 and js.headers["content-type"].startswith("application/json")
    doc = js.json()
    assert {k: doc[k] for k in ("version", "channels", "sample_rate", "samples_per_pixel", "bits", "length")} == {
        "version": 2, "channels": 2, "sample_rate": RATE, "samples_per_pixel": SPP, "bits": 16, "length": 10,
    }
    assert doc["data"] == [0, 0, 0, 0] * 4 + [-32768, 32767, 0, 0] * 6
    dat = await api.http.get(base + "&format=dat", headers=api.alice)
    assert dat.status_code == 200
    assert parse_dat(dat.content) == doc

    mono = (await api.http.get(f"/v1/audio/{obj['id']}/waveform?pixels_per_second={RATE // SPP}", headers=api.alice)).json()
    assert mono["version"] == 1 and mono["bits"] == 8 and mono["channels"] == 1
    assert mono["data"] == [0, 0] * 4 + [-64, 63] * 6


async def test_waveform_is_computed_once_and_ranges_work(api: Api, tones: dict[str, Path]) -> None:
    obj = (await api.upload(tones["mp3"])).json()
    url = f"/v1/audio/{obj['id']}/waveform?samples_per_pixel=512"
    before = api.runtime.renditions.renders
    first = await api.http.get(url, headers=api.alice)
    again = await api.http.get(url, headers={**api.alice, "Range": "bytes=0-9"})
    assert first.status_code == 200 and again.status_code == 206
    assert again.content == first.content[:10]
    assert api.runtime.renditions.renders == before + 1
    assert first.json()["sample_rate"] == obj["sample_rate"]


async def test_bad_waveform_requests(api: Api, tones: dict[str, Path]) -> None:
    obj = (await api.upload(tones["wav"])).json()
    keys = await api.blob_keys()
    for query, code in {
        "bits=12": "validation_failed",
        "channels=left": "validation_failed",
        "samples_per_pixel=256&pixels_per_second=10": "validation_failed",
        "samples_per_pixel=0": "validation_failed",
        "format=png": "unknown_format",
        "zoom=3": "validation_failed",
    }.items():
        r = await api.http.get(f"/v1/audio/{obj['id']}/waveform?{query}", headers=api.alice)
        assert r.status_code == 422, query
        assert r.json()["error"]["code"] == code, query
    assert (await api.http.get(f"/v1/audio/{obj['id']}/waveform", headers=api.bob)).status_code == 404
    assert await api.blob_keys() == keys
