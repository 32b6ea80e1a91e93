"""The offline default: geoip2fast's bundled data (country + AS name, IPv4 and IPv6).

Checked against geoip2fast 1.2.2: the bundled ``geoip2fast-asn-ipv6.dat.gz`` is built from MaxMind
GeoLite2 Country + ASN dated 2024-06-18 (read from the file at load time, not assumed). It carries the
country code and English name and the AS *organisation name* but no AS number and no continent; the
continent is derived from the country with GeoNames' table. Its smaller siblings lack IPv6
(``geoip2fast.dat.gz``) or AS names (``geoip2fast-ipv6.dat.gz``). The data's terms are MaxMind's GeoLite2
terms, not the MIT licence of geoip2fast's code (docs/enrichment.md).

Costs measured on a shared 2-core machine: 0.3–0.7 s to load, +112 MB resident, 56–90k lookups/s
(bench/enrich.py).
"""

from __future__ import annotations

import functools
import os
import re
import threading
from pathlib import Path
from typing import Any, Final

from honeyscope.config import ConfigError
from honeyscope.enrich.geo import GeoAnswer, continent_of

DATA_FILE: Final = "geoip2fast-asn-ipv6.dat.gz"
#: geoip2fast reports networks MaxMind only places on a continent with these pseudo country codes.
_CONTINENT_ONLY: Final = {"EU": "EU", "ASIA": "AS"}
_DATE: Final = re.compile(r"(\d{4})(\d{2})(\d{2})\s*$")

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

    def lookup(self, ip: str) -> GeoAnswer | None:
        """Country, continent and AS name of ``ip`` (no AS number: the data has none)."""
        found = self._find(ip)
        if found is None:
            return None
        code, country_name, as_name = found
        return _answer(code, country_name, as_name)

    def _find(self, ip: str) -> tuple[str, str, str | None] | None:
        """(country code, country name, AS name) as geoip2fast's ``lookup`` gives them.

        Why not ``lookup`` itself: it also formats two CIDR strings and an elapsed time and builds a
        result object — 15 µs per address, half of an enrichment cache miss (bench/pipeline.py). The
        three table searches it runs are called here directly (geoip2fast 1.2's methods, pinned below
        1.3); if they are missing, ``lookup`` answers.
        """
        db = self._db
        try:
            number = db._ip2int(ip)
            # geoip2fast's helpers return an error object instead of raising: unpacking it fails here.
            root, chunk, _first, last, _length = db._main_index_lookup(number)
            if number > last:
                return None
            code, name, _private = db._country_lookup(root, chunk)
            as_name, _network = db._asn_lookup(number)
        except Exception:  # not an address, or another geoip2fast: the public method decides
            return self._find_public(ip)
        return (code if isinstance(code, str) else "", name if isinstance(name, str) else "",
                as_name if isinstance(as_name, str) and as_name else None)

    def _find_public(self, ip: str) -> tuple[str, str, str | None]:
        detail = self._db.lookup(ip)
        code = detail.country_code if isinstance(detail.country_code, str) else ""
        as_name = detail.asn_name if isinstance(detail.asn_name, str) and detail.asn_name else None
        return code, detail.country_name if isinstance(detail.country_name, str) else "", as_name

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
