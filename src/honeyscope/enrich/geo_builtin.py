"""The offline default: geoip2fast's bundled data (country + AS name, IPv4 and IPv6).

Checked against geoip2fast 1.2.2: the bundled ``geoip2fast-asn-ipv6.dat.gz`` is built from MaxMind
GeoLite2 Country + ASN dated 2024-06-18 (read from the file at load time, not assumed). It carries the
country code and English name and the AS *organisation name* but no AS number and no continent; the
continent is derived from the country with GeoNames' table. Its smaller siblings lack IPv6
(``geoip2fast.dat.gz``) or AS names (``geoip2fast-ipv6.dat.gz``). The data's terms are MaxMind's GeoLite2
terms, not the MIT licence of geoip2fast's code (docs/enrichment.md).

How it is searched: geoip2fast's public ``lookup`` costs ≈ 15 µs (it also formats two CIDR strings and
an elapsed time), its table searches called directly ≈ 10 µs. At load honeyscope flattens its country and
AS tables for IPv4 into one step function (482,412 steps in ``array``s, with a /16 bucket index), so an
IPv4 address is one short bisect plus a cached answer; IPv6 runs geoip2fast's searches directly. Answers
are geoip2fast's ``lookup``'s (compared by tests at random and network-boundary addresses) except for
one bug of it we do not keep: it sizes IPv4 AS networks as IPv6 ones, naming the AS of the network
before an address that lies in no AS network (``_asn_row``).

Costs measured on a shared 2-core machine (CPU time, Python 3.11): geoip2fast loads in 0.3–0.7 s,
+108–110 MB resident; the IPv4 index then takes ≈ 0.5 s once per process, +5.6–8 MB resident (3.9 MB of
arrays). A lookup: IPv4 1.6–1.8 µs (was 9.3–9.8), ≈ 1 µs of it when the caller has the address as a
number (``lookup_ipv4``), IPv6 ≈ 6.7 µs (was ≈ 10).
"""

from __future__ import annotations

import functools
import importlib
import ipaddress
import itertools
import os
import re
import threading
from array import array
from bisect import bisect_right
from collections.abc import Callable
from pathlib import Path
from socket import AF_INET, AF_INET6, inet_pton
from typing import Any, Final, NamedTuple

from honeyscope.config import ConfigError
from honeyscope.enrich.geo import GeoAnswer, continent_of

DATA_FILE: Final = "geoip2fast-asn-ipv6.dat.gz"
#: geoip2fast reports networks MaxMind only places on a continent with these pseudo country codes.
_CONTINENT_ONLY: Final = {"EU": "EU", "ASIA": "AS"}
_DATE: Final = re.compile(r"(\d{4})(\d{2})(\d{2})\s*$")

#: geoip2fast's first 16 country rows are private and reserved networks (its ``is_private``).
PRIVATE_ROWS: Final = 16
#: IPv4 numbers >> BUCKET_SHIFT pick the slice of the index to search: a /16 holds ≈ 5–10 steps.
BUCKET_SHIFT: Final = 16
_IPV4_LIMIT: Final = 1 << 32
#: (country, AS) answers kept built: a few thousand distinct ones per 20,000 addresses, ≈ 108k in the data.
ANSWERS: Final = 16_384

_lock = threading.Lock()
_shared: dict[str, Any] = {}


def _import_geoip2fast() -> Any:
    """Import geoip2fast without keeping its side effect on the environment.

    At import it sets ``PYTHONWARNINGS=ignore`` and ``PYTHONIOENCODING`` in ``os.environ``, which every
    child process (sensors, nats-server, test subprocesses) would inherit: restore both.
    """
    saved = {name: os.environ.get(name) for name in ("PYTHONWARNINGS", "PYTHONIOENCODING")}
    try:
        import geoip2fast  # type: ignore[import-untyped]
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value
    return geoip2fast


