"""Speech stream test support: an ASGI client that reads a POST's body chunk by chunk and can
hang up like a real client, and an engine whose later sentences wait for the test."""

from __future__ import annotations

import asyncio
import json
from typing import Any

from audiostore.tts import EspeakEngine, Speech, SynthesisOptions, Voice


class GatedEngine:
    """The real espeak-ng engine, except that every sentence after the first `free` waits
    until `gate` is set: a test can see what a client has while synthesis is still going."""

    name = "espeak"

    def __init__(self, free: int = 1) -> None:
        self.inner = EspeakEngine()
        self.free = free
        self.gate = asyncio.Event()
        self.calls: list[str] = []  # every sentence asked for, in order
        self.spoken = 0  # sentences finished

    async def voices(self) -> list[Voice]:
        return await self.inner.voices()

    async def synthesize(self, text: str, voice: Voice, options: SynthesisOptions) -> Speech:
        self.calls.append(text)
        if len(self.calls) > self.free:
            await self.gate.wait()
        speech = await self.inner.synthesize(text, voice, options)
        self.spoken += 1
        return speech


class StreamingPost:
    """One POST driven over ASGI by hand: `next_chunk()` reads one body message, `hang_up()`
    disconnects. httpx's ASGITransport would wait for the whole body first."""

    def __init__(self, app: Any, path: str, headers: dict[str, str], body: dict[str, Any]) -> None:
        payload = json.dumps(body).encode()
        self.status = 0
        self.headers: dict[str, str] = {}
        self.ended = False
        # One message at a time, as a socket with full buffers: the app's send waits for us.
        self._messages: asyncio.Queue[dict[str, Any]] = asyncio.Queue(maxsize=1)
        self._gone = asyncio.Event()
        self._sent_body = False
        scope = {
            "type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": "POST",
            "scheme": "http", "path": path, "raw_path": path.encode(), "query_string": b"",
            "root_path": "", "client": ("127.0.0.1", 50000), "server": ("testserver", 80),
            "headers": [(k.lower().encode(), v.encode()) for k, v in headers.items()]
            + [(b"host", b"testserver"), (b"content-type", b"application/json"),
               (b"content-length", str(len(payload)).encode())],
        }

        async def receive() -> dict[str, Any]:
            if not self._sent_body:
                self._sent_body = True
                return {"type": "http.request", "body": payload, "more_body": False}
            await self._gone.wait()
            return {"type": "http.disconnect"}

        async def send(message: dict[str, Any]) -> None:
            if self._gone.is_set():
                raise OSError("the client has gone")
            await self._messages.put(message)

        self.task = asyncio.create_task(app(scope, receive, send))

    async def _message(self, timeout: float) -> dict[str, Any]:
        getter = asyncio.ensure_future(self._messages.get())
        done, _ = await asyncio.wait({getter, self.task}, timeout=timeout, return_when=asyncio.FIRST_COMPLETED)
        if getter in done:
            return getter.result()
        getter.cancel()
        if self.task in done:
            self.task.result()  # raises what the app raised
            raise AssertionError("the app ended without sending the rest of its answer")
        raise TimeoutError(f"no message from the app within {timeout} s")

    async def start(self, timeout: float = 60.0) -> None:
        message = await self._message(timeout)
        assert message["type"] == "http.response.start", message
        self.status = message["status"]
        self.headers = {k.decode().lower(): v.decode() for k, v in message["headers"]}

    async def next_chunk(self, timeout: float = 60.0) -> bytes:
        """The next non-empty body chunk, or b"" once the body has ended."""
        while not self.ended:
            message = await self._message(timeout)
            self.ended = not message.get("more_body", False)
            if message.get("body"):
                return bytes(message["body"])
        return b""

    async def read_all(self, timeout: float = 120.0) -> bytes:
        data = bytearray()
        while chunk := await self.next_chunk(timeout):
            data += chunk
        await asyncio.wait_for(self.task, timeout)
        return bytes(data)

    async def hang_up(self, timeout: float = 60.0) -> None:
        """Disconnect, and wait for the app to finish this request."""
        self._gone.set()
        while not self._messages.empty():
            self._messages.get_nowait()
        await asyncio.wait({self.task}, timeout=timeout)
        assert self.task.done(), "the app did not end the request after the client left"


class HushEngine:
    """The real espeak-ng engine, except that a sentence holding "Hush" comes back as a click
    (a few samples): what an engine gives for a sentence it finds nothing to say in."""

    name = "espeak"

    def __init__(self) -> None:
        self.inner = EspeakEngine()

    async def voices(self) -> list[Voice]:
        return await self.inner.voices()

    async def synthesize(self, text: str, voice: Voice, options: SynthesisOptions) -> Speech:
        speech = await self.inner.synthesize(text, voice, options)
        if "Hush" in text:
            return Speech(samples=speech.samples[:10], sample_rate=speech.sample_rate)
        return speech
