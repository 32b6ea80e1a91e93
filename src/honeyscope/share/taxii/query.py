"""TAXII 2.1 filtering and paging (§3.4–3.6) over a collection sorted by (date_added, id).

``next`` is an opaque cursor: the (date_added, id) of the last object returned, so pages stay correct while
objects are added, and the server keeps no state per client. ``added_after`` is exclusive.
"""

from __future__ import annotations

import base64
import binascii
import bisect
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Final

from honeyscope.share.taxii.source import StoredObject

__all__ = ["BadQueryError", "Page", "Query", "parse_query", "select", "taxii_time", "version_of"]

_MAX_VALUES: Final = 100


class BadQueryError(ValueError):
    """A filter or paging parameter the server cannot read (answered 400)."""


@dataclass(frozen=True, slots=True)
class Query:
    added_after: datetime | None = None
    limit: int = 100
    cursor: tuple[datetime, str] | None = None
    ids: frozenset[str] | None = None
    types: frozenset[str] | None = None
    #: ``last``, ``first``, ``all`` or explicit version timestamps (as written in objects).
    versions: frozenset[str] = frozenset({"last"})
    spec_versions: frozenset[str] | None = None


@dataclass(frozen=True, slots=True)
class Page:
    items: list[StoredObject]
    more: bool
    next: str | None


def taxii_time(moment: datetime) -> str:
    """A TAXII/STIX timestamp with microseconds (``date_added``, ``X-TAXII-Date-Added-*``)."""
    return moment.astimezone(UTC).replace(tzinfo=None).isoformat(timespec="microseconds") + "Z"


def parse_time(text: str, name: str) -> datetime:
    try:
        moment = datetime.fromisoformat(text.strip().replace("Z", "+00:00").replace("z", "+00:00"))
    except ValueError:
        raise BadQueryError(f"{name}: {text[:64]!r} is not a timestamp (e.g. 2021-03-03T00:00:00Z)") from None
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def encode_cursor(item: StoredObject) -> str:
    raw = f"{taxii_time(item.added)}|{item.obj['id']}".encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(text: str) -> tuple[datetime, str]:
    try:
        raw = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4)).decode()
        stamp, _, object_id = raw.partition("|")
        if not object_id:
            raise ValueError(raw)
        return parse_time(stamp, "next"), object_id
    except (ValueError, binascii.Error, UnicodeDecodeError):
        raise BadQueryError("next: not a cursor this server issued — start again without 'next'") from None


def parse_query(params: Mapping[str, str], *, max_page: int, default_page: int) -> Query:
    """The filters of a request's query string; raises ``BadQueryError``."""
    limit = default_page
    if "limit" in params:
        try:
            limit = int(params["limit"])
        except ValueError:
            raise BadQueryError(f"limit: {params['limit'][:32]!r} is not a number") from None
        if limit < 1:
            raise BadQueryError("limit: must be at least 1")
    return Query(
        added_after=parse_time(params["added_after"], "added_after") if "added_after" in params else None,
        limit=min(limit, max_page),
        cursor=decode_cursor(params["next"]) if params.get("next") else None,
        ids=_values(params, "match[id]"),
        types=_values(params, "match[type]"),
        versions=_values(params, "match[version]") or frozenset({"last"}),
        spec_versions=_values(params, "match[spec_version]"),
    )


def _values(params: Mapping[str, str], name: str) -> frozenset[str] | None:
    if name not in params:
        return None
    values = [v.strip() for v in params[name].split(",") if v.strip()]
    if not values or len(values) > _MAX_VALUES:
        raise BadQueryError(f"{name}: give 1 to {_MAX_VALUES} comma-separated values")
    return frozenset(values)


def version_of(item: StoredObject) -> str:
    """An object's version: ``modified``, else ``created``, else its ``date_added`` (TAXII 2.1 §3.4.2)."""
    value = item.obj.get("modified") or item.obj.get("created")
    return str(value) if value else taxii_time(item.added)


def matches(item: StoredObject, query: Query) -> bool:
    obj = item.obj
    if query.ids is not None and obj["id"] not in query.ids:
        return False
    if query.types is not None and obj["type"] not in query.types:
        return False
    if query.spec_versions is not None and str(obj.get("spec_version", "2.1")) not in query.spec_versions:
        return False
    # one version per object is kept: "first", "last" and "all" all select it; timestamps must name it
    named = query.versions - {"first", "last", "all"}
    return not named or len(named) < len(query.versions) or _same_version(version_of(item), named)


def _same_version(version: str, named: frozenset[str]) -> bool:
    try:
        wanted = {parse_time(v, "match[version]") for v in named}
        return parse_time(version, "version") in wanted
    except BadQueryError:
        return False


def select(objects: Sequence[StoredObject], query: Query) -> Page:
    """The page of ``objects`` (sorted by (added, id)) the query asks for."""
    start = 0
    if query.added_after is not None:
        start = bisect.bisect_right(objects, query.added_after, key=lambda item: item.added)
    if query.cursor is not None:
        start = max(start, bisect.bisect_right(objects, query.cursor, key=_sort_key))
    found: list[StoredObject] = []
    index = start
    while index < len(objects):
        item = objects[index]
        index += 1
        if matches(item, query):
            if len(found) == query.limit:
                return Page(found, True, encode_cursor(found[-1]))
            found.append(item)
    return Page(found, False, None)


def _sort_key(item: StoredObject) -> tuple[datetime, str]:
    return item.added, str(item.obj["id"])
