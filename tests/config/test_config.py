"""A wrong configuration gets one clear line naming the key and the fix."""

from __future__ import annotations

from pathlib import Path

import pytest

from honeyscope.config import ConfigError, load_settings, parse_address


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "honeyscope.toml"
    path.write_text(text)
    return path


def test_valid_file_gives_typed_settings(tmp_path: Path) -> None:
    settings = load_settings(write(tmp_path, """
[sensor]
name = "edge-1"
trusted_proxies = ["10.0.0.5"]
[[sensor.listeners]]
address = "127.0.0.1:8443"
tls = true
[sensor.limits]
max_connections = 100
header_timeout = 5.5
[personas.exchange]
build = "15.2.792.3"
"""))
    assert settings.sensor.name == "edge-1"
    assert settings.sensor.listeners[0].tls is True
    assert settings.sensor.limits.max_connections == 100
    assert settings.sensor.limits.header_timeout == 5.5
    assert settings.personas["exchange"]["build"] == "15.2.792.3"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("[sensor]\nnmae = 'x'\n", "unknown key 'sensor.nmae'"),
        ("[sensor.limits]\nmax_connections = 'many'\n", "sensor.limits.max_connections: Expected `int`, got `str`"),
        ("[[sensor.listeners]]\ntls = true\n", "sensor.listeners.0: Object missing required field `address`"),
        ("[sensor\n", "not valid TOML"),
    ],
)
def test_errors_are_one_line_with_key_and_fix(tmp_path: Path, text: str, expected: str) -> None:
    with pytest.raises(ConfigError) as caught:
        load_settings(write(tmp_path, text))
    message = str(caught.value)
    assert expected in message
    assert "\n" not in message
    assert str(tmp_path) in message


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="file not found"):
        load_settings(tmp_path / "nope.toml")


def test_addresses() -> None:
    assert parse_address("127.0.0.1:8080") == ("127.0.0.1", 8080)
    assert parse_address("[::1]:8443") == ("::1", 8443)
    with pytest.raises(ConfigError, match="host:port"):
        parse_address("8080")


def test_a_data_directory_places_the_default_duckdb_file_and_keeps_the_rest(tmp_path: Path) -> None:
    """``--data DIR``: the default DuckDB file moves into DIR with every other store setting kept (``replay``
    used to drop ``memory_limit``); an explicit path or PostgreSQL stays as configured."""
    settings = load_settings(write(tmp_path, '[store]\nmemory_limit = "512MB"\n')).store
    placed = settings.in_data_dir(tmp_path / "data")
    assert placed.path == str((tmp_path / "data").resolve() / "honeyscope.duckdb")
    assert placed.memory_limit == "512MB"
    explicit = load_settings(write(tmp_path, '[store]\npath = "/srv/hs.duckdb"\n')).store
    assert explicit.in_data_dir(tmp_path / "data") == explicit
    postgres = load_settings(write(tmp_path, '[store]\nkind = "postgres"\ndsn = "postgresql://u@h/db"\n')).store
    assert postgres.in_data_dir(tmp_path / "data") == postgres
