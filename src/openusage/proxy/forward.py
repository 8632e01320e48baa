"""The metering proxy: an ASGI app that forwards OpenAI API calls and records what they used.

One request, top to bottom:

0. the path must be canonical and stay below /v1 (:mod:`.paths`), or it is refused with a 400;
1. the client's openusage key (scope ``proxy``, or ``admin``) is checked; a bad key is answered
   401 and nothing goes upstream;
2. the body is read, the model picked out, the upstream chosen by model, the project's budget checked;
3. a stream that did not ask for usage gets ``stream_options.include_usage`` added upstream;
4. the request goes upstream on a pooled keep-alive ``httpx.AsyncClient`` carrying the upstream's key
   (never the client's);
5. the answer comes back as it was: status, headers (hop-by-hop ones aside) and body; streams
   chunk by chunk as they arrive;
6. one usage event is handed to the recorder, which journals it (the answer's last bytes wait until
   the record is on disk, so a crash cannot lose usage a client was answered for) and commits it to
   the store in batches, off the request path.

Event ids say how complete a record is (the store keeps the id; see ``docs/proxy.md``):
``pxy-<process>-<n>`` a complete answer; ``pxy-cut-...`` a stream cut off (upstream died, or the
client left) with what was seen so far; ``pxy-err-<status>-...`` a request that failed upstream
(``num_model_requests`` 1, nothing else).
"""

from __future__ import annotations

import asyncio
import contextlib
import http.cookiejar
import itertools
import logging
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal
from urllib.parse import quote

import httpx
import orjson
from starlette.types import Receive, Scope, Send

from ..auth import Principal, require
from ..errors import ApiError, NotFoundError, RequestTooLargeError, invalid
from ..ingest.events import MAX_STR_LEN
from ..spec import ENDPOINTS_BY_TYPE
from .budget import BudgetGuard, SpendFn, costs_endpoint_spend
from .journal import Journal, JournalWriteError, default_journal_dir, replay_orphans
from .metering import METERED, STREAM_USAGE_PATHS, answer_fields, multipart_model
from .paths import check_path
from .recorder import CONTROL, FLUSH_AFTER_S, MAX_PENDING, Recorder
from .sse import StreamMeter
from .transport import Answer, FastTransport
from .upstreams import Router, Upstream

if TYPE_CHECKING:  # annotations only: the server's modules import this one's settings at run time
    from ..server.core import AppCore
    from ..store.base import Store

log = logging.getLogger("openusage.proxy")

RESERVED = ("/organization/", "/usage/", "/openusage/")
"""Paths below /v1 that belong to openusage itself and are never forwarded."""
_RESERVED_NAMES = frozenset(p.strip("/") for p in RESERVED)

_REQUEST_DROP = frozenset({
    b"host", b"authorization", b"content-length", b"connection", b"keep-alive", b"proxy-authorization",
    b"proxy-connection", b"te", b"trailer", b"transfer-encoding", b"upgrade", b"accept-encoding",
    b"expect", b"openai-organization", b"openai-project",
})
_RESPONSE_DROP = frozenset({
    b"connection", b"keep-alive", b"proxy-authenticate", b"transfer-encoding", b"upgrade", b"trailer",
    b"content-length", b"content-encoding", b"date", b"server",
})


