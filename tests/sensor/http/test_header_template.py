"""Header lists stamped from a template go on the wire exactly as the same list written out in full."""

from __future__ import annotations

import itertools
from collections.abc import Callable

import pytest

from honeyscope.sensor.http.response import HeaderTemplate, Response, serialize_head, serialize_response

DATE = "Wed, 03 Mar 2021 12:00:00 GMT"
_COUNTER = itertools.count()


def fresh() -> str:
    return f"id-{next(_COUNTER)}"


TEMPLATES = [
    HeaderTemplate((("Cache-Control", "private"), ("Server", "Microsoft-IIS/10.0")), "request-id",
                   (("X-FEServer", "EX01"), ("Set-Cookie", "a=b; path=/")), fresh),
    HeaderTemplate((), "request-id", (), fresh),
    HeaderTemplate((("Content-Length", "0"), ("Date", "then")), "request-id", (("Connection", "keep-alive"),), fresh),
    HeaderTemplate((("X-Latin", "caf\xe9"),), "X-Slot", (("X-Wide", "\u2603"),), fresh),
]


@pytest.mark.parametrize("template", TEMPLATES)
@pytest.mark.parametrize(("status", "reason", "close", "omit_body"),
                         [(200, None, False, False), (302, None, True, False), (241, "", False, True),
                          (599, "Custom", False, False)])
def test_a_stamped_list_serialises_as_the_plain_list(template: HeaderTemplate, status: int, reason: str | None,
                                                      close: bool, omit_body: bool) -> None:
    for body in (b"", b"<html>page</html>"):
        stamped = template.stamp()
        plain = list(stamped)
        assert type(plain) is list
        for date in (DATE, "Wed, 03 Mar 2021 12:00:01 GMT"):  # the cached head follows the Date
            ours = Response(status, stamped, body, reason=reason, close=close, omit_body=omit_body)
            reference = Response(status, plain, body, reason=reason, close=close, omit_body=omit_body)
            assert serialize_response(ours, date) == serialize_response(reference, date)


def test_a_stamped_list_changed_afterwards_is_serialised_as_it_now_is() -> None:
    template = TEMPLATES[0]
    changes: list[Callable[[list[tuple[str, str]]], object]] = [
        lambda h: h.append(("X-Added", "1")),
        lambda h: h.__setitem__(0, ("Cache-Control", "no-cache")),
        lambda h: h.__setitem__(2, ("request-ID", h[2][1])),
        lambda h: h.pop(),
        lambda h: h.reverse(),
    ]
    for change in changes:
        stamped = template.stamp()
        change(stamped)
        assert serialize_head(Response(200, stamped), DATE) == serialize_head(Response(200, list(stamped)), DATE)
        assert Response(200, stamped).renewed() is None


def test_renewing_makes_a_fresh_value_and_keeps_everything_else() -> None:
    template = TEMPLATES[0]
    response = Response(404, template.stamp(), b"body", reason="Nope", close=True, omit_body=True)
    renewed = response.renewed()
    assert renewed is not None
    assert renewed.headers[2][0] == "request-id" and renewed.headers[2][1] != response.headers[2][1]
    assert renewed.headers[:2] == response.headers[:2] and renewed.headers[3:] == response.headers[3:]
    assert (renewed.status, renewed.body, renewed.reason, renewed.close, renewed.omit_body) == \
        (404, b"body", "Nope", True, True)
    plain = Response(200, [("Server", "x")])
    copy = plain.renewed()
    assert copy is not None and copy.headers == plain.headers and copy.headers is not plain.headers