def _database() -> Any:
    """The process-wide geoip2fast reader.

    geoip2fast keeps its tables in module globals, so a process can hold one data file only: every
    ``BuiltinGeo`` shares this one, loaded once. The data file is passed by absolute path because a bare
    name is first looked up in the *current directory* — and the file is a pickle.
    """
    with _lock:
        if "db" not in _shared:
            module = _import_geoip2fast()
            path = Path(module.__file__).resolve().parent / DATA_FILE
            if not path.is_file():
                raise ConfigError(f"geoip2fast's bundled data file {path} is missing — reinstall geoip2fast, "
                                  'or set enrich.geo = "mmdb" (or "none")')
            _shared["db"] = module.GeoIP2Fast(geoip2fast_data_file=str(path))
        return _shared["db"]


class BuiltinGeo:
    """``GeoSource`` over geoip2fast's bundled data (loaded on first construction, then shared)."""

    def __init__(self) -> None:
        self._db = _database()
        info = str(getattr(self._db, "source_info", ""))
        match = _DATE.search(info)
        #: The data's date as the file states it, e.g. ``2024-06-18``.
        self.data_date = "-".join(match.groups()) if match else "unknown date"
        self.data_info = info
        self.label = f"geoip2fast {self.data_date}"
        self._tables, index = _indexed_tables()
        self._answer_of: Callable[[int], GeoAnswer | None] = functools.lru_cache(maxsize=ANSWERS)(
            self._build_answer)
        #: ``lookup`` of the IPv4 address ``number`` (0 to 2**32 - 1), for callers that parsed it already.
        self.lookup_ipv4: Callable[[int], GeoAnswer | None] = (
            self._lookup_ipv4_searched if index is None else _indexed_lookup(index, self._answer_of))

    def lookup(self, ip: str) -> GeoAnswer | None:
        """Country, continent and AS name of ``ip`` (no AS number: the data has none).

        What geoip2fast's own ``lookup`` answers (but no AS name outside every AS network, see
        ``_asn_row``), without its cost: an IPv4 address is one search of the IPv4 index (≈ 1.7 µs with parsing, where
        geoip2fast's ``lookup`` takes ≈ 15 µs), an IPv6 one geoip2fast's searches run directly (≈ 7 µs, was ≈ 10).
        """
        if ":" in ip:  # not a dotted quad: skip the failed parse (an exception costs ≈ 1 µs)
            return self._lookup_other(ip)
        try:
            number = int.from_bytes(inet_pton(AF_INET, ip), "big")
        except (OSError, ValueError):
            return self._lookup_other(ip)
        return self.lookup_ipv4(number)

    def _lookup_ipv4_searched(self, number: int) -> GeoAnswer | None:
        return self._lookup_number(number, str(ipaddress.IPv4Address(number)))

    def _lookup_other(self, ip: str) -> GeoAnswer | None:
        """An IPv6 address; None for a string that is no address in its standard form (geoip2fast would
        read short or zero-padded IPv4 forms like ``1.1.1`` its own way: the enricher never asks for them,
        ``networks.address_key_and_text`` labels them invalid)."""
        try:
            number = int.from_bytes(inet_pton(AF_INET6, ip), "big")
        except (OSError, ValueError):
            return None
        return self._lookup_number(number, ip)

    def _lookup_number(self, number: int, ip: str) -> GeoAnswer | None:
        """geoip2fast's two searches, run on its tables as its ``lookup`` runs them (for IPv6: the IPv4
        index covers IPv4 only); anything unexpected goes to ``lookup`` itself."""
        tables = self._tables
        if tables is None:
            return self._lookup_public(ip)
        try:
            key = _search(tables, number)
        except Exception:  # damaged or different tables: the public method decides
            return self._lookup_public(ip)
        return None if key is None else self._answer_of(key)

    def _lookup_public(self, ip: str) -> GeoAnswer | None:
        """What geoip2fast's public ``lookup`` says, as a ``GeoAnswer`` (≈ 15 µs: it also formats two
        CIDR strings and an elapsed time): the reference the fast paths are tested against."""
        return _answer(*self._find_public(ip))

    def _find_public(self, ip: str) -> tuple[str, str, str | None]:
        detail = self._db.lookup(ip)
        code = detail.country_code if isinstance(detail.country_code, str) else ""
        as_name = detail.asn_name if isinstance(detail.asn_name, str) and detail.asn_name else None
        return code, detail.country_name if isinstance(detail.country_name, str) else "", as_name

    def _build_answer(self, key: int) -> GeoAnswer | None:
        """The answer for a (country row, AS row) key of ``_search`` or the IPv4 index, as geoip2fast's
        ``lookup`` words it: private and reserved rows (the first 16) report its private-network code."""
        assert self._tables is not None  # keys come from the tables
        country, asn = divmod(key, self._tables.asn_span)
        if country >= len(self._tables.country_names):  # the IPv4 index's "nothing found here"
            return None
        parts = self._tables.country_names[country].split(":")
        if len(parts) != 2:  # geoip2fast's lookup fails on such a row and reports an error: nothing known
            return None
        code, name = parts
        if country < PRIVATE_ROWS:
            code = self._db.error_code_private_networks
        as_name = self._tables.asn_names[asn] if asn < len(self._tables.asn_names) else ""
        return _answer(code if isinstance(code, str) else "", name,
                       as_name if isinstance(as_name, str) and as_name else None)

    def close(self) -> None:
        """Nothing to release: the shared tables live as long as the process."""


