"""What kind of network a source address belongs to; only ``public`` addresses are geolocated.

Labels: ``public``, ``private``, ``loopback``, ``link_local``, ``shared`` (carrier-grade NAT),
``multicast``, ``documentation``, ``reserved``, and ``invalid`` for a string that is not an IP address
(classification never raises). IPv4-mapped IPv6 addresses (``::ffff:a.b.c.d``) are unwrapped first and
classified as the IPv4 address they carry.

The table is ours rather than ``ipaddress``'s ``is_private``/``is_global`` because those lists changed
between Python releases (3.11 → 3.13) and do not separate the labels we report. Sources: the IANA IPv4
and IPv6 Special-Purpose Address Registries (RFC 6890) and the RFCs cited per entry.
"""

from __future__ import annotations

import ipaddress
import socket
from ipaddress import IPv4Address, IPv6Address
from typing import Final

from honeyscope.enrich.ranges import RangeTable, address_key, network_bounds, overlay

IpAddress = IPv4Address | IPv6Address

PUBLIC: Final = "public"
INVALID: Final = "invalid"

#: Every label ``classify`` returns.
LABELS: Final = ("public", "private", "loopback", "link_local", "shared", "multicast", "documentation",
                 "reserved", "invalid")

# (network, label): overlapping entries are fine, the most specific wins.
_SPECIAL: Final[tuple[tuple[str, str], ...]] = (
    # IPv4 lives at ::ffff:0:0/96 in the shared key space: public unless a block below says otherwise.
    ("::ffff:0:0/96", "public"),
    ("0.0.0.0/8", "reserved"),            # "this network" (RFC 791 §3.2, RFC 1122 §3.2.1.3)
    ("10.0.0.0/8", "private"),            # RFC 1918
    ("100.64.0.0/10", "shared"),          # shared address space for CGN (RFC 6598)
    ("127.0.0.0/8", "loopback"),          # RFC 1122 §3.2.1.3
    ("169.254.0.0/16", "link_local"),     # RFC 3927
    ("172.16.0.0/12", "private"),         # RFC 1918
    ("192.0.0.0/24", "reserved"),         # IETF protocol assignments (RFC 6890 §2.1)
    ("192.0.2.0/24", "documentation"),    # TEST-NET-1 (RFC 5737)
    ("192.168.0.0/16", "private"),        # RFC 1918
    ("198.18.0.0/15", "reserved"),        # benchmarking (RFC 2544)
    ("198.51.100.0/24", "documentation"), # TEST-NET-2 (RFC 5737)
    ("203.0.113.0/24", "documentation"),  # TEST-NET-3 (RFC 5737)
    ("224.0.0.0/4", "multicast"),         # RFC 5771
    ("240.0.0.0/4", "reserved"),          # future use (RFC 1112 §4); holds 255.255.255.255 (RFC 919)
    # IPv6: IANA allocates global unicast from 2000::/3 only; the rest of the space is reserved
    # (RFC 4291 §2.4 and the IANA IPv6 Address Space registry) except for the blocks listed.
    ("::/3", "reserved"),
    ("2000::/3", "public"),               # global unicast
    ("4000::/2", "reserved"),
    ("8000::/1", "reserved"),
    ("::1/128", "loopback"),              # RFC 4291 §2.5.3 (:: itself, unspecified, stays reserved)
    ("64:ff9b::/96", "public"),           # NAT64 well-known prefix, globally reachable (RFC 6052)
    ("64:ff9b:1::/48", "private"),        # local-use NAT64 (RFC 8215)
    ("100::/64", "reserved"),             # discard-only (RFC 6666)
    ("2001::/23", "reserved"),            # IETF protocol assignments, incl. Teredo (RFC 2928, RFC 4380)
    ("2001:db8::/32", "documentation"),   # RFC 3849
    ("3fff::/20", "documentation"),       # RFC 9637
    ("fc00::/7", "private"),              # unique local addresses (RFC 4193)
    ("fe80::/10", "link_local"),          # RFC 4291 §2.5.6
    ("fec0::/10", "reserved"),            # site-local, deprecated (RFC 3879)
    ("ff00::/8", "multicast"),            # RFC 4291 §2.7
)


def _build() -> RangeTable[str]:
    ranges = []
    for text, label in _SPECIAL:
        network = ipaddress.ip_network(text)
        first, last = network_bounds(network)
        ranges.append((first, last, label))
    return RangeTable(ranges)


_TABLE: Final = _build()


def parse_address(text: str) -> IpAddress | None:
    """The address ``text`` names, IPv4-mapped IPv6 unwrapped to IPv4; None if it is not an address."""
    try:
        address = ipaddress.ip_address(text)
    except ValueError:
        return None
    if address.version == 6 and address.ipv4_mapped is not None:
        return address.ipv4_mapped
    return address


_V4_KEYS: Final = (0xFFFF_0000_0000, 0xFFFF_FFFF_FFFF)


def address_key_and_text(text: str) -> tuple[int, str] | None:
    """(table key, the address as geo sources should be asked) — IPv4-mapped IPv6 unwrapped — or None.

    The enricher's hot path: ``socket.inet_pton`` (C) parses in ≈ 0.4 µs where ``ipaddress`` takes
    ≈ 5 µs. Forms inet_pton refuses (IPv6 scope ids like ``fe80::1%eth0``) fall back to ``ipaddress``;
    both reject what is not an address (leading zeros, short forms like ``127.1``).
    """
    if ":" not in text:  # else skip the failed parse (an exception costs ≈ 1 µs)
        try:
            return _V4_KEYS[0] | int.from_bytes(socket.inet_pton(socket.AF_INET, text), "big"), text
        except (OSError, ValueError):
            pass
    try:
        packed = socket.inet_pton(socket.AF_INET6, text)
    except (OSError, ValueError):
        address = parse_address(text)
        return None if address is None else (address_key(address), str(address))
    key = int.from_bytes(packed, "big")
    if _V4_KEYS[0] <= key <= _V4_KEYS[1]:
        return key, socket.inet_ntop(socket.AF_INET, packed[12:])
    return key, text


def network_label(key: int) -> str:
    """The label of a table key (see ``honeyscope.enrich.ranges.address_key``)."""
    return _TABLE.get(key) or "reserved"


def with_scanners(scanners: RangeTable[str]) -> RangeTable[tuple[str, str | None]]:
    """(label, scanner or None) of every table key: the enricher's two questions about an address
    answered by one search."""
    return RangeTable([(first, last, (label or "reserved", scanner))
                       for first, last, (label, scanner) in overlay(_TABLE, scanners).segments()])


def classify(text: str) -> str:
    """The label of an address string; ``invalid`` when it is not an IP address. Never raises."""
    parsed = address_key_and_text(text)
    return INVALID if parsed is None else network_label(parsed[0])