@dataclass
class ProxySettings:
    """The proxy's configuration, built by ``openusage serve --upstream`` (or a test)."""

    upstreams: list[Upstream]
    budgets: dict[str, Decimal] = field(default_factory=dict)
    """Monthly dollar limits by project id."""
    budget_ttl: float = 5.0
    """Seconds a project's month-to-date spend is cached."""
    connect_timeout: float = 10.0
    read_timeout: float = 600.0
    """Longest silence tolerated from an upstream (a slow first token included)."""
    max_connections: int = 1000
    """Idle keep-alive connections kept per upstream host."""
    record_interval: float = FLUSH_AFTER_S
    """Seconds usage events are gathered before they are committed together."""
    record_batch: int = MAX_PENDING
    """Events gathered at most before they are committed, whatever ``record_interval`` says."""
    transport: Literal["fast", "httpx"] = "fast"
    """``fast``: the lean HTTP/1.1 transport of :mod:`.transport`; ``httpx``: httpx's own (HTTP/1.1 via
    httpcore), for what the fast one leaves out."""
    journal: str | bool = True
    """Where usage is journaled before answers end (:mod:`.journal`): True for the default place
    (beside the store file), a directory, or False for no journal (a crash then loses recent usage)."""
    tune_gc: bool = False
    """Once the server has started, freeze what it holds and collect young objects less often
    (:mod:`.gcpolicy`): ``openusage serve`` sets it; an app embedded in another process leaves its GC alone."""


_PROCESS_ID = uuid.uuid4().hex[:16]
_counter = itertools.count()


def _new_id() -> str:
    """Unique without a syscall: a random id per process, then a counter (``<16 hex>-<n>``)."""
    return f"{_PROCESS_ID}-{next(_counter)}"


@dataclass(slots=True)
class _Call:
    """What one request is, as far as metering goes."""

    path: str
    target: str
    """The path below /v1 as the client sent it (canonical, see :mod:`.paths`), forwarded as is."""
    kind: str | None
    started: float
    project_id: str | None
    api_key_id: str
    user_id: str | None
    model: str | None
    request: dict[str, Any]
    uid: str = ""
    """``<process>-<n>``, shared by the ids of this request's events (a stream's begun and final one)."""

    def event(self, prefix: str, fields: dict[str, Any]) -> dict[str, Any]:
        """The event of this request; its strings are ready for the store as they are (the client's were
        checked by :func:`_dimensions`, empty ones are None, ``fields`` come from :mod:`.metering`)."""
        assert self.kind is not None
        if not self.uid:
            self.uid = _new_id()
        ev: dict[str, Any] = {"id": f"{prefix}{self.uid}", "type": self.kind, "timestamp": self.started,
                              "project_id": self.project_id, "api_key_id": self.api_key_id,
                              "user_id": self.user_id, "model": self.model,
                              "num_model_requests": 1}  # one call, whatever it holds (5 moderation inputs: 1)
        if self.kind == "completions":
            ev["batch"] = False
        ev.update(fields)
        return ev

    def failed(self, status: int) -> dict[str, Any]:
        """A request the upstream did not serve: one request, zero of everything else."""
        assert self.kind is not None
        zeros = {m.name: 0 for m in ENDPOINTS_BY_TYPE[self.kind].metrics if m.name != "num_model_requests"}
        return self.event(f"pxy-err-{status}-", zeros)


