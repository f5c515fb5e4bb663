"""Who is asking: the client's address, behind trusted proxies or not."""

from __future__ import annotations

import ipaddress

from aiohttp import web

from ..config import Network


def _ip(text: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    try:
        return ipaddress.ip_address(text.strip())
    except ValueError:
        return None


def _trusted(address: str, proxies: tuple[Network, ...]) -> bool:
    ip = _ip(address)
    return ip is not None and any(ip in net for net in proxies)


def client_address(request: web.Request, proxies: tuple[Network, ...]) -> str:
    """The socket peer, unless it is a trusted proxy: then the last hop of
    ``X-Forwarded-For`` that is not itself a trusted proxy (the hops a
    client writes itself come first and are ignored)."""
    peer = request.remote or ""
    if not proxies or not _trusted(peer, proxies):
        return peer
    hops = [h.strip() for h in ",".join(request.headers.getall("X-Forwarded-For", [])).split(",") if h.strip()]
    for hop in reversed(hops):
        if not _trusted(hop, proxies):
            ip = _ip(hop)
            return str(ip) if ip is not None else peer
    return hops[0] if hops and _ip(hops[0]) else peer
