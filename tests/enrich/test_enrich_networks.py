"""Source addresses are labelled by network kind; bad strings get ``invalid``, never an exception."""

from __future__ import annotations

import ipaddress

import pytest
from hypothesis import given
from hypothesis import strategies as st

from honeyscope.enrich import LABELS, classify, parse_address
from honeyscope.enrich.networks import address_key_and_text
from honeyscope.enrich.ranges import RangeTable, address_key, overlay


@pytest.mark.parametrize(("address", "label"), [
    ("8.8.8.8", "public"),
    ("172.32.0.1", "public"),
    ("10.20.30.40", "private"),
    ("172.31.255.255", "private"),
    ("192.168.1.1", "private"),
    ("100.64.0.1", "shared"),
    ("100.127.255.254", "shared"),
    ("127.0.0.1", "loopback"),
    ("169.254.169.254", "link_local"),
    ("192.0.2.1", "documentation"),
    ("198.51.100.7", "documentation"),
    ("203.0.113.200", "documentation"),
    ("224.0.0.251", "multicast"),
    ("0.0.0.0", "reserved"),
    ("198.18.0.1", "reserved"),
    ("240.0.0.1", "reserved"),
    ("255.255.255.255", "reserved"),
    ("2001:4860:4860::8888", "public"),
    ("2a00:1450:4001::1", "public"),
    ("::1", "loopback"),
    ("::", "reserved"),
    ("fe80::1", "link_local"),
    ("fe80::1%eth0", "link_local"),
    ("fd00:1234::1", "private"),
    ("ff02::1", "multicast"),
    ("2001:db8::1", "documentation"),
    ("3fff::1", "documentation"),
    ("2001::1", "reserved"),
    ("4000::1", "reserved"),
    ("::ffff:8.8.8.8", "public"),
    ("::ffff:10.0.0.1", "private"),
    ("::ffff:127.0.0.1", "loopback"),
])
def test_addresses_are_labelled(address: str, label: str) -> None:
    assert classify(address) == label


@pytest.mark.parametrize("text", ["", "localhost", "1.2.3", "1.2.3.4.5", "999.1.1.1", "010.1.1.1", "::g",
                                  "8.8.8.8:53", " 8.8.8.8", "unix:/run/x.sock"])
def test_strings_that_are_not_addresses_are_invalid(text: str) -> None:
    assert classify(text) == "invalid"


@given(st.text(max_size=60))
def test_classification_never_raises(text: str) -> None:
    assert classify(text) in LABELS


@given(st.integers(min_value=0, max_value=2**32 - 1))
def test_every_ipv4_address_gets_a_label_that_agrees_with_python_on_rfc1918(value: int) -> None:
    address = ipaddress.IPv4Address(value)
    label = classify(str(address))
    assert label in LABELS and label != "invalid"
    if any(address in ipaddress.ip_network(n) for n in ("10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16")):
        assert label == "private"


@given(st.lists(st.tuples(st.integers(0, 300), st.integers(0, 40)), max_size=25), st.integers(0, 350))
def test_overlapping_ranges_resolve_to_the_most_specific(spans: list[tuple[int, int]], key: int) -> None:
    ranges = [(start, start + length, order) for order, (start, length) in enumerate(spans)]
    table = RangeTable(ranges)
    holding = [(end - start, order) for start, end, order in ranges if start <= key <= end]
    assert table.get(key) == (min(holding)[1] if holding else None)


@given(st.lists(st.tuples(st.integers(0, 300), st.integers(0, 40)), max_size=12),
       st.lists(st.tuples(st.integers(0, 300), st.integers(0, 40)), max_size=12), st.integers(0, 350))
def test_overlay_answers_both_tables_at_once(first: list[tuple[int, int]], second: list[tuple[int, int]],
                                              key: int) -> None:
    tables = [RangeTable([(start, start + length, f"{name}{order}") for order, (start, length) in enumerate(spans)])
              for name, spans in (("a", first), ("b", second))]
    both = overlay(tables[0], tables[1])
    expected = (tables[0].get(key), tables[1].get(key))
    assert both.get(key) == (None if expected == (None, None) else expected)


@given(st.one_of(st.ip_addresses().map(str),
                 st.ip_addresses(v=4).map(lambda a: f"::ffff:{a}"),
                 st.ip_addresses(v=6).map(lambda a: str(a).upper())))
def test_fast_parser_agrees_with_ipaddress(text: str) -> None:
    parsed = address_key_and_text(text)
    address = parse_address(text)
    assert parsed is not None and address is not None
    assert parsed[0] == address_key(address)
    assert parse_address(parsed[1]) == address
