"""A second HTTP sender: libcurl's multi interface (pycurl) on the running asyncio loop.

Same protocol, options and guarantees as :class:`callhook.delivery.sender.HttpSender`
(``send`` -> :class:`Response` or :class:`SendError` with the same ``kind`` values),
built for throughput: one ``pycurl.CurlMulti`` per sender whose sockets and timer are
driven by the loop (``M_SOCKETFUNCTION`` -> ``loop.add_reader``/``add_writer``,
``M_TIMERFUNCTION`` -> ``loop.call_later``, as in tornado's curl_httpclient), and a
pool of reusable easy handles. Connections live in the multi handle's pool, so
keep-alive connections are shared by all handles.

Per request: the method, the URL exactly as given (``PATH_AS_IS``; no re-encoding, so
a signature over a GET query string stays valid), the headers, the body with its
size (``POSTFIELDSIZE_LARGE``, streamed by ``READFUNCTION`` rather than ``POSTFIELDS``
so that libcurl cannot silently re-send it: see :class:`_Transfer`) and without
``Expect: 100-continue``, HTTP/1.1, the
connect and total timeouts, TLS verification (on unless ``verify_tls=False``; the CA
file is the one Python's ``ssl`` uses, because the pycurl wheel's built-in path is
that of another distribution), redirects not followed, no proxy from the environment,
no signals. The response body is kept up to ``body_cap`` bytes; the rest is read and
dropped (so the connection stays reusable) up to :data:`DISCARD_LIMIT` bytes, beyond
which the connection is closed and the capped answer returned.

Outbound address policy: with ``allow_private=False`` every address libcurl is about
to connect to -- after its own resolution, literal addresses included -- goes through
``OPENSOCKETFUNCTION``, which refuses private, loopback, link-local and reserved ones
(:func:`callhook.delivery.sender.address_allowed`); a request that could only reach
denied addresses fails with ``SendError("address", ...)``.

A cancelled ``send`` removes its transfer from the multi handle (its connection is
closed). ``close()`` fails the sends still running with ``SendError("connection")`` and
releases the handles, the sockets and the loop callbacks. Create and use a sender
inside one running loop.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import socket
import ssl
from typing import Any

import pycurl

from callhook.core.dialects.base import Request
from callhook.delivery.sender import Response, SenderOptions, SendError, address_allowed

__all__ = ["DISCARD_LIMIT", "CurlSender", "curl_version"]

log = logging.getLogger(__name__)

DISCARD_LIMIT = 1 << 20  # response bytes read past the cap before the connection is dropped

_READ, _WRITE = 1, 2
_POLL_MASK = {pycurl.POLL_NONE: 0, pycurl.POLL_IN: _READ, pycurl.POLL_OUT: _WRITE, pycurl.POLL_INOUT: _READ | _WRITE}

_E_WRITE_ERROR = pycurl.E_WRITE_ERROR
_E_TIMEOUT = pycurl.E_OPERATION_TIMEDOUT
_E_COULDNT_CONNECT = pycurl.E_COULDNT_CONNECT

# libcurl error codes -> SendError kinds (anything else: "protocol")
_KINDS: dict[int, str] = {
    3: "url",  # URL_MALFORMAT
    5: "dns",  # COULDNT_RESOLVE_PROXY
    6: "dns",  # COULDNT_RESOLVE_HOST
    7: "connect",  # COULDNT_CONNECT
    45: "connect",  # INTERFACE_FAILED
    18: "connection",  # PARTIAL_FILE: fewer body bytes than announced
    65: "connection",  # SEND_FAIL_REWIND: a reused connection closed before any answer (see _Transfer)
    52: "connection",  # GOT_NOTHING: closed before any answer
    55: "connection",  # SEND_ERROR
    56: "connection",  # RECV_ERROR: reset mid-exchange
    35: "tls",  # SSL_CONNECT_ERROR
    51: "tls",
    53: "tls",
    54: "tls",
    58: "tls",  # SSL_CERTPROBLEM
    59: "tls",  # SSL_CIPHER
    60: "tls",  # PEER_FAILED_VERIFICATION
    64: "tls",  # USE_SSL_FAILED
    66: "tls",  # SSL_ENGINE_INITFAILED
    77: "tls",  # SSL_CACERT_BADFILE
    80: "tls",  # SSL_SHUTDOWN_FAILED
    82: "tls",  # SSL_CRL_BADFILE
    83: "tls",  # SSL_ISSUER_ERROR
    90: "tls",  # SSL_PINNEDPUBKEYNOTMATCH
    91: "tls",  # SSL_INVALIDCERTSTATUS
    98: "tls",  # SSL_CLIENTCERT
}


_TIMEOUT_KINDS = {"Resolving": "dns", "Connection": "connect"}  # else "Operation timed out": "timeout"


def curl_version() -> str:
    """PycURL's and libcurl's versions, e.g. ``PycURL/7.49.0 libcurl/8.23.0 OpenSSL/3.6.5 ...``."""
    return str(pycurl.version)


def _ca_file() -> str | None:
    """The CA bundle Python's ssl module (and so aiohttp) trusts, honouring SSL_CERT_FILE."""
    paths = ssl.get_default_verify_paths()
    for candidate in (paths.cafile, paths.openssl_cafile):
        if candidate and os.path.isfile(candidate):
            return candidate
    with contextlib.suppress(ImportError):
        import certifi

        return str(certifi.where())
    return None