class MeteringProxy:
    """The ASGI app mounted at ``/v1/{path}`` after openusage's own routes."""

    def __init__(self, settings: ProxySettings, spend: SpendFn | None = None) -> None:
        self.settings = settings
        self.router = Router(settings.upstreams)
        self._spend = spend
        self._client: httpx.AsyncClient | None = None
        self._urls: dict[tuple[str, str], httpx.URL] = {}
        self._timeouts: dict[str, float | None] = {}
        self._core: AppCore | None = None
        self._fast: FastTransport | None = None
        self.recorder = Recorder(lambda: self._core.writer if self._core is not None else None,
                                 settings.record_interval, max_pending=settings.record_batch)
        self.budget: BudgetGuard | None = None
        self.replayed = 0
        """Events of earlier processes' journals replayed into the store at start."""

    # -- lifecycle -----------------------------------------------------------------------------
    async def start(self, core: AppCore) -> None:
        """At server start: replay what crashed processes journaled, then open this one's journal."""
        self._bind(core)
        directory = self._journal_dir(core.store)
        if directory is None:
            return
        if core.writer is None:  # replayed events would have nowhere to go: the journals would wait a restart
            raise RuntimeError("the metering proxy starts once the server's writer runs (after lifespan startup)")
        self.replayed = await replay_orphans(directory, core.writer)
        if self.replayed:
            log.warning("replayed %d proxied usage events from the journal in %s", self.replayed, directory)
        self.recorder.journal = Journal(directory, uuid.uuid4().hex[:16])

    def _journal_dir(self, store: Store) -> Path | None:
        j = self.settings.journal
        if j is False:
            return None
        return Path(j) if isinstance(j, str) else default_journal_dir(store)

    def _bind(self, core: AppCore) -> AppCore:
        """Serve for ``core`` (at start, or at the first request of an app started without lifespan)."""
        if self._core is core:
            return core
        self._core = core
        s = self.settings
        self._timeouts = httpx.Timeout(s.read_timeout, connect=s.connect_timeout).as_dict()
        transport = FastTransport(max_idle_per_host=s.max_connections) if s.transport == "fast" else None
        self._fast = transport
        self._client = httpx.AsyncClient(
            cookies=_NoCookies(),  # one client serves every caller: an upstream's cookie must not travel
            timeout=httpx.Timeout(s.read_timeout, connect=s.connect_timeout),
            limits=httpx.Limits(max_connections=None, max_keepalive_connections=s.max_connections),
            follow_redirects=False, transport=transport,
        )
        if s.budgets:
            self.budget = BudgetGuard(s.budgets, self._spend or costs_endpoint_spend(core.service), s.budget_ttl)
        return core

    async def aclose(self) -> None:
        """Commit every gathered event (the journal is then empty) and close the upstream connections."""
        await self.recorder.aclose()
        self.recorder.journal = None
        client, self._client, self._core = self._client, None, None  # a restarted app binds afresh
        if client is not None:
            await client.aclose()

    # -- the request -----------------------------------------------------------------------------
    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        core = self._core
        if core is None:
            core = self._bind(scope["app"].state.core)
        raw = scope.get("raw_path") or quote(scope["path"]).encode("ascii")  # servers without raw_path
        path = _forwardable(raw, scope)
        head = _RequestHead(scope["headers"])
        principal = require(await self._identify(scope, head.token, core), "proxy")
        body = await self._read_body(receive, core.settings.max_body_bytes)
        if body is None:
            return  # nothing to answer, nothing forwarded
        kind = METERED.get(path) if scope["method"] == "POST" else None
        request, model = _parse_body(body, head.content_type)
        project, user = _dimensions(kind, model, request, principal.project_id or head.project, head.user)
        upstream = self.router.choose(model)
        if upstream is None:
            raise NotFoundError(f"The model `{model}` does not exist or you do not have access to it.",
                                code="model_not_found", param="model")
        if self.budget is not None:
            await self.budget.check(project)
        call = _Call(path, raw[3:].decode("ascii"), kind, time.time(), project or None, principal.key_id,
                     user or None, model or None, request)  # an empty string is no dimension
        body, hide = _with_stream_usage(call, body)
        await self._forward(scope, receive, send, upstream, body, call, hide)

    async def _identify(self, scope: Scope, token: str | None, core: AppCore) -> Principal:
        """The caller's principal: the one the server's gate found already, else the key's own."""
        state = scope.setdefault("state", {})
        if "principal" in state:  # the server's gate checked this key already (once per request)
            principal: Principal = state["principal"]
            return principal
        if "auth_error" in state:
            raise state["auth_error"]
        keys = core.keys
        found = keys.verify(token) if keys.is_cached(token) else await asyncio.to_thread(keys.verify, token)
        state["key_id"] = found.key_id  # the public id, for the access log
        return found

    async def _forward(self, scope: Scope, receive: Receive, send: Send, upstream: Upstream, body: bytes,
                       call: _Call, hide: bool) -> None:
        resp = await self._send_upstream(scope, upstream, body, call)
        try:
            headers, event_stream = _answer_headers(resp.raw_headers)
            if event_stream and resp.status_code < 400:
                await self._stream(resp, headers, call, hide, receive, send)
            elif (call.kind is not None and call.kind != "audio_speeches") or resp.status_code >= 400:
                await self._whole(resp, headers, call, send)
            else:
                await self._pass(resp, headers, call, receive, send)
        finally:
            await resp.aclose()

    async def _send_upstream(self, scope: Scope, upstream: Upstream, body: bytes, call: _Call) -> Answer:
        """The upstream's answer (its head; the body follows); unreachable, it is a 502 (504 on a timeout),
        recorded as a failed request."""
        assert self._client is not None
        headers = [(k, v) for k, v in scope["headers"] if k not in _REQUEST_DROP]
        headers.append((b"accept-encoding", b"identity"))
        if upstream.authorization:
            headers.append((b"authorization", upstream.authorization))
        url = self._url(upstream, call.target, scope.get("query_string") or b"", call.kind is not None)
        try:
            if self._fast is not None:  # straight to the connection pool, the request as it goes on the wire
                if body:
                    headers.append((b"content-length", str(len(body)).encode()))
                return await self._fast.send_raw(scope["method"].encode(), url, headers, body,
                                                 self._timeouts["connect"], self._timeouts["read"])
            # A bare Request, not client.build_request: nothing of the client's (cookies, default
            # headers) belongs on a caller's request; the timeouts travel as build_request puts them.
            req = httpx.Request(scope["method"], url, headers=headers, content=body,
                                extensions={"timeout": self._timeouts})
            return _HttpxAnswer(await self._client.send(req, stream=True))
        except httpx.HTTPError as exc:
            status = 504 if isinstance(exc, httpx.TimeoutException) else 502
            if call.kind is not None:
                await self._record(call.failed(status))
            log.warning("upstream %s failed: %r", upstream.shown, exc)
            raise ApiError(f"The upstream model server could not be reached ({type(exc).__name__}).",
                           status=status, type="server_error", code="upstream_unavailable") from None

    def _url(self, upstream: Upstream, target: str, qs: bytes, metered: bool) -> httpx.URL:
        """The upstream URL of a request; those of the few metered paths are parsed once and kept."""
        if qs or not metered:
            return httpx.URL(upstream.url_for(target) + ("?" + qs.decode("latin-1") if qs else ""))
        key = (upstream.base_url, target)
        url = self._urls.get(key)
        if url is None:
            url = self._urls[key] = httpx.URL(upstream.url_for(target))
        return url

    async def _whole(self, resp: Answer, headers: list[tuple[bytes, bytes]], call: _Call,
                     send: Send) -> None:
        """A complete answer: read it, meter it, send it on."""
        try:
            content = await resp.aread()
        except httpx.HTTPError as exc:
            if call.kind is not None:
                await self._record(call.failed(502))
            raise ApiError(f"The upstream model server broke off its answer ({type(exc).__name__}).",
                           status=502, type="server_error", code="upstream_unavailable") from None
        headers.append((b"content-length", str(len(content)).encode()))
        if call.kind is not None:  # journaled before the answer leaves: a crash cannot lose it
            if resp.status_code >= 400:
                await self._record(call.failed(resp.status_code))
            else:
                try:
                    answer = orjson.loads(content) if content else {}
                except orjson.JSONDecodeError:
                    answer = {}  # a non-JSON answer (text/srt/vtt transcripts): the request is all we know
                await self._record(call.event("pxy-", answer_fields(call.path, call.request, answer)))
        await send({"type": "http.response.start", "status": resp.status_code, "headers": headers})
        await send({"type": "http.response.body", "body": content})

    async def _pass(self, resp: Answer, headers: list[tuple[bytes, bytes]], call: _Call,
                    receive: Receive, send: Send) -> None:
        """Any other answer (audio, files, model lists): streamed through untouched."""
        raw_length = resp.header(b"content-length")
        length = raw_length.decode("latin-1") if raw_length is not None else None
        if length is not None and resp.header(b"content-encoding") is None:  # passed on byte for byte
            headers.append((b"content-length", raw_length))  # type: ignore[arg-type]
        if call.kind is None:
            await send({"type": "http.response.start", "status": resp.status_code, "headers": headers})
            await _relay(resp, lambda chunk: chunk, receive, send)
            return
        fields = answer_fields(call.path, call.request, {})
        await _durable(self.recorder.begin(call.event("pxy-cut-", fields), checked=True))  # a crash from here on
        # still leaves a record of the request, marked cut
        await send({"type": "http.response.start", "status": resp.status_code, "headers": headers})
        expected = int(length) if length is not None and length.isdigit() else None
        sent = 0
        recorded = False

        def before(chunk: bytes, last: bool) -> Awaitable[None] | None:
            """Journal the event before the answer's last bytes: the chunk that completes its length."""
            nonlocal sent, recorded
            sent += len(chunk)
            if not recorded and (last or (expected is not None and sent >= expected)):
                recorded = True
                return self.recorder.record(call.event("pxy-", fields), ends=True, checked=True)
            return None

        await _relay(resp, lambda chunk: chunk, receive, send, before=before)
        if not recorded:  # the client left, or the upstream broke off
            self.recorder.record(call.event("pxy-cut-", fields), ends=True, checked=True)

    async def _stream(self, resp: Answer, headers: list[tuple[bytes, bytes]], call: _Call, hide: bool,
                      receive: Receive, send: Send) -> None:
        """Server-sent events, forwarded as they come, read along for the usage."""
        meter = StreamMeter(hide_usage_chunk=hide)
        recorded = False

        def settle(whole: bool) -> asyncio.Future[None] | None:
            """Record the stream's event once: complete, or cut off with what was seen."""
            nonlocal recorded
            if recorded:
                return None
            recorded = True
            seen = {"usage": meter.usage, "model": meter.model, "service_tier": meter.service_tier}
            fields = answer_fields(call.path, call.request, seen)  # as if the stream were one answer
            if meter.usage is None and meter.output_events and call.kind == "completions":
                fields["output_tokens"] = fields["output_text_tokens"] = meter.output_events
            return self.recorder.record(call.event("pxy-" if whole else "pxy-cut-", fields), ends=True, checked=True)

        def before(chunk: bytes, last: bool) -> Awaitable[None] | None:
            """The piece that finishes the stream ([DONE], response.completed) waits for the journal."""
            if not recorded and (meter.finished or last):
                return settle(meter.finished or meter.usage is not None)
            return None

        if call.kind is not None:  # a crash from here on still leaves a record of the request, marked cut
            await _durable(self.recorder.begin(call.event("pxy-cut-", answer_fields(call.path, call.request, {})),
                                                  checked=True))
        await send({"type": "http.response.start", "status": resp.status_code, "headers": headers})
        complete = await _relay(resp, meter.feed, receive, send, meter.tail,
                                before=before if call.kind is not None else None)
        if complete is None:  # the upstream broke off: tell the client in the protocol's own way
            if call.kind is not None and (wait := settle(False)) is not None:
                await wait
            error = {"error": {"message": "The upstream model server ended the stream early.",
                               "type": "server_error", "param": None, "code": "upstream_stream_interrupted"}}
            await send({"type": "http.response.body", "body": b"data: " + orjson.dumps(error) + b"\n\n",
                        "more_body": True})
            await send({"type": "http.response.body", "body": b"", "more_body": False})
        elif call.kind is not None:
            settle(False)  # the client left: nobody to answer, nothing to wait for

    async def _record(self, event: dict[str, Any]) -> None:
        """Record an event of :meth:`_Call.event` (its strings checked) and wait until the journal has it on disk."""
        await _durable(self.recorder.record(event, checked=True))

    async def _read_body(self, receive: Receive, limit: int) -> bytes | None:
        """The whole request body; None if the client left before sending it."""
        chunks: list[bytes] = []
        size = 0
        while True:
            msg = await receive()
            if msg["type"] == "http.disconnect":
                return None
            chunk = msg.get("body", b"")
            size += len(chunk)
            if size > limit:
                raise RequestTooLargeError(f"The request body is larger than {limit} bytes.")
            chunks.append(chunk)
            if not msg.get("more_body", False):
                return b"".join(chunks)


