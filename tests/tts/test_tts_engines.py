"""The engines and the registry: espeak-ng for real; Piper and Polly request/response handling."""

from __future__ import annotations

import io
import json
import os
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import boto3
import numpy as np
import pytest
from botocore.response import StreamingBody
from botocore.stub import Stubber
from conftest import Api
from tts_support import decode, rms

from audiostore.errors import ConfigurationError, UnknownVoice
from audiostore.settings import Settings
from audiostore.tts import EngineError, EngineRegistry, EspeakEngine, SynthesisOptions, build_registry, split_sentences
from audiostore.tts.piper import PiperEngine, discover_piper_voices, speech_from_chunks
from audiostore.tts.polly import PollyEngine, speech_ssml

# --- espeak-ng ---------------------------------------------------------------------------


async def test_every_listed_espeak_voice_speaks() -> None:
    engine = EspeakEngine()
    voices = await engine.voices()
    assert len(voices) > 100 and len({v.id for v in voices}) == len(voices)
    for voice in voices:
        speech = await engine.synthesize("1 2 3", voice, SynthesisOptions())
        assert speech.sample_rate == 22050
        assert speech.duration > 0.1, voice.id


async def test_espeak_gives_ipa_phonemes_and_honours_speed() -> None:
    engine = EspeakEngine()
    voices = {v.id: v for v in await engine.voices()}
    normal = await engine.synthesize("Hello world, how are you?", voices["en-us"], SynthesisOptions())
    fast = await engine.synthesize("Hello world, how are you?", voices["en-us"], SynthesisOptions(speed=2.0))
    assert normal.phonemes is not None and "həlˈoʊ" in normal.phonemes
    assert fast.duration < normal.duration * 0.7
    assert rms(normal.samples.astype(np.float64), 32768.0) > 0.02


def test_sentences_split_in_order() -> None:
    assert split_sentences("One. Two? Three! Four") == ["One.", "Two?", "Three!", "Four"]
    assert split_sentences('He said "stop." Then left.') == ['He said "stop."', "Then left."]
    assert split_sentences("  no end mark  ") == ["no end mark"]
    assert split_sentences("3.14 is pi. Yes.") == ["3.14 is pi.", "Yes."]
    assert split_sentences("Wait. ... Go on. -") == ["Wait. ...", "Go on. -"]
    assert split_sentences("... Then words.") == ["... Then words."]


async def test_registry_resolves_bare_prefixed_and_case_insensitive_ids() -> None:
    registry = EngineRegistry()
    registry.register(EspeakEngine())
    engine, voice = await registry.resolve("espeak:en-us")
    assert engine.name == "espeak" and voice.id == "en-us"
    assert (await registry.resolve("EN-US"))[1].id == "en-us"
    with pytest.raises(UnknownVoice):
        await registry.resolve("espeak:zz-nowhere")


# --- Piper -------------------------------------------------------------------------------

PIPER_CONFIG = {"audio": {"sample_rate": 22050}, "language": {"code": "en_US"}, "dataset": "lessac",
                "espeak": {"voice": "en-us"}, "num_symbols": 1, "num_speakers": 1, "phoneme_id_map": {}}


def make_piper_folder(folder: Path) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "en_US-lessac-medium.onnx").write_bytes(b"not really a model")
    (folder / "en_US-lessac-medium.onnx.json").write_text(json.dumps(PIPER_CONFIG))
    (folder / "de_DE-thorsten-low.onnx").write_bytes(b"x")
    (folder / "de_DE-thorsten-low.onnx.json").write_text(json.dumps({"espeak": {"voice": "de"}}))
    (folder / "no-config.onnx").write_bytes(b"x")  # Piper needs the .onnx.json: skipped
    (folder / "bad-config.onnx").write_bytes(b"x")
    (folder / "bad-config.onnx.json").write_text("{not json")
    (folder / "notes.txt").write_text("ignored")
    return folder


