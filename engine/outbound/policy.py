"""The one address policy for outbound connections: which IP addresses pmoflow may connect to.

- Never (whatever is allowed): link-local addresses (IPv4 169.254/16, IPv6 fe80::/10), the cloud
  metadata addresses (169.254.169.254, 169.254.170.2, fd00:ec2::254, 100.100.100.200),
  multicast, unspecified (0.0.0.0, ::) and the IPv4 broadcast address.
- Only when the caller's setting allows private addresses: every other address that is not
  globally reachable (loopback, RFC 1918, unique local, shared 100.64/10, reserved, ...).
- IPv6 forms that carry an IPv4 address (IPv4-mapped ::ffff:a.b.c.d, IPv4-compatible
  ::a.b.c.d, NAT64 64:ff9b::/96, 6to4 2002::/16) are judged by the IPv4 address they carry.

Names are resolved once (`resolve`, through `RESOLVE`, which tests may replace with a fake
DNS); `engine.outbound.client` connects only to addresses this module accepted.
"""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Callable
from typing import Any

Address = ipaddress.IPv4Address | ipaddress.IPv6Address
Resolver = Callable[[str, int], list[Any]]

METADATA_ADDRESSES = frozenset(
    ipaddress.ip_address(a) for a in ("169.254.169.254", "169.254.170.2", "fd00:ec2::254", "100.100.100.200")
)
NAT64 = ipaddress.ip_network("64:ff9b::/96")
IPV4_COMPATIBLE = ipaddress.ip_network("::/96")
BROADCAST = ipaddress.ip_address("255.255.255.255")

NEVER = "a link-local, metadata or reserved address"  # refused whatever is allowed
PRIVATE = "a private or loopback address"  # refused unless private addresses are allowed

# The signature of socket.getaddrinfo, reduced; tests replace it with a fake DNS answer.
RESOLVE: Resolver = lambda host, port: socket.getaddrinfo(host, port, proto=socket.IPPROTO_TCP)  # noqa: E731


class AddressRefused(Exception):
    """A host name or address the policy refuses; `reason` is NEVER or PRIVATE."""

    def __init__(self, host: str, address: Address, reason: str) -> None:
        super().__init__(f"{host} is {address}: {reason}")
        self.host, self.address, self.reason = host, address, reason


def carried(address: Address) -> Address:
    """The IPv4 address an IPv6 address carries (mapped, compatible, NAT64, 6to4), else the address."""
    if isinstance(address, ipaddress.IPv4Address):
        return address
    if address.ipv4_mapped is not None:
        return address.ipv4_mapped
    if address.sixtofour is not None:
        return address.sixtofour
    low = ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
    if address in NAT64 or (address in IPV4_COMPATIBLE and int(address) > 1):
        return low
    return address


def refusal(address: Address, allow_private: bool) -> str | None:
    """Why pmoflow may not connect to `address` (NEVER or PRIVATE), or None if it may."""
    address = carried(address)
    if (
        address in METADATA_ADDRESSES
        or address.is_link_local
        or address.is_multicast
        or address.is_unspecified
        or address == BROADCAST
    ):
        return NEVER
    if not address.is_global and not allow_private:
        return PRIVATE
    return None


def is_internal(address: str) -> bool:
    """True for loopback, private, link-local (incl. cloud metadata), multicast and reserved addresses."""
    return refusal(ipaddress.ip_address(address.split("%", 1)[0]), allow_private=False) is not None


def literal(host: str) -> list[Address]:
    """[the address] when `host` is an IP literal (brackets and zone allowed), else []."""
    try:
        return [ipaddress.ip_address(host.strip("[]").split("%", 1)[0])]
    except ValueError:
        return []


def resolve(host: str, port: int) -> list[Address]:
    """The addresses `host` stands for, in the resolver's order without repeats; [] if it does not resolve."""
    found = literal(host)
    if found:
        return found
    try:
        infos = RESOLVE(host, port)
    except (OSError, UnicodeError):
        return []
    for info in infos:
        try:
            address = ipaddress.ip_address(str(info[4][0]).split("%", 1)[0])
        except ValueError:
            continue
        if address not in found:
            found.append(address)
    return found


def check(host: str, addresses: list[Address], allow_private: bool) -> None:
    """Raises AddressRefused for the first of `addresses` (those of `host`) the policy refuses."""
    for address in addresses:
        reason = refusal(address, allow_private)
        if reason:
            raise AddressRefused(host, address, reason)