async def _durable(journaled: Awaitable[None] | None) -> None:
    """Wait until an event is on disk; if the journal cannot write it (a full disk), the answer is
    withheld with a 503: an answer that reached the client must never be missing from the usage."""
    if journaled is None:
        return
    try:
        await journaled
    except JournalWriteError:
        raise ApiError("The usage of this request could not be recorded (the server's disk is full); the "
                       "answer is withheld. Retry later.", status=503, type="server_error",
                       code="usage_not_recorded", headers={"retry-after": "2"}) from None


async def _relay(resp: Answer, transform: Callable[[bytes], bytes], receive: Receive, send: Send,
                 tail: Callable[[], bytes] | None = None,
                 before: Callable[[bytes, bool], Awaitable[None] | None] | None = None) -> bool | None:
    """Copy the upstream body to the client as it arrives, ending the response.

    ``before(out, last)`` sees each piece about to be sent (``last`` for the end of the answer); when
    it returns an awaitable, the piece waits for it (the usage journaled before the answer ends).
    Returns True when all of it went through, False when the client left (the upstream request is
    then abandoned), None when the upstream broke off (the response is left open for the caller).
    """

    async def pump() -> bool | None:
        try:
            async for chunk in resp.aiter_bytes():
                out = transform(chunk)
                if before is not None and (wait := before(out, False)) is not None:
                    await wait
                if out:
                    await send({"type": "http.response.body", "body": out, "more_body": True})
        except httpx.HTTPError as exc:
            log.warning("upstream stream broke off: %r", exc)
            return None
        last = tail() if tail is not None else b""
        if before is not None and (wait := before(last, True)) is not None:
            await wait
        await send({"type": "http.response.body", "body": last, "more_body": False})
        return True

    async def client_gone() -> bool:
        while (await receive())["type"] != "http.disconnect":
            pass
        return False

    pumping = asyncio.ensure_future(pump())
    watching = asyncio.ensure_future(client_gone())
    try:
        await asyncio.wait((pumping, watching), return_when=asyncio.FIRST_COMPLETED)
    finally:
        watching.cancel()
        if not pumping.done():
            pumping.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await pumping
    if not pumping.cancelled():
        return pumping.result()
    return False


