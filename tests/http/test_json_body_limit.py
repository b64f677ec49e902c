"""Request bodies other than uploads are capped (1 MiB plus room for the longest TTS text):
past the cap the answer is 413 `too_large`, before the body is held in memory."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from pathlib import Path

from conftest import Api

from audiostore.http.json_body_limit import json_body_cap


async def test_a_json_body_past_the_cap_is_413(api: Api, tones: dict[str, Path]) -> None:
    obj = (await api.upload(tones["wav"])).json()
    cap = json_body_cap(api.runtime.settings.tts_max_text_chars)
    big = json.dumps({"metadata": {"k": "x" * cap}})

    declared = await api.http.patch(f"/v1/audio/{obj['id']}", content=big,
                                    headers={**api.alice, "content-type": "application/json"})
    assert declared.status_code == 413, declared.text
    assert declared.json()["error"]["code"] == "too_large"

    async def chunks() -> AsyncIterator[bytes]:  # no Content-Length: counted as it arrives
        for i in range(0, len(big), 65536):
            yield big[i:i + 65536].encode()

    streamed = await api.http.patch(f"/v1/audio/{obj['id']}", content=chunks(),
                                    headers={**api.alice, "content-type": "application/json"})
    assert streamed.status_code == 413, streamed.text
    assert streamed.json()["error"] == {
        "code": "too_large", "message": f"A request body other than an upload may hold at most {cap} bytes."
    }
    unchanged = (await api.http.get(f"/v1/audio/{obj['id']}", headers=api.alice)).json()
    assert unchanged["metadata"] == {}
    # A body under the cap still works, and uploads are not held to it.
    ok = await api.http.patch(f"/v1/audio/{obj['id']}", json={"metadata": {"k": "v"}}, headers=api.alice)
    assert ok.status_code == 200
