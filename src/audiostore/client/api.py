"""`Api`: the SDK's calls declared once, for `Client` and `AsyncClient` both.

Each attribute binds one flow of `flows` to whichever client it is read on: on a `Client`
it is a method that runs the flow to its result with `SyncDriver`; on an `AsyncClient` a
coroutine method (or async iterator) driven by `AsyncDriver`. A call keeps its flow's
signature (without the client parameter) and docstring, for type checkers (through
`ParamSpec`), `help()` and `inspect.signature` alike.
"""

from __future__ import annotations

import inspect
from collections.abc import AsyncIterator, Callable, Coroutine, Iterator
from typing import Any, Concatenate, Generic, ParamSpec, Protocol, Self, TypeVar, overload

from . import flows, protocol, upload_flows
from .drivers import AsyncDriver, SyncDriver
from .retry import RetryPolicy
from .steps import Feed, Flow
from .url_cache import SignedUrlCache

P = ParamSpec("P")
T = TypeVar("T")
TransportT = TypeVar("TransportT")
SleepT = TypeVar("SleepT")


# Which `__get__` overload applies: the kind of driver the client holds.
class _Blocking(Protocol):
    @property
    def _driver(self) -> SyncDriver: ...


class _Awaiting(Protocol):
    @property
    def _driver(self) -> AsyncDriver: ...


class _Bound:
    """What both kinds of call share: the flow, its name, signature and docstring."""

    _items = False  # True: it hands out values (an iterator, sync or async), no result

    def __init__(self, flow: Callable[..., Any]) -> None:
        self._flow = flow
        self.__doc__ = flow.__doc__
        self.__module__ = flow.__module__
        self.__name__ = self.__qualname__ = flow.__name__
        whole = inspect.signature(flow)
        self._returns = _result(whole.return_annotation)
        client, *self._parameters = whole.parameters.values()
        self._bound_signatures: dict[str, inspect.Signature] = {}
        # What inspect.signature and help() show: `self` on the class, as a method would.
        self.__signature__ = whole.replace(
            parameters=[client.replace(name="self", annotation=inspect.Parameter.empty), *self._parameters],
            return_annotation=inspect.Signature.empty if self._items else self._returns,
        )

    def __set_name__(self, owner: type[Any], name: str) -> None:
        self.__name__ = name
        self.__qualname__ = f"{owner.__qualname__}.{name}"

    def __call__(self, client: Any, /, *args: Any, **kwargs: Any) -> Any:
        """`Client.upload(c, ...)` as well as `c.upload(...)`, as with any method."""
        return self.__get__(client, type(client))(*args, **kwargs)

    def __get__(self, obj: Any, owner: type[Any]) -> Any:
        if obj is None:
            return self
        driver: SyncDriver | AsyncDriver = obj._driver
        call = driver.bind_items(self._flow, obj) if self._items else driver.bind(self._flow, obj)
        call.__doc__, call.__module__, call.__name__ = self.__doc__, self.__module__, self.__name__
        call.__qualname__ = f"{type(obj).__qualname__}.{self.__name__}"
        signature = self._bound_signatures.get(driver.ITERATOR)
        if signature is None:  # once per kind of client: Signature.replace is not cheap
            result = f"{driver.ITERATOR}[{self._returns}]" if self._items else self._returns
            signature = self.__signature__.replace(parameters=self._parameters, return_annotation=result)
            self._bound_signatures[driver.ITERATOR] = signature
        call.__signature__ = signature  # type: ignore[attr-defined]  # read by inspect.signature
        return call


def _result(annotation: object) -> str:
    """What a flow ends with or hands out: X of its annotation `Flow[X]` or `Feed[X]`."""
    text = str(annotation)
    return text[text.index("[") + 1 : -1] if "[" in text else text


class Method(_Bound, Generic[P, T]):
    """A call that ends with a result: `T` on a `Client`, awaited on an `AsyncClient`."""

    def __init__(self, flow: Callable[Concatenate[Any, P], Flow[T]]) -> None:
        super().__init__(flow)

    @overload
    def __get__(self, obj: None, owner: type[Any]) -> Self: ...

    @overload
    def __get__(self, obj: _Blocking, owner: type[Any]) -> Callable[P, T]: ...

    @overload
    def __get__(self, obj: _Awaiting, owner: type[Any]) -> Callable[P, Coroutine[Any, Any, T]]: ...

    def __get__(self, obj: Any, owner: type[Any]) -> Any:
        return super().__get__(obj, owner)