class _HttpxAnswer(Answer):
    """An ``httpx.Response`` (``transport="httpx"``) seen as an :class:`Answer`."""

    __slots__ = ("_resp",)

    def __init__(self, resp: httpx.Response) -> None:
        self.status_code = resp.status_code
        self.raw_headers = resp.headers.raw
        self._resp = resp

    def aiter_bytes(self) -> Any:
        return self._resp.aiter_bytes()

    async def aread(self) -> bytes:
        return await self._resp.aread()

    async def aclose(self) -> None:
        await self._resp.aclose()


class _NoCookies(http.cookiejar.CookieJar):
    """A jar that keeps nothing: cookies pass between client and upstream in headers, untouched."""

    def __init__(self) -> None:
        super().__init__(http.cookiejar.DefaultCookiePolicy(allowed_domains=[]))

    def extract_cookies(self, response: Any, request: Any) -> None:
        return None


def _recordable(value: str | None, param: str) -> None:
    """Refuse (400, before forwarding) a client string that would become a dimension of the usage event
    and that the store cannot hold as it is: control characters (NUL) or more than the length limit.
    Refusing keeps metering exact; cutting or cleaning would record another name than the client's."""
    if value is None:
        return
    if len(value) > MAX_STR_LEN:
        raise invalid(param, f"`{param}` is longer than {MAX_STR_LEN} characters ({len(value)}); it is recorded "
                             "with the usage of this request and must be shorter.")
    if CONTROL.search(value):
        raise invalid(param, f"`{param}` contains control characters (such as NUL); it is recorded with the "
                             "usage of this request and must be printable text.")