@functools.lru_cache(maxsize=4096)
def _answer(code: str, country_name: str, as_name: str | None) -> GeoAnswer | None:
    """The answer for one (country, AS name) pair, built once: addresses share a few thousand of them."""
    country: str | None = None
    name: str | None = None
    continent = _CONTINENT_ONLY.get(code)
    if continent is None and len(code) == 2 and code.isalpha():
        country, name = code, country_name or None
        continent = continent_of(code)
    if country is None and continent is None and as_name is None:
        return None
    return GeoAnswer(country_iso_code=country, country_name=name, continent_code=continent,
                     as_organization=as_name)


def _indexed_tables() -> tuple[_Tables | None, _Ipv4Index | None]:
    """geoip2fast's tables and their IPv4 index, built once per process like the tables themselves
    (geoip2fast's ``reload_data`` would rebind its globals and leave both stale: nothing here calls it)."""
    _database()
    with _lock:
        if "tables" not in _shared:
            tables = _tables()
            _shared["tables"] = tables, _ipv4_index(tables)
        found: tuple[_Tables | None, _Ipv4Index | None] = _shared["tables"]
        return found


class _Tables(NamedTuple):
    """geoip2fast 1.2's in-memory data (module globals of ``geoip2fast.geoip2fast``), read once.

    Each table is split in chunks of 5,000 rows: ``*_index`` holds each chunk's first address number,
    ``*_firsts`` each row's first address number, ``*_netlens`` its prefix length and ``*_ids`` its row
    in the names list. IPv4 addresses are numbered 0 to 2**32 - 1, IPv6 ones by their 128-bit value.
    """

    country_index: list[int]
    country_firsts: list[list[int]]
    country_netlens: list[list[int]]
    country_ids: list[list[int]]
    country_names: list[str]
    asn_index: list[int]
    asn_firsts: list[list[int]]
    asn_netlens: list[list[int]]
    asn_ids: list[list[int]]
    asn_names: list[str]
    #: Addresses in a network of each prefix length, IPv4 and IPv6, and the last number geoip2fast
    #: sizes as IPv4.
    v4_sizes: list[int]
    v6_sizes: list[int]
    max_v4: int

    @property
    def asn_span(self) -> int:
        """Answer keys are ``country row * asn_span + AS row``; AS row ``len(asn_names)`` is "no AS"."""
        return len(self.asn_names) + 1


def _tables() -> _Tables | None:
    """geoip2fast's tables, or None if they are not what geoip2fast 1.2.2 keeps for a country + AS data
    file (then its public ``lookup`` answers everything)."""
    module = importlib.import_module("geoip2fast.geoip2fast")
    db = _shared["db"]
    if db.country is not True or db.asn is not True:
        return None
    names = ("mainIndex", "mainListFirstIP", "mainListNetlength", "mainListIDCountryCodes",
             "mainListNamesCountry", "mainIndexASN", "mainListFirstIPASN", "mainListNetlengthASN",
             "mainListIDASN", "mainListNamesASN", "numIPsv4", "numIPsv6", "MAX_IPv4")
    values: list[Any] = [getattr(module, name, None) for name in names]
    if not all(isinstance(value, list) for value in values[:-1]) or not isinstance(values[-1], int):
        return None
    tables = _Tables(*values)
    for index, *columns in ((tables.country_index, tables.country_firsts, tables.country_netlens,
                             tables.country_ids),
                            (tables.asn_index, tables.asn_firsts, tables.asn_netlens, tables.asn_ids)):
        # Every row has its prefix length and id, and each chunk starts where the index says: then a
        # search of the rows as one flat list finds the row geoip2fast's two-level search finds.
        shapes = [[len(chunk) if isinstance(chunk, list) else -1 for chunk in column] for column in columns]
        if (not shapes[0] or min(shapes[0]) < 1 or shapes[0] != shapes[1] or shapes[0] != shapes[2]
                or index != [chunk[0] for chunk in columns[0]]):
            return None
    return tables


