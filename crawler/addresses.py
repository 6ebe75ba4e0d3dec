"""Which hosts are public and which private, so a public site cannot redirect the crawler inward.

A page on a public host that redirects to 10.0.0.5, 192.168.1.1, 169.254.169.254 (a cloud's
metadata service) or localhost would have the crawler fetch, and archive, something only the
crawling machine can see. The Fetcher refuses such a hop (and says so in the page's reason);
a crawl that starts on a private host (the bundled demo on 127.0.0.1) may redirect within it.

The classifier is a setting so tests can model "public" with a loopback address: every
address the tests may use is loopback, and only 127.0.0.0/8 is safe to serve them on.
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from collections.abc import Callable

__all__ = ["Address", "AddressClassifier", "is_private_address"]

Address = ipaddress.IPv4Address | ipaddress.IPv6Address


def is_private_address(address: Address) -> bool:
    """Anything not globally routable: private ranges, loopback, link-local, shared, reserved."""
    mapped = getattr(address, "ipv4_mapped", None)
    return not (mapped or address).is_global


class AddressClassifier:
    """Resolves a host once per run and says whether any of its addresses is private."""

    def __init__(self, is_private: Callable[[Address], bool] = is_private_address) -> None:
        self._is_private = is_private
        self._known: dict[str, bool] = {}

    async def private(self, host: str) -> bool:
        """True when `host` is, or resolves to, a private address (unresolvable: False, the
        fetch itself will fail)."""
        known = self._known.get(host)
        if known is None:
            known = self._known[host] = any(map(self._is_private, await _addresses(host)))
        return known


async def _addresses(host: str) -> list[Address]:
    literal = host[1:-1] if host.startswith("[") else host
    try:
        return [ipaddress.ip_address(literal)]
    except ValueError:
        pass
    try:
        infos = await asyncio.get_running_loop().getaddrinfo(host, None, type=socket.SOCK_STREAM)
    except OSError:
        return []
    found = []
    for info in infos:
        try:
            found.append(ipaddress.ip_address(str(info[4][0]).partition("%")[0]))
        except ValueError:
            continue
    return found