def _answer_headers(raw_headers: list[tuple[bytes, bytes]]) -> tuple[list[tuple[bytes, bytes]], bool]:
    """The upstream's headers to pass on (lower-cased, hop-by-hop and framing ones dropped), and
    whether the answer is a server-sent event stream."""
    out: list[tuple[bytes, bytes]] = []
    event_stream = False
    for k, v in raw_headers:
        k = k.lower()
        if k not in _RESPONSE_DROP:
            out.append((k, v))
            if k == b"content-type":
                event_stream = v.startswith(b"text/event-stream")
    return out, event_stream


def _forwardable(raw: bytes, scope: Scope) -> str:
    """The path below /v1 (decoded) that may go upstream: canonical (400 otherwise, :mod:`.paths`), and
    none of openusage's own, in any spelling an upstream might take for it (``Organization``,
    ``organization;x``, no trailing slash): those are never sent upstream with the upstream's key."""
    path = check_path(raw)
    if path[1:].split("/", 1)[0].split(";", 1)[0].lower() in _RESERVED_NAMES:
        raise NotFoundError(f"Invalid URL ({scope['method']} {scope['path']})")
    return path


class _RequestHead:
    """The request headers metering reads, found in one pass over them."""

    __slots__ = ("content_type", "project", "token", "user")

    def __init__(self, headers: list[tuple[bytes, bytes]]) -> None:
        self.token: str | None = None
        self.user: str | None = None
        self.content_type: bytes | None = None
        self.project: str | None = None
        project_seen = False
        for k, v in headers:
            if k == b"authorization":
                scheme, _, rest = v.decode("latin-1").partition(" ")
                self.token = rest.strip() if scheme.lower() == "bearer" and rest.strip() else None
            elif k == b"openai-user":
                self.user = v.decode("utf-8", "replace")
            elif k == b"content-type":
                self.content_type = v
            elif k == b"openai-project" and not project_seen:  # the first one counts
                project_seen = True
                self.project = v.decode("utf-8", "replace") or None


