"""The lean HTTP path of the Osiris users: one keep-alive connection per user, request heads built
once, and exactly one Locust ``request`` event per request.

Why: a request sent through Locust's ``FastHttpSession`` with ``catch_response`` crosses Locust's
session wrapper, geventhttpclient's ``UserAgent`` (URL objects, header merging, retries, redirects,
cookie jar), ``HTTPClient`` (request validation and building, a case-insensitive header merge) and
its connection pool (a semaphore, a queue and a ``select`` liveness probe per request), then a
``ResponseContextManager`` that copies the response. For the scenarios' fixed requests almost all
of that is the same work every time, and it cost more per request than k6 spends in total
(``docs/benchmarks.md``, "Generator CPU per request"). This path keeps what users rely on:

* the same ``request`` event, with the same fields (``request_type``, ``name``, ``response_time``
  in ms from before the send to the end of the body, ``response_length`` of the decoded body,
  ``exception``, ``context``, ``response``, ``start_time``, ``url``), so Locust's statistics, the
  web UI, ``--csv``, the report, ``--processes``/workers and the SLO gate see what they saw;
* failures as ``catch_response`` marks them (``CatchResponseError(why)``), and connection errors
  with the text ``FastHttpSession`` gives them;
* connection reuse (one socket per user, as ``FastHttpUser`` holds one per user), TLS, a base URL
  with a path or credentials, gzip/deflate bodies, the user's ``connection_timeout`` and
  ``network_timeout``.

It is used only by the scenario request methods of ``OsirisUser``; ``self.client`` stays Locust's
``FastHttpSession`` for anything a locustfile writes itself. Not handled here (the scenarios never
need them): redirects (a 3xx is a failed check), cookies, streaming.
"""

from __future__ import annotations

import base64
import errno
import json
import socket as stdlib_socket
import ssl
import time
import zlib
from collections.abc import Callable
from typing import Any
from urllib.parse import unquote, urlsplit

import gevent
from gevent import monkey
from gevent import socket as gsocket
from geventhttpclient.response import HTTPConnectionClosed, HTTPParseError, HTTPSocketResponse
from geventhttpclient.useragent import RetriesExceeded
from locust.exception import CatchResponseError

_select = monkey.get_original("select", "select")
"""The unpatched ``select``: a zero-timeout probe of an idle socket need not go through the hub."""

IDLE_PROBE_S = 1.0
"""A socket idle longer than this is probed before reuse (a server closing idle keep-alive
connections, uvicorn after 5 s, must not cost a request); a busy one is not probed at all."""

IDEMPOTENT = frozenset({"GET", "HEAD", "OPTIONS", "PUT", "DELETE", "TRACE"})
"""Methods resent once on a fresh connection when a reused one turns out closed (RFC 9110 9.2.2)."""

_RETRYABLE_ERRNOS = frozenset({errno.ETIMEDOUT, errno.ENOLINK, errno.ENOENT, errno.EPIPE})

Problem = Callable[["LeanResponse"], "str | None"]
"""A response check: why the response fails, or None. Runs only on a received or failed response."""


class LeanResponse:
    """What a check and the ``request`` event's listeners see: the fields of Locust's
    ``FastResponse`` that this project reads (``status_code`` 0 and ``error`` set when nothing came
    back), plus ``text``/``json()``/``ok`` for checks written against Locust's response."""

    __slots__ = ("status_code", "content", "headers", "error", "url")

    def __init__(self, status_code: int, content: bytes | None, headers: Any, error: BaseException | None,
                 url: str) -> None:
        self.status_code = status_code
        self.content = content
        self.headers = headers
        self.error = error
        self.url = url

    @property
    def ok(self) -> bool:
        return 0 < self.status_code < 400

    @property
    def text(self) -> str | None:
        return None if self.content is None else self.content.decode("utf-8", "replace")

    def json(self) -> Any:
        return json.loads(self.content or b"")