def _search(tables: _Tables, number: int) -> int | None:
    """The answer key for an address number, by the searches geoip2fast's ``lookup`` runs (its
    ``_main_index_lookup`` and ``_asn_lookup``), without its CIDR formatting; None when its ``lookup``
    reports "not found". Raises on rows its ``lookup`` would report as an error. One difference, on
    purpose: an AS network is sized by the address's family (see ``_asn_row``)."""
    root = bisect_right(tables.country_index, number) - 1
    firsts = tables.country_firsts[root]
    row = bisect_right(firsts, number) - 1
    # geoip2fast sizes the country network by the family of the address asked about...
    sizes = tables.v4_sizes if number <= tables.max_v4 else tables.v6_sizes
    if number > firsts[row] + sizes[tables.country_netlens[root][row]] - 1:
        return None
    country = tables.country_ids[root][row]
    if not 0 <= country < len(tables.country_names):
        raise ValueError(f"country row {country} out of range")
    return country * tables.asn_span + _asn_row(tables, number)


def _asn_row(tables: _Tables, number: int) -> int:
    root = bisect_right(tables.asn_index, number) - 1
    firsts = tables.asn_firsts[root]
    row = bisect_right(firsts, number) - 1
    # The AS network likewise. geoip2fast 1.2.2's own lookup sizes it by whether the data file holds IPv6:
    # with IPv6 data an IPv4 AS row then spans 2**(128 - prefix) numbers, and an IPv4 address between
    # two AS networks got the AS name of the network before it (17,830 of 99,599 random public IPv4
    # addresses that got a name). We answer "no AS" there, as the data says.
    sizes = tables.v4_sizes if number <= tables.max_v4 else tables.v6_sizes
    if number > firsts[row] + sizes[tables.asn_netlens[root][row]] - 1:
        return len(tables.asn_names)
    asn = tables.asn_ids[root][row]
    if not 0 <= asn < len(tables.asn_names):
        raise ValueError(f"AS row {asn} out of range")
    return asn


class _Ipv4Index(NamedTuple):
    """``_search`` precomputed for every IPv4 address, as one step function.

    ``bounds`` are increasing address numbers; the answer key of an address is the ``keys`` value at the
    last bound at or below it (country row ``len(country_names)`` where geoip2fast finds nothing).
    ``edges[b]`` counts the bounds at or below ``b << BUCKET_SHIFT``, so a search bisects only the few
    steps of one /16. Arrays of machine integers: 8 bytes a step, 3.9 MB for the 482,412 steps of the
    bundled data (lists of Python ints would take several times as much).
    """

    bounds: array[int]
    keys: array[int]
    edges: array[int]


def _indexed_lookup(index: _Ipv4Index, answer_of: Callable[[int], GeoAnswer | None],
                    ) -> Callable[[int], GeoAnswer | None]:
    """``lookup_ipv4`` over the index: one short bisect and a cached answer (a closure, because every
    attribute or global read is a measurable part of a ≈ 1 µs search)."""
    bounds, keys, edges = index
    shift = BUCKET_SHIFT

    def lookup_ipv4(number: int) -> GeoAnswer | None:
        bucket = number >> shift
        # The step holding ``number`` is one of the bucket's or the one in force at its start, just
        # before them: bisect_right returns the bucket's first index for the latter, so -1 finds it.
        return answer_of(keys[bisect_right(bounds, number, edges[bucket], edges[bucket + 1]) - 1])

    return lookup_ipv4