def _parse_body(body: bytes, content_type: bytes | None) -> tuple[dict[str, Any], str | None]:
    """The JSON request (``{}`` for any other body) and its model: from the JSON, or from a multipart
    form's ``model`` field; a JSON body that does not parse is a 400."""
    if not body or content_type is None:
        return {}, None
    if content_type.startswith(b"application/json"):
        try:
            parsed = orjson.loads(body)
        except orjson.JSONDecodeError:
            raise invalid(None, "We could not parse the JSON body of your request.") from None
        if isinstance(parsed, dict):
            model = parsed.get("model")
            return parsed, model if isinstance(model, str) else None
        return {}, None
    if content_type.startswith(b"multipart/form-data"):
        return {}, multipart_model(body)
    return {}, None


def _dimensions(kind: str | None, model: str | None, request: dict[str, Any], project: str | None,
                user_header: str | None) -> tuple[str | None, str | None]:
    """The project and user the event is recorded under (the body's ``user`` before the OpenAI-User
    header); for a metered request, every client string that becomes a dimension is checked first."""
    body_user = request.get("user")
    user = body_user if isinstance(body_user, str) else user_header
    if kind is not None:  # these become the event's dimensions: the store must hold them as they are
        _recordable(model, "model")
        _recordable(user, "user" if isinstance(body_user, str) else "OpenAI-User")
        _recordable(project, "OpenAI-Project")
    return project, user


def _with_stream_usage(call: _Call, body: bytes) -> tuple[bytes, bool]:
    """The body to send upstream, and whether the answer's usage chunk is the proxy's own to hide: a
    metered stream that did not ask for usage gets ``stream_options.include_usage`` added."""
    request = call.request
    if call.kind is None or request.get("stream") is not True or call.path not in STREAM_USAGE_PATHS:
        return body, False
    opts = request.get("stream_options")
    if isinstance(opts, dict) and opts.get("include_usage"):
        return body, False
    return orjson.dumps({**request, "stream_options": {**(opts if isinstance(opts, dict) else {}),
                                                       "include_usage": True}}), True