class Items(_Bound, Generic[P, T]):
    """A call that hands out values as it goes: an iterator on a `Client`, an async
    iterator on an `AsyncClient`."""

    _items = True

    def __init__(self, flow: Callable[Concatenate[Any, P], Feed[T]]) -> None:
        super().__init__(flow)

    @overload
    def __get__(self, obj: None, owner: type[Any]) -> Self: ...

    @overload
    def __get__(self, obj: _Blocking, owner: type[Any]) -> Callable[P, Iterator[T]]: ...

    @overload
    def __get__(self, obj: _Awaiting, owner: type[Any]) -> Callable[P, AsyncIterator[T]]: ...

    def __get__(self, obj: Any, owner: type[Any]) -> Any:
        return super().__get__(obj, owner)


class Api(Generic[TransportT, SleepT]):
    """The calls and settings both clients share; a client adds its transport and driver.

    `base_url` defaults to `AUDIOSTORE_URL`. The client authenticates with an API key
    (`api_key`) or a client token (`token`, from `create_token`), not both; with neither it
    reads `AUDIOSTORE_TOKEN`, else `AUDIOSTORE_KEY`. A token outside its scopes or
    collections raises `PermissionDeniedError` (403 `scope_denied`) with the service's
    message. Connection errors and 502/503/504 answers are retried with backoff (`retry`,
    waiting with `sleep`); uploads carry an `Idempotency-Key`, so a retried upload is
    stored once.
    """

    def __init__(
        self,
        base_url: str | None = None,
        *,
        api_key: str | None = None,
        token: str | None = None,
        timeout: float = 60.0,
        retry: RetryPolicy | None = None,
        transport: TransportT | None = None,
        url_cache: SignedUrlCache | None = None,
        sleep: SleepT | None = None,
    ) -> None:
        self.base_url = protocol.resolve_base_url(base_url)
        self.retry = retry or RetryPolicy()
        self.url_cache = url_cache or SignedUrlCache()
        self._connect(protocol.auth_headers(api_key, token), timeout, transport, sleep)

    def _connect(
        self, headers: dict[str, str], timeout: float, transport: TransportT | None, sleep: SleepT | None
    ) -> None:
        """Open the HTTP client and the driver (`self._driver`) of this kind of client."""
        raise NotImplementedError

    # audio
    upload = Method(upload_flows.upload)
    get = Method(flows.get)
    list_page = Method(flows.list_page)
    update = Method(flows.update)
    delete = Method(flows.delete)
    # signed upload URLs
    create_upload_url = Method(upload_flows.create_upload_url)
    upload_to_signed_url = Method(upload_flows.upload_to_signed_url)
    # signed URLs
    sign = Method(flows.sign)
    hls_url = Method(flows.hls_url)
    sign_many = Method(flows.sign_many)
    # bytes
    download = Method(flows.download)
    # queues (the stream itself: each client's `stream_queue`)
    put_queue = Method(flows.put_queue)
    get_queue = Method(flows.get_queue)
    delete_queue = Method(flows.delete_queue)
    queue_url = Method(flows.queue_url)
    # maintenance (admin keys)
    cleanup = Method(flows.cleanup)
    sweep = Method(flows.sweep)
    # API keys (admin keys)
    create_key = Method(flows.create_key)
    list_keys = Method(flows.list_keys)
    revoke_key = Method(flows.revoke_key)
    # client tokens and public collections
    create_token = Method(flows.create_token)
    revoke_tokens = Method(flows.revoke_tokens)
    make_public = Method(flows.make_public)
    make_private = Method(flows.make_private)
    public_collections = Method(flows.public_collections)
    # speech and service facts
    tts = Method(flows.tts)
    tts_voices = Method(flows.tts_voices)
    info = Method(flows.info)
    health = Method(flows.health)
    # last: from here on `list` in this class body names the call, not the builtin
    list = Items(flows.list_items)


__all__ = ["Api", "Items", "Method"]