def _ca_dir() -> str | None:
    paths = ssl.get_default_verify_paths()
    for candidate in (paths.capath, paths.openssl_capath):
        if candidate and os.path.isdir(candidate):
            return candidate
    return None


def _url_scheme_ok(url: str) -> bool:
    head = url[:8].lower()
    return head.startswith("http://") or head == "https://"


def _header_lines(headers: tuple[tuple[str, str], ...], has_body: bool) -> list[bytes]:
    lines = [b"Expect:"]  # never wait for 100-continue
    content_type = False
    for name, value in headers:
        if not name or "\r" in name or "\n" in name or ":" in name or "\r" in value or "\n" in value:
            raise SendError("protocol", f"invalid header {name!r}")
        if not content_type and name.lower() == "content-type":
            content_type = True
        # "Name;" is libcurl's syntax for a header with an empty value ("Name:" would remove it)
        lines.append(f"{name}: {value}".encode() if value else f"{name};".encode())
    if has_body and not content_type:
        lines.append(b"Content-Type: application/octet-stream")  # as aiohttp; not curl's form type
    return lines


class _Transfer:
    """One easy handle and the state of the request it is carrying."""

    __slots__ = (
        "allowed",
        "body",
        "cap",
        "chunks",
        "complete_head",
        "curl",
        "custom",
        "denied",
        "discarded",
        "dropped",
        "fut",
        "opened",
        "retry_after",
        "sent",
        "size",
    )

    def __init__(self, options: SenderOptions, ca_file: str | None, ca_dir: str | None, opened: list[socket.socket]):
        self.cap = options.body_cap
        self.opened = opened  # sockets created in OPENSOCKETFUNCTION, closed by the sender after libcurl's dup
        self.fut: asyncio.Future[Response] | None = None
        self.body = b""
        self.sent = 0
        self.chunks: list[bytes] = []
        self.size = 0
        self.discarded = 0
        self.dropped = False
        self.retry_after: str | None = None
        self.complete_head = False
        self.denied: list[str] = []
        self.allowed = 0
        self.custom = False  # CUSTOMREQUEST or NOBODY set by the previous request
        c = self.curl = pycurl.Curl()
        c.setopt(pycurl.NOSIGNAL, 1)
        c.setopt(pycurl.HTTP_VERSION, pycurl.CURL_HTTP_VERSION_1_1)
        c.setopt(pycurl.PROTOCOLS, pycurl.PROTO_HTTP | pycurl.PROTO_HTTPS)
        c.setopt(pycurl.REDIR_PROTOCOLS, pycurl.PROTO_HTTP | pycurl.PROTO_HTTPS)
        c.setopt(pycurl.FOLLOWLOCATION, 1 if options.follow_redirects else 0)
        c.setopt(pycurl.MAXREDIRS, 10)
        c.setopt(pycurl.PATH_AS_IS, 1)
        c.setopt(pycurl.PROXY, "")  # no proxy, also not from http_proxy & co.
        c.setopt(pycurl.CONNECTTIMEOUT_MS, max(1, round(options.connect_timeout * 1000)))
        c.setopt(pycurl.TIMEOUT_MS, max(1, round(options.total_timeout * 1000)))
        c.setopt(pycurl.SSL_VERIFYPEER, 1 if options.verify_tls else 0)
        c.setopt(pycurl.SSL_VERIFYHOST, 2 if options.verify_tls else 0)
        if ca_file is not None:
            c.setopt(pycurl.CAINFO, ca_file)
        if ca_dir is not None:
            c.setopt(pycurl.CAPATH, ca_dir)
        c.setopt(pycurl.USERAGENT, options.user_agent)
        # The body goes out through READFUNCTION, not POSTFIELDS, and without a SEEKFUNCTION:
        # libcurl silently re-sends a request whose reused connection closed before any
        # answer; unable to rewind, it fails instead (E_SEND_FAIL_REWIND -> "connection"),
        # so a POST is sent once per attempt, as with HttpSender.
        c.setopt(pycurl.READFUNCTION, self._read)
        c.setopt(pycurl.WRITEFUNCTION, self._write)
        c.setopt(pycurl.HEADERFUNCTION, self._header)
        if not options.allow_private:
            c.setopt(pycurl.OPENSOCKETFUNCTION, self._open_socket)

    # ------------------------------------------------------------ libcurl callbacks (never raise)
    def _write(self, data: bytes) -> int | None:
        room = self.cap - self.size
        if room > 0:
            if len(data) > room:
                self.discarded += len(data) - room
                data = data[:room]
            self.chunks.append(data)
            self.size += len(data)
            return None
        self.discarded += len(data)
        if self.discarded > DISCARD_LIMIT:
            self.dropped = True
            return 0  # abort: E_WRITE_ERROR, answered with what was kept
        return None

    def _read(self, size: int) -> bytes:
        sent = self.sent
        chunk = self.body[sent : sent + size]  # the whole body, not a copy, when it fits
        self.sent = sent + len(chunk)
        return chunk

    def _header(self, line: bytes) -> None:
        if line[:5] == b"HTTP/":
            self.retry_after = None  # a new (final after 1xx, or redirected) response
            self.complete_head = False
        elif line == b"\r\n" or line == b"\n":
            self.complete_head = True
        elif self.retry_after is None and line[:12].lower() == b"retry-after:":
            self.retry_after = line[12:].strip().decode("latin-1")

    def _open_socket(self, purpose: int, address: Any) -> Any:
        try:
            family, socktype, protocol, addr = address
            host = addr[0] if family in (socket.AF_INET, socket.AF_INET6) else ""
            if not address_allowed(str(host), False):
                self.denied.append(str(host))
                return pycurl.SOCKET_BAD
            sock = socket.socket(family, socktype, protocol)
            self.opened.append(sock)
            self.allowed += 1
            return sock
        except Exception:  # a Python error here would only be printed by pycurl
            log.exception("opening a socket for libcurl failed")
            return pycurl.SOCKET_BAD

    # ------------------------------------------------------------ per request
    def prepare(self, request: Request) -> None:
        c = self.curl
        method = request.method.upper()
        body = request.body
        c.setopt(pycurl.URL, request.url)
        c.setopt(pycurl.HTTPHEADER, _header_lines(request.headers, bool(body) or method == "POST"))
        if self.custom:
            c.unsetopt(pycurl.CUSTOMREQUEST)
            c.setopt(pycurl.NOBODY, 0)
            self.custom = False
        if method == "POST":
            self.body = body
            c.setopt(pycurl.POST, 1)
            c.setopt(pycurl.POSTFIELDSIZE_LARGE, len(body))
        elif method == "GET" and not body:
            c.setopt(pycurl.HTTPGET, 1)
        elif method == "HEAD" and not body:
            c.setopt(pycurl.NOBODY, 1)
            self.custom = True
        else:
            if body:
                self.body = body
                c.setopt(pycurl.POST, 1)
                c.setopt(pycurl.POSTFIELDSIZE_LARGE, len(body))
            else:
                c.setopt(pycurl.HTTPGET, 1)
            c.setopt(pycurl.CUSTOMREQUEST, method)
            self.custom = True

    def response(self) -> Response:
        return Response(int(self.curl.getinfo(pycurl.RESPONSE_CODE)), b"".join(self.chunks), self.retry_after)

    def error(self, code: int, message: str) -> SendError:
        if code == _E_COULDNT_CONNECT and self.denied and not self.allowed:
            hosts = ", ".join(sorted(set(self.denied)))
            return SendError("address", f"{hosts}: denied by the outbound policy")
        if code == _E_TIMEOUT:  # libcurl: "Resolving timed out ...", "Connection timed out ...", "Operation ..."
            kind = _TIMEOUT_KINDS.get(message.split(" ", 1)[0], "timeout")
            return SendError(kind, message or "no response in time")
        return SendError(_KINDS.get(code, "protocol"), message or f"libcurl error {code}")

    def reset(self) -> None:
        self.fut = None
        self.body = b""
        self.sent = 0
        self.chunks = []
        self.size = self.discarded = self.allowed = 0
        self.dropped = self.complete_head = False
        self.retry_after = None
        if self.denied:
            self.denied = []


