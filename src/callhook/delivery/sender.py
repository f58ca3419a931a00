"""The HTTP sender: one request out, a status and a capped body back.

Exceptions::

    SendError            every failure to get an HTTP response; ``kind`` says which:
      kind "address"     the resolved address is denied by the outbound policy
      kind "dns"         the host name does not resolve
      kind "connect"     refused, unreachable, connect timeout
      kind "tls"         certificate or handshake failure
      kind "timeout"     no complete response within the total timeout
      kind "connection"  the connection dropped mid-exchange
      kind "protocol"    not HTTP, or a malformed response
      kind "url"         the URL cannot be requested

aiohttp's own exceptions never leave this module. Connections are reused (one
ClientSession per sender); redirects are not followed (a 3xx is an answer like any
other); TLS certificates are verified unless turned off.

Outbound address policy: private, loopback, link-local and reserved addresses are
allowed by default (on-premise installs post to 10.x); ``allow_private=False``
denies them. The check runs on the *resolved* address (a public name that resolves
to 10.0.0.1 is caught) and on literal addresses in the URL.
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from dataclasses import dataclass
from typing import Any, Protocol

import aiohttp
from aiohttp.abc import AbstractResolver, ResolveResult
from yarl import URL

from callhook.core.dialects.base import Request

__all__ = [
    "SENDER_KINDS",
    "HttpSender",
    "Response",
    "SendError",
    "Sender",
    "SenderOptions",
    "address_allowed",
    "make_sender",
]


class SendError(Exception):
    def __init__(self, kind: str, message: str) -> None:
        super().__init__(f"{kind}: {message}")
        self.kind = kind


@dataclass(frozen=True, slots=True)
class Response:
    status: int
    body: bytes  # at most SenderOptions.body_cap bytes
    retry_after: str | None = None


class Sender(Protocol):
    async def send(self, request: Request) -> Response: ...
    async def close(self) -> None: ...


@dataclass(frozen=True, slots=True)
class SenderOptions:
    connect_timeout: float = 5.0
    total_timeout: float = 15.0
    verify_tls: bool = True
    follow_redirects: bool = False
    allow_private: bool = True
    body_cap: int = 4096
    max_connections: int = 1000  # the endpoint limiter caps each host below this
    user_agent: str = "callhook/0.1"


def address_allowed(host: str, allow_private: bool) -> bool:
    if allow_private:
        return True
    try:
        ip = ipaddress.ip_address(host.split("%", 1)[0])
    except ValueError:
        return False
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return ip.is_global and not ip.is_multicast


class _AddressDenied(OSError):
    pass


class _PolicyResolver(AbstractResolver):
    """Resolves with aiohttp's default resolver, then drops the denied addresses."""

    def __init__(self, allow_private: bool) -> None:
        self._inner = aiohttp.DefaultResolver()
        self._allow_private = allow_private

    async def resolve(
        self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_INET
    ) -> list[ResolveResult]:
        results = await self._inner.resolve(host, port, family)
        allowed = [r for r in results if address_allowed(r["host"], self._allow_private)]
        if not allowed:
            raise _AddressDenied(f"{host} resolves only to addresses the outbound policy denies")
        return allowed

    async def close(self) -> None:
        await self._inner.close()


class HttpSender:
    """aiohttp with connection reuse. Create and use it inside the running loop."""

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
        self._session: aiohttp.ClientSession | None = None

    def _open(self) -> aiohttp.ClientSession:
        o = self.options
        connector = aiohttp.TCPConnector(
            limit=o.max_connections,
            limit_per_host=0,
            ssl=bool(o.verify_tls),
            resolver=_PolicyResolver(o.allow_private),
            ttl_dns_cache=60,
        )
        self._session = aiohttp.ClientSession(
            connector=connector,
            headers={"User-Agent": o.user_agent},
            cookie_jar=aiohttp.DummyCookieJar(),
            timeout=aiohttp.ClientTimeout(total=o.total_timeout, sock_connect=o.connect_timeout),
            auto_decompress=False,
        )
        return self._session

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None

    async def send(self, request: Request) -> Response:
        session = self._session or self._open()
        o = self.options
        try:
            url = URL(request.url, encoded=True)
        except (ValueError, TypeError) as exc:
            raise SendError("url", str(exc)) from None
        if url.scheme not in ("http", "https") or not url.host:
            raise SendError("url", f"cannot send to {url.scheme}:// URLs")
        if url.user is not None and request.header("Authorization") is not None:
            url = url.with_user(None)  # the encoder's Authorization header wins over URL credentials
        host = url.host or ""
        if not o.allow_private and _is_ip(host) and not address_allowed(host, False):
            raise SendError("address", f"{host} is denied by the outbound policy")
        try:
            async with session.request(
                request.method,
                url,
                headers=list(request.headers),
                data=request.body or None,
                allow_redirects=o.follow_redirects,
            ) as resp:
                body = await _read_capped(resp, o.body_cap)
                return Response(resp.status, body, resp.headers.get("Retry-After"))
        except SendError:
            raise
        except Exception as exc:
            raise _translate(exc) from exc


SENDER_KINDS = ("aiohttp", "curl")


def make_sender(kind: str, **options: Any) -> Sender:
    """A sender by name: ``"aiohttp"`` (:class:`HttpSender`) or ``"curl"``
    (:class:`callhook.delivery.curl_sender.CurlSender`, needs pycurl). ``options`` are
    the constructor's keywords (timeouts, ``verify_tls``, ``allow_private``, ...),
    the same for both."""
    if kind == "aiohttp":
        return HttpSender(**options)
    if kind == "curl":
        from callhook.delivery.curl_sender import CurlSender  # pycurl only when asked for

        return CurlSender(**options)
    raise ValueError(f"unknown sender {kind!r}; one of {', '.join(SENDER_KINDS)}")


def _is_ip(host: str) -> bool:
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return False
    return True


async def _read_capped(resp: aiohttp.ClientResponse, cap: int) -> bytes:
    chunks: list[bytes] = []
    size = 0
    while size < cap:
        chunk = await resp.content.read(cap - size)
        if not chunk:
            break
        chunks.append(chunk)
        size += len(chunk)
    if not resp.content.at_eof():
        resp.close()  # a body over the cap: drop the connection rather than read it all
    return b"".join(chunks)


def _translate(exc: Exception) -> SendError:
    if isinstance(exc, aiohttp.ClientConnectorDNSError):
        if isinstance(exc.os_error, _AddressDenied):
            return SendError("address", str(exc.os_error))
        return SendError("dns", str(exc))
    if isinstance(exc, aiohttp.ClientConnectorCertificateError | aiohttp.ClientSSLError):
        return SendError("tls", str(exc))
    if isinstance(exc, aiohttp.ClientConnectorError):
        return SendError("connect", str(exc))
    if isinstance(exc, aiohttp.ServerTimeoutError | asyncio.TimeoutError):
        return SendError("timeout", str(exc) or "no response in time")
    if isinstance(exc, aiohttp.ServerDisconnectedError | aiohttp.ClientOSError | aiohttp.ClientPayloadError):
        return SendError("connection", str(exc) or type(exc).__name__)
    if isinstance(exc, aiohttp.InvalidURL):
        return SendError("url", str(exc))
    if isinstance(exc, aiohttp.ClientError | ValueError):
        return SendError("protocol", str(exc) or type(exc).__name__)
    raise exc