class LeanSession:
    """One user's connection to the target and the requests it sends (one greenlet at a time)."""

    def __init__(self, base_url: str, request_event: Any, user: Any, connection_timeout: float = 60.0,
                 network_timeout: float = 60.0) -> None:
        parts = urlsplit(base_url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError(f"not an http(s) URL: {base_url!r}")
        self._tls = parts.scheme == "https"
        self._host = parts.hostname
        self._port = parts.port or (443 if self._tls else 80)
        self._prefix = parts.path.rstrip("/")
        netloc = parts.netloc.rpartition("@")[2]
        self.base_url = f"{parts.scheme}://{netloc}{self._prefix}"  # as Locust builds event URLs
        host_header = netloc if parts.port not in (80, 443) else netloc.rsplit(":", 1)[0]
        self._base_head = f"Host: {host_header}\r\nUser-Agent: osiris-load\r\nAccept-Encoding: gzip, deflate\r\n"
        if parts.username is not None:
            token = f"{unquote(parts.username)}:{unquote(parts.password or '')}".encode("latin-1")
            self._base_head += f"Authorization: Basic {base64.b64encode(token).decode('ascii')}\r\n"
        self._fire = request_event.fire
        self._user = user
        self._connection_timeout = connection_timeout
        self._network_timeout = network_timeout
        self._sock: Any = None
        self._idle_since = 0.0
        self._heads: dict[tuple[str, str, bytes | None, Any], bytes] = {}
        self._ssl_context: ssl.SSLContext | None = None

    # -- the hot path ------------------------------------------------------------------------------
    def checked(self, method: str, path: str, name: str, body: bytes | None, headers: dict[str, str] | None,
                problem: Problem) -> LeanResponse:
        """Send one request, check its response with ``problem`` and fire one ``request`` event.

        ``headers`` must be a dict that does not change (a module constant): the request head is
        built once per (method, path, body, headers).
        """
        head = self._heads.get((method, path, body, id(headers)))
        if head is None:
            head = self._build_head(method, path, body, headers)
        url = self.base_url + path
        context = self._user.context()
        start_time = time.time()
        started = time.perf_counter()
        try:
            status, content, response_headers = self._exchange(method, head)
            error = None
        except (OSError, HTTPParseError, gevent.Timeout, zlib.error) as exc:  # Locust's FAILURE_EXCEPTIONS
            status, content, response_headers, error = 0, None, None, _as_locust_error(exc, url)
        response_time = (time.perf_counter() - started) * 1000.0
        response = LeanResponse(status, content, response_headers, error, url)
        why = problem(response)
        self._fire(request_type=method, name=name, response_time=response_time,
                   response_length=len(content) if content else 0,
                   exception=None if why is None else CatchResponseError(why),
                   context=context, response=response, start_time=start_time, url=url)
        return response

    def _exchange(self, method: str, head: bytes) -> tuple[int, bytes, Any]:
        """Send ``head`` and read the whole response; a reused socket found closed before any answer
        is replaced once (for idempotent methods, or when it was found closed before sending)."""
        sock = self._sock
        if sock is not None and time.perf_counter() - self._idle_since > IDLE_PROBE_S and not _alive(sock):
            self._drop()
            sock = None
        reused = sock is not None
        if sock is None:
            sock = self._sock = self._connect()
        try:
            _send(sock, head)
            response = HTTPSocketResponse(sock, method=method)
            content = bytes(response.read())
        except (HTTPConnectionClosed, ConnectionResetError, BrokenPipeError):
            self._drop()
            if not (reused and method in IDEMPOTENT):
                raise
            sock = self._sock = self._connect()
            try:
                _send(sock, head)
                response = HTTPSocketResponse(sock, method=method)
                content = bytes(response.read())
            except BaseException:
                self._drop()
                raise
        except BaseException:
            self._drop()
            raise
        if response.should_close():
            self._drop()
        else:
            self._idle_since = time.perf_counter()
        encoding = response.get("content-encoding")
        if encoding and content:
            content = _decode(content, encoding)
        return response.status_code, content, response.info()

    # -- connection and heads (not per request) ----------------------------------------------------
    def _connect(self) -> Any:
        sock = gsocket.create_connection((self._host, self._port), timeout=self._connection_timeout)
        sock.setsockopt(stdlib_socket.IPPROTO_TCP, stdlib_socket.TCP_NODELAY, 1)
        if self._tls:
            if self._ssl_context is None:
                context = gevent.ssl.create_default_context()  # unverified, as FastHttpUser (insecure=True)
                context.check_hostname = False
                context.verify_mode = ssl.CERT_NONE
                self._ssl_context = context
            sock = self._ssl_context.wrap_socket(sock, server_hostname=self._host)
        sock.settimeout(self._network_timeout)
        return sock

    def _drop(self) -> None:
        sock, self._sock = self._sock, None
        if sock is not None:
            try:
                sock.close()
            except OSError:
                pass

    def close(self) -> None:
        """Close the connection (the user stopped)."""
        self._drop()

    def _build_head(self, method: str, path: str, body: bytes | None, headers: dict[str, str] | None) -> bytes:
        lines = [f"{method} {self._prefix}{path} HTTP/1.1\r\n", self._base_head]
        for field, value in (headers or {}).items():
            lines.append(f"{field}: {value}\r\n")
        if body is not None or method in ("POST", "PUT", "PATCH"):
            lines.append(f"Content-Length: {len(body or b'')}\r\n")
        lines.append("\r\n")
        head = "".join(lines).encode("latin-1") + (body or b"")
        if len(self._heads) >= 64:  # a caller passing fresh header dicts: stay bounded
            self._heads.clear()
        self._heads[(method, path, body, id(headers))] = head
        return head


def _send(sock: Any, data: bytes) -> None:
    """``sendall`` without its per-call cost in gevent (a ``getsockopt`` and a timeout object): a
    request head fits the socket's buffer, so one ``send`` almost always takes all of it."""
    sent = sock.send(data)
    if sent < len(data):
        sock.sendall(data[sent:])


def _alive(sock: Any) -> bool:
    """An idle keep-alive socket is not readable; readable means closed (or garbage) by the server."""
    try:
        if sock.fileno() < 0:
            return False
        readable, _, _ = _select([sock], [], [], 0.0)
        return not readable
    except (OSError, ValueError):
        return False


def _decode(content: bytes, encoding: Any) -> bytes:
    """gzip/deflate bodies decoded as Locust's FastResponse decodes them (the length is the decoded one)."""
    value = (encoding if isinstance(encoding, str) else ",".join(encoding)).strip().lower()
    if value == "gzip":
        return zlib.decompress(content, 16 + zlib.MAX_WBITS)
    if value == "deflate":
        try:
            return zlib.decompress(content)
        except zlib.error:
            return zlib.decompress(content, -zlib.MAX_WBITS)
    return content


def _as_locust_error(exc: BaseException, url: str) -> BaseException:
    """The error ``FastHttpSession`` reports for the same failure (geventhttpclient's ``UserAgent``
    with Locust's ``max_retries=0`` wraps timeouts and these errnos in ``RetriesExceeded``), so the
    failure's text, and Locust's error table, are the same."""
    if (isinstance(exc, (stdlib_socket.timeout, gevent.Timeout))
            or isinstance(exc, OSError) and exc.errno in _RETRYABLE_ERRNOS):
        return RetriesExceeded(url, 0, original=exc)
    return exc
