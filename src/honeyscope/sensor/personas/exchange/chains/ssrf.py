"""Pure parsers for the two front-end SSRF primitives (exchange-facts.md B.1, B.6, B.7).

ProxyLogon (CVE-2021-26855): the ``X-BEResource`` / ``X-AnonResource-Backend`` cookie ``<host>~<int>``
names the back end; the front end builds ``https://<host>:444<path>`` with a URI builder, so tricks such
as ``[:[@fqdn:444/mapi/emsmdb?a=``, ``a]@fqdn:444/path?#`` or ``fqdn/path?a=`` let the attacker choose the
host, port and path (whatever follows becomes query or fragment).

ProxyShell (CVE-2021-34473) and ProxyNotShell (CVE-2022-41040): for ``autodiscover.json`` the front end
removes the explicit-logon address (``Email`` parameter or cookie) from the URL, so an address such as
``autodiscover/autodiscover.json?@x`` embedded in the URL leaves the rest of the URL as back-end path.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from urllib.parse import parse_qsl, unquote, unquote_to_bytes

#: Extensions BEResourceRequestHandler treats as static resources (anonymous back-end request).
STATIC_EXTENSIONS = (
    ".axd", ".crx", ".css", ".eot", ".gif", ".jpg", ".js", ".htm", ".html", ".ico", ".manifest", ".mp3",
    ".msi", ".png", ".svg", ".ttf", ".wav", ".woff", ".bin", ".dat", ".exe", ".flt", ".mui", ".xap", ".skin",
)

_AUTHORITY_END = re.compile(r"[/?#]")


@dataclass(frozen=True, slots=True)
class BackendTarget:
    """Where a ProxyLogon cookie sends the front end's request."""

    #: The cookie that carried it (``X-BEResource`` or ``X-AnonResource-Backend``).
    cookie: str
    #: The raw cookie value, for the record.
    raw: str
    #: Host the back-end request goes to (lower-case, brackets removed).
    host: str
    port: int | None
    #: Back-end path (the front-end path when the cookie names none).
    path: str
    query: str
    #: The ``~<int>`` server version (None when it did not parse).
    version: int | None


def is_static_resource(path: str) -> bool:
    """Whether the front end would route ``path`` to the resource handler that honours the cookie."""
    return path.lower().endswith(STATIC_EXTENSIONS)


def parse_backend_cookie(cookie: str, value: str, frontend_path: str) -> BackendTarget | None:
    """Parse ``<host>[:port][/path[?query]]~<int>``; None when there is no host at all."""
    text = unquote(value)
    location, tilde, version_text = text.rpartition("~")
    if not tilde:
        location, version_text = text, ""
    version = int(version_text) if version_text.strip().isdigit() else None
    match = _AUTHORITY_END.search(location)
    authority = location[: match.start()] if match else location
    rest = location[match.start():] if match else ""
    host, port = _split_host_port(authority.rpartition("@")[2])
    if not host:
        return None
    path, query = _split_rest(rest, frontend_path)
    return BackendTarget(cookie, value, host.lower(), port, path, query, version)


def _split_host_port(hostport: str) -> tuple[str, int | None]:
    """``fqdn:444`` → (fqdn, 444); stray brackets from the URI-builder tricks are dropped."""
    cleaned = hostport.replace("[", "").replace("]", "")
    host, colon, port_text = cleaned.rpartition(":")
    if colon and port_text.isdigit() and host:
        return host, int(port_text)
    return cleaned.rstrip(":"), None


def _split_rest(rest: str, frontend_path: str) -> tuple[str, str]:
    """Path and query of what follows the authority; a bare ``#``/``?`` keeps the front-end path."""
    before_fragment = rest.partition("#")[0]
    path, _, query = before_fragment.partition("?")
    return (path or frontend_path), query


def backend_cookie(cookies: dict[str, str], frontend_path: str) -> BackendTarget | None:
    """The SSRF target of a request, if it carries a routing cookie the front end would honour.

    OWA's resource handler reads ``X-AnonResource-Backend``; every vdir's BEResource handler reads
    ``X-BEResource``. Both need a static-resource path.
    """
    if not is_static_resource(frontend_path):
        return None
    names = ["X-BEResource"]
    if frontend_path.lower().startswith("/owa/"):
        names.insert(0, "X-AnonResource-Backend")
    lowered = {name.lower(): (name, value) for name, value in cookies.items()}
    for wanted in names:
        found = lowered.get(wanted.lower())
        if found and found[1]:
            target = parse_backend_cookie(found[0], found[1], frontend_path)
            if target is not None:
                return target
    return None


@dataclass(frozen=True, slots=True)
class ExplicitLogonSsrf:
    """What remains of an ``autodiscover.json`` URL once the explicit-logon address is cut out."""

    email: str
    path: str
    query: str
    #: The query was IBM037 (EBCDIC) encoded (ProxyNotShell mitigation bypass).
    ebcdic: bool


def decode_query(query: str, charset_header: str | None) -> tuple[str, bool]:
    """The query as the server reads it; ``X-Up-Devcap-Post-Charset: IBM037`` makes ASP.NET decode the
    percent-encoded bytes as EBCDIC (cp037), which hides ``Email``/``powershell`` from URL filters."""
    if charset_header and charset_header.strip().lower() in ("ibm037", "cp037"):
        pairs = []
        for part in query.split("&"):
            name, eq, value = part.partition("=")
            decoded_name = unquote_to_bytes(name).decode("cp037", "replace")
            decoded_value = unquote_to_bytes(value).decode("cp037", "replace")
            pairs.append(decoded_name + (eq + decoded_value if eq else ""))
        return "&".join(pairs), True
    return query, False


def might_be_explicit_logon(decoded_path: str) -> bool:
    """Whether a (percent-decoded) path is an ``autodiscover.json`` URL under ``/autodiscover/``."""
    lowered_path = decoded_path.lower()
    return lowered_path.startswith("/autodiscover/") and "autodiscover.json" in lowered_path


def explicit_logon_ssrf(
    path: str, query: str, cookies: dict[str, str], charset_header: str | None = None
) -> ExplicitLogonSsrf | None:
    """The back-end path an ``autodiscover.json`` request reaches (None if it is not the SSRF form)."""
    if not might_be_explicit_logon(unquote(path)):
        return None
    text_query, ebcdic = decode_query(query, charset_header)
    email = _explicit_logon_address(text_query, cookies)
    if email is None:
        return None
    url = unquote(path) + ("?" + text_query if text_query else "")
    start = url.lower().find(email.lower())
    if start < 0:
        return None
    remainder = url[:start] + url[start + len(email):]
    backend_path, _, backend_query = remainder.partition("?")
    return ExplicitLogonSsrf(email, "/" + backend_path.lstrip("/"), backend_query, ebcdic)


def _explicit_logon_address(query: str, cookies: dict[str, str]) -> str | None:
    """The ``Email`` parameter (query first, then cookie) when it starts with ``autodiscover/``."""
    candidates = [value for name, value in parse_qsl(query, keep_blank_values=True) if name.lower() == "email"]
    candidates += [unquote(value) for name, value in cookies.items() if name.lower() == "email"]
    for candidate in candidates:
        if candidate.lower().startswith("autodiscover/"):
            return candidate
    return None