async def test_piper_voices_are_discovered_from_the_folder(tmp_path: Path) -> None:
    folder = make_piper_folder(tmp_path / "voices")
    assert sorted(discover_piper_voices(folder)) == ["de_DE-thorsten-low", "en_US-lessac-medium"]
    voices = {v.id: v for v in await PiperEngine(folder).voices()}
    assert voices["en_US-lessac-medium"].language == "en_US"
    assert voices["en_US-lessac-medium"].name == "lessac"
    assert voices["de_DE-thorsten-low"].language == "de"
    registry = build_registry(Settings(data_dir=tmp_path / "d", piper_voices=folder))
    assert registry.names == ["espeak", "piper"]
    engine, voice = await registry.resolve("en_US-lessac-medium")
    assert engine.name == "piper" and voice.id == "en_US-lessac-medium"


def test_piper_chunks_become_one_speech() -> None:
    chunks = [
        SimpleNamespace(sample_rate=22050, audio_int16_array=np.full(100, 1000, np.int16), phonemes=list("həlˈoʊ")),
        SimpleNamespace(sample_rate=22050, audio_int16_array=np.full(50, -1000, np.int16), phonemes=list("wˈɜːld")),
    ]
    speech = speech_from_chunks(chunks, 16000)
    assert speech.sample_rate == 22050 and speech.samples.size == 150 and speech.samples.dtype == np.int16
    assert speech.phonemes == "həlˈoʊ wˈɜːld"
    with pytest.raises(EngineError):
        speech_from_chunks([], 22050)


async def test_piper_voice_that_cannot_load_is_502_and_stores_nothing(api: Api, tmp_path: Path) -> None:
    api.runtime.tts.registry.register(PiperEngine(make_piper_folder(tmp_path / "voices")))
    r = await api.http.post("/v1/tts", headers=api.alice, json={"text": "hi", "voice": "en_US-lessac-medium"})
    assert r.status_code == 502 and r.json()["error"]["code"] == "engine_failed"
    assert await api.row_count() == 0 and await api.blob_keys() == []


def _real_piper_folder() -> Path | None:
    raw = os.environ.get("AUDIOSTORE_TEST_PIPER_VOICES") or os.environ.get("AUDIOSTORE_PIPER_VOICES")
    folder = Path(raw) if raw else None
    return folder if folder and discover_piper_voices(folder) else None


@pytest.mark.skipif(
    _real_piper_folder() is None,
    reason="no real Piper voice here (voices are downloaded models, and this machine cannot fetch "
    "them): set AUDIOSTORE_TEST_PIPER_VOICES to a folder with NAME.onnx + NAME.onnx.json to run it",
)
async def test_piper_real_voice_speaks() -> None:
    pytest.importorskip("piper", reason="piper-tts is not installed (pip install 'audiostore[piper]')")
    folder = _real_piper_folder()
    assert folder is not None
    engine = PiperEngine(folder)
    voice = (await engine.voices())[0]
    speech = await engine.synthesize("Hello from Piper.", voice, SynthesisOptions())
    assert speech.duration > 0.5 and rms(speech.samples.astype(np.float64), 32768.0) > 0.01


# --- Amazon Polly (botocore Stubber: AWS is unreachable here) ----------------------------


def polly_stub() -> tuple[Any, Stubber]:
    client = boto3.client("polly", region_name="eu-west-1", aws_access_key_id="x", aws_secret_access_key="y")
    return client, Stubber(client)


def pcm_tone(seconds: float, rate: int = 16000) -> bytes:
    t = np.arange(int(rate * seconds)) / rate
    return (np.sin(2 * np.pi * 220 * t) * 12000).astype("<i2").tobytes()


def voices_pages(stub: Stubber) -> None:
    stub.add_response("describe_voices", {
        "Voices": [{"Id": "Joanna", "Name": "Joanna", "LanguageCode": "en-US", "Gender": "Female",
                    "SupportedEngines": ["standard", "neural"]}],
        "NextToken": "page2",
    }, {})
    stub.add_response("describe_voices", {
        "Voices": [{"Id": "Hans", "Name": "Hans", "LanguageCode": "de-DE", "Gender": "Male",
                    "SupportedEngines": ["standard"]}],
    }, {"NextToken": "page2"})