class CurlSender:
    """pycurl's CurlMulti on the running asyncio loop. Create and use it inside that loop."""

    def __init__(
        self,
        *,
        connect_timeout: float = 5.0,
        total_timeout: float = 15.0,
        verify_tls: bool = True,
        follow_redirects: bool = False,
        allow_private: bool = True,
        body_cap: int = 4096,
        max_connections: int = 1000,
        user_agent: str = "callhook/0.1",
    ) -> None:
        self.options = SenderOptions(
            connect_timeout,
            total_timeout,
            verify_tls,
            follow_redirects,
            allow_private,
            body_cap,
            max_connections,
            user_agent,
        )
        self._loop: asyncio.AbstractEventLoop | None = None
        self._multi: Any = None
        self._ca = (_ca_file(), _ca_dir()) if verify_tls else (None, None)
        self._idle: list[_Transfer] = []
        self._active: dict[Any, _Transfer] = {}  # pycurl.Curl -> its transfer
        self._fds: dict[int, int] = {}  # socket -> _READ | _WRITE registered with the loop
        self._timer: asyncio.TimerHandle | None = None
        self._opened: list[socket.socket] = []

    # ------------------------------------------------------------ public
    async def send(self, request: Request) -> Response:
        url = request.url
        if not _url_scheme_ok(url):
            raise SendError("url", f"cannot send to {url.split(':', 1)[0]}:// URLs")
        loop = asyncio.get_running_loop()
        multi = self._multi
        if multi is None:
            multi = self._open(loop)
        elif loop is not self._loop:
            raise RuntimeError("a CurlSender is bound to the loop it was first used in")
        t = self._idle.pop() if self._idle else _Transfer(self.options, *self._ca, self._opened)
        try:
            t.prepare(request)
        except SendError:
            self._release(t)
            raise
        except (TypeError, ValueError, UnicodeError, pycurl.error) as exc:
            self._release(t)
            raise SendError("url", str(exc)) from None
        fut: asyncio.Future[Response] = loop.create_future()
        t.fut = fut
        c = t.curl
        self._active[c] = t
        multi.add_handle(c)
        try:
            return await fut
        except asyncio.CancelledError:
            if self._active.get(c) is t:  # still running: take it out (libcurl closes its connection)
                del self._active[c]
                self._remove(c)
                self._release(t)
            raise

    async def close(self) -> None:
        multi, self._multi = self._multi, None
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        if multi is not None:
            active, self._active = self._active, {}
            for c, t in active.items():
                with contextlib.suppress(pycurl.error):
                    multi.remove_handle(c)
                if t.fut is not None and not t.fut.done():
                    t.fut.set_exception(SendError("connection", "the sender was closed"))
                c.close()
            for t in self._idle:
                t.curl.close()
            self._idle.clear()
            multi.close()  # closes the pooled connections (POLL_REMOVE for each)
        self._close_opened()
        if self._loop is not None and not self._loop.is_closed():
            for fd, mask in self._fds.items():
                if mask & _READ:
                    self._loop.remove_reader(fd)
                if mask & _WRITE:
                    self._loop.remove_writer(fd)
        self._fds.clear()
        self._loop = None

    # ------------------------------------------------------------ loop integration
    def _open(self, loop: asyncio.AbstractEventLoop) -> Any:
        self._loop = loop
        m = pycurl.CurlMulti()
        m.setopt(pycurl.M_SOCKETFUNCTION, self._on_socket)
        m.setopt(pycurl.M_TIMERFUNCTION, self._on_timer)
        m.setopt(pycurl.M_MAX_TOTAL_CONNECTIONS, self.options.max_connections)
        m.setopt(pycurl.M_MAXCONNECTS, self.options.max_connections)  # idle connections kept for reuse
        m.setopt(pycurl.M_PIPELINING, 0)  # HTTP/1.1, one request per connection at a time
        self._multi = m
        return m

    def _on_socket(self, event: int, fd: int, multi: Any, data: Any) -> None:
        loop = self._loop
        if loop is None:
            return
        old = self._fds.get(fd, 0)
        new = 0 if event == pycurl.POLL_REMOVE else _POLL_MASK.get(event, 0)
        if new == old:
            return
        if old & _READ and not new & _READ:
            loop.remove_reader(fd)
        elif new & _READ and not old & _READ:
            loop.add_reader(fd, self._action, fd, pycurl.CSELECT_IN)
        if old & _WRITE and not new & _WRITE:
            loop.remove_writer(fd)
        elif new & _WRITE and not old & _WRITE:
            loop.add_writer(fd, self._action, fd, pycurl.CSELECT_OUT)
        if new:
            self._fds[fd] = new
        else:
            del self._fds[fd]

    def _on_timer(self, msecs: int) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        if msecs >= 0 and self._loop is not None:
            self._timer = self._loop.call_later(msecs / 1000.0, self._on_timeout)

    def _on_timeout(self) -> None:
        self._timer = None
        self._action(pycurl.SOCKET_TIMEOUT, 0)

    def _action(self, fd: int, events: int) -> None:
        multi = self._multi
        if multi is None:
            return
        try:
            while multi.socket_action(fd, events)[0] == pycurl.E_CALL_MULTI_PERFORM:
                pass
        except pycurl.error:
            log.exception("libcurl socket_action failed")
        if self._opened:
            self._close_opened()
        self._finish_done(multi)

    def _finish_done(self, multi: Any) -> None:
        while True:
            queued, ok, failed = multi.info_read()
            for c in ok:
                self._finish(multi, c, 0, "")
            for c, code, message in failed:
                self._finish(multi, c, code, message)
            if not queued:
                return

    def _finish(self, multi: Any, c: Any, code: int, message: str) -> None:
        multi.remove_handle(c)
        t = self._active.pop(c, None)
        if t is None:
            return
        fut = t.fut
        if fut is not None and not fut.done():
            if code == 0 and not t.complete_head:  # libcurl accepts a head cut off by the close
                fut.set_exception(SendError("connection", "the connection closed in the response headers"))
            elif code == 0 or (code == _E_WRITE_ERROR and t.dropped):
                fut.set_result(t.response())
            else:
                fut.set_exception(t.error(code, message))
        self._release(t)

    def _remove(self, c: Any) -> None:
        if self._multi is not None:
            self._multi.remove_handle(c)
        self._close_opened()

    def _release(self, t: _Transfer) -> None:
        t.reset()
        if len(self._idle) < self.options.max_connections and self._multi is not None:
            self._idle.append(t)
        else:
            t.curl.close()

    def _close_opened(self) -> None:
        """Close our copies of the sockets handed to libcurl (pycurl dup()s them)."""
        opened = self._opened
        while opened:
            opened.pop().close()