def _ipv4_index(tables: _Tables | None) -> _Ipv4Index | None:
    """The IPv4 index of geoip2fast's tables, or None if they break an assumption it rests on."""
    if tables is None:
        return None
    no_country = len(tables.country_names)
    try:
        countries = _steps(tables.country_index, tables.country_firsts, tables.country_netlens,
                           tables.country_ids, tables.v4_sizes, no_country)
        asns = _steps(tables.asn_index, tables.asn_firsts, tables.asn_netlens, tables.asn_ids,
                      tables.v4_sizes, len(tables.asn_names))
        bounds, keys = _overlay(countries, asns, tables.asn_span)
        return _Ipv4Index(array("I", bounds), array("I", keys), _edges(bounds))
    except (ValueError, IndexError, TypeError, OverflowError):
        return None


#: A step function: (bounds, values), the value of a number being the one at the last bound at or below.
_Steps = tuple[list[int], list[int]]


def _steps(index: list[int], firsts: list[list[int]], netlens: list[list[int]], ids: list[list[int]],
           sizes: list[int], nothing: int) -> _Steps:
    """One table's row for every IPv4 number, ``nothing`` where geoip2fast finds none.

    geoip2fast answers a number with the last row starting at or before it, if the number lies within
    that row's network (first + size of its prefix length), else with nothing. So each row answers from
    its first number up to the end of its network or the next row's first number, whichever comes
    first, and nothing from there to the next row; neighbours with one value make one step. (≈ 0.1 s
    for 500,000 rows: the loop is kept to a few operations a row.)
    """
    chunk = bisect_right(index, _IPV4_LIMIT - 1) - 1
    rows = sum(map(len, firsts[:chunk])) + bisect_right(firsts[chunk], _IPV4_LIMIT - 1)
    flat = itertools.chain.from_iterable
    following = itertools.chain(itertools.islice(flat(firsts), 1, rows), (_IPV4_LIMIT,))
    bounds: list[int] = []
    values: list[int] = []
    add_bound, add_value = bounds.append, values.append
    last: int | None = None
    for start, after, netlen, value in zip(itertools.islice(flat(firsts), rows), following, flat(netlens),
                                           flat(ids), strict=False):  # netlens and ids go on past IPv4
        if after <= start:
            if after < start:
                raise ValueError("rows not in address order")
            continue  # two rows start here: geoip2fast's bisect takes the later one
        end = start + sizes[netlen]
        if value != last and end > start:
            add_bound(start)
            add_value(value)
            last = value
        if end < after and last != nothing:
            add_bound(end)
            add_value(nothing)
            last = nothing
    if not bounds or bounds[0] != 0 or not 0 <= min(values) <= max(values) <= nothing:
        # Below the first row geoip2fast's bisect wraps round to the last chunk: not modelled here.
        raise ValueError("table does not start at 0.0.0.0, or a row names no entry")
    return bounds, values


def _overlay(countries: _Steps, asns: _Steps, asn_span: int) -> tuple[list[int], list[int]]:
    """The two step functions as one, valued ``country row * asn_span + AS row``."""
    country_bounds, country_rows = countries
    asn_bounds, asn_rows = asns
    country_bounds.append(_IPV4_LIMIT)  # sentinels: the walk ends when both reach them
    asn_bounds.append(_IPV4_LIMIT)
    bounds: list[int] = []
    keys: list[int] = []
    add_bound, add_key = bounds.append, keys.append
    i = j = country = asn = 0
    last = -1
    while True:
        here = country_bounds[i]
        there = asn_bounds[j]
        if here <= there:
            if here == _IPV4_LIMIT:
                break
            country = country_rows[i] * asn_span
            i += 1
        if there <= here:
            asn = asn_rows[j]
            j += 1
            here = there
        if country + asn != last:
            last = country + asn
            add_bound(here)
            add_key(last)
    return bounds, keys


def _edges(bounds: list[int]) -> array[int]:
    return array("I", [bisect_right(bounds, bucket << BUCKET_SHIFT)
                       for bucket in range((_IPV4_LIMIT >> BUCKET_SHIFT) + 1)])