def speech_response(stub: Stubber, voice: str, engine: str, ssml: str, audio: bytes) -> None:
    stub.add_response(
        "synthesize_speech",
        {"AudioStream": StreamingBody(io.BytesIO(audio), len(audio)), "ContentType": "audio/pcm",
         "RequestCharacters": 10},
        {"Text": ssml, "TextType": "ssml", "OutputFormat": "pcm", "SampleRate": "16000",
         "VoiceId": voice, "Engine": engine},
    )


async def test_polly_lists_voices_across_pages_and_synthesises_pcm() -> None:
    client, stub = polly_stub()
    voices_pages(stub)
    speech_response(stub, "Joanna", "neural", "<speak><prosody rate=\"150%\">Fish &amp; chips</prosody></speak>", pcm_tone(1.0))
    speech_response(stub, "Hans", "standard", "<speak>Guten Tag</speak>", pcm_tone(0.5))
    with stub:
        engine = PollyEngine(client)
        voices = {v.id: v for v in await engine.voices()}
        assert set(voices) == {"Joanna", "Hans"} and voices["Hans"].language == "de-DE"
        speech = await engine.synthesize("Fish & chips", voices["Joanna"], SynthesisOptions(speed=1.5))
        assert speech.sample_rate == 16000 and speech.duration == pytest.approx(1.0)
        assert (await engine.synthesize("Guten Tag", voices["Hans"], SynthesisOptions())).duration == pytest.approx(0.5)
        stub.assert_no_pending_responses()


async def test_polly_errors_are_engine_errors() -> None:
    client, stub = polly_stub()
    voices_pages(stub)
    stub.add_client_error("synthesize_speech", service_error_code="TextLengthExceededException",
                          service_message="too long", http_status_code=400)
    with stub:
        engine = PollyEngine(client)
        voice = (await engine.voices())[0]
        with pytest.raises(EngineError, match="TextLengthExceeded"):
            await engine.synthesize("x", voice, SynthesisOptions())
    client, stub = polly_stub()
    stub.add_client_error("describe_voices", service_error_code="UnrecognizedClientException", http_status_code=403)
    with stub, pytest.raises(EngineError):
        await PollyEngine(client).voices()


def test_polly_ssml_escapes_text() -> None:
    assert speech_ssml("<b>&", 1.0) == "<speak>&lt;b&gt;&amp;</speak>"


async def test_polly_speech_is_stored_through_the_api(api: Api) -> None:
    client, stub = polly_stub()
    voices_pages(stub)
    speech_response(stub, "Joanna", "neural", "<speak>Hello from Polly.</speak>", pcm_tone(1.25))
    api.runtime.tts.registry.register(PollyEngine(client))
    with stub:
        r = await api.http.post("/v1/tts", headers=api.alice,
                                json={"text": "Hello from Polly.", "voice": "polly:Joanna", "format": "wav"})
    assert r.status_code == 201, r.text
    obj = r.json()
    assert obj["engine"] == "polly" and obj["voice_id"] == "Joanna" and obj["sample_rate"] == 16000
    assert obj["duration"] == pytest.approx(1.25, abs=0.01)
    samples, rate = decode((await api.http.get(obj["url"])).content)
    assert samples.size / rate == pytest.approx(1.25, abs=0.01)
    voices = (await api.http.get("/v1/tts/voices", headers=api.alice)).json()
    assert voices["engines"] == ["espeak", "polly"]
    assert {"id": "Joanna", "engine": "polly", "language": "en-US", "name": "Joanna"} in voices["voices"]


def test_missing_piper_folder_is_a_configuration_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigurationError, match="AUDIOSTORE_PIPER_VOICES"):
        build_registry(Settings(data_dir=tmp_path, piper_voices=tmp_path / "nowhere"))


def test_polly_is_on_only_when_a_region_is_set(tmp_path: Path) -> None:
    assert build_registry(Settings(data_dir=tmp_path)).names == ["espeak"]
    assert build_registry(Settings(data_dir=tmp_path, polly_region="eu-west-1")).names == ["espeak", "polly"]
