"""An ordered, duplicate-preserving, case-insensitive view over request headers."""

from __future__ import annotations

from collections.abc import Iterator, Sequence


class Headers:
    """Headers exactly as received: order, case and duplicates kept; lookups ignore case.

    Names and values are ``str`` decoded as latin-1, which maps every byte to one code point, so the
    original bytes can always be recovered with ``.encode("latin-1")`` (invalid UTF-8 and NULs included).
    """

    __slots__ = ("_index", "items")

    def __init__(self, items: Sequence[tuple[str, str]] = ()) -> None:
        self.items: list[tuple[str, str]] = list(items)
        self._index: dict[str, list[str]] | None = None

    @classmethod
    def indexed(cls, items: list[tuple[str, str]], index: dict[str, list[str]]) -> Headers:
        """Headers whose lower-cased index the caller built already (the parser does it in the pass that
        splits the lines); ``items`` is taken over, not copied."""
        headers = cls.__new__(cls)
        headers.items = items
        headers._index = index
        return headers

    def index(self) -> dict[str, list[str]]:
        """Lower-cased name → values in arrival order (built once, on first use). Do not modify."""
        if self._index is None:
            index: dict[str, list[str]] = {}
            for name, value in self.items:
                index.setdefault(name.lower(), []).append(value)
            self._index = index
        return self._index

    def get(self, name: str, default: str | None = None) -> str | None:
        """The first value of ``name`` (case-insensitive), or ``default``."""
        values = self.index().get(name.lower())
        return values[0] if values else default

    def get_all(self, name: str) -> list[str]:
        """Every value of ``name`` in arrival order."""
        return list(self.index().get(name.lower(), ()))

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str) and name.lower() in self.index()

    def __iter__(self) -> Iterator[tuple[str, str]]:
        return iter(self.items)

    def __len__(self) -> int:
        return len(self.items)

    def __repr__(self) -> str:
        return f"Headers({self.items!r})"
