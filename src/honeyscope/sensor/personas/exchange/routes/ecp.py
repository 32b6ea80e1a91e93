"""Exchange Admin Center (``/ecp``) before sign-in: FBA redirects, 440s and the eDiscovery export tool.

The export tool's ClickOnce manifest is the classic full-build leak (facts A.5.3): MSF's
``exchange_get_version`` and RIG's ``ms-exchange-version.nse`` read it at ``/ecp/Current/exporttool/…``
and brute-force ``/ecp/<build>/exporttool/``, so only the installed build's folder may answer 200.
"""

from __future__ import annotations

import base64
import hashlib
import re
from functools import cache
from typing import Final

from honeyscope.sensor.http.response import Response
from honeyscope.sensor.personas.base import PersonaRequest, Reply
from honeyscope.sensor.personas.exchange.assets import static_validators, template
from honeyscope.sensor.personas.exchange.headers import exchange_headers
from honeyscope.sensor.personas.exchange.identity import ExchangeIdentity
from honeyscope.sensor.personas.exchange.routes.common import absolute_url, logon_url, redirect
from honeyscope.sensor.personas.exchange.routes.errors import login_timeout, method_not_allowed, not_found

_MANIFEST_NAME: Final = "microsoft.exchange.ediscovery.exporttool.application"
#: ``/ecp/<version folder>/<rest>``: "current" or a four-part build.
_VERSIONED: Final = re.compile(r"/ecp/(current|\d+\.\d+\.\d+\.\d+)(/.*)?\Z")
#: Public key token of the signed export tool, as seen on real servers (facts A.1; it varies by build).
_SIGNER_KEY_ID: Final = "b1d1a6c45aa418ce"


def handle(request: PersonaRequest, identity: ExchangeIdentity, path: str) -> Reply:
    """Every request under ``/ecp``."""
    versioned = _VERSIONED.match(path)
    if versioned:
        return _versioned(request, identity, versioned.group(1), versioned.group(2) or "")
    return protected(request, identity)


def protected(request: PersonaRequest, identity: ExchangeIdentity) -> Reply:
    """FBA: GET → sign-in page with the ECP URL as destination (facts A.1), other verbs → 440."""
    if request.method not in ("GET", "HEAD"):
        return login_timeout(request, identity, "ecp.login_timeout")
    location = logon_url(request, absolute_url(request), 0)
    return Reply(redirect(request, identity, location), route="ecp.redirect_to_logon")


def _versioned(request: PersonaRequest, identity: ExchangeIdentity, folder: str, rest: str) -> Reply:
    if folder != "current" and folder != identity.build:
        return not_found(identity)  # no such version folder on this server
    if request.method not in ("GET", "HEAD"):
        return method_not_allowed(identity)
    if rest == f"/exporttool/{_MANIFEST_NAME}":
        return manifest(identity)
    if rest == "/exporttool/":
        return _exporttool_folder(identity)
    return not_found(identity)


def manifest(identity: ExchangeIdentity) -> Reply:
    """The export tool's deployment manifest, served by the back end (so with X-CalculatedBETarget)."""
    headers = _backend_static_headers(identity, "application/x-ms-application")
    return Reply(Response(200, headers, render_manifest(identity.build)), route="ecp.exporttool_manifest")


def _exporttool_folder(identity: ExchangeIdentity) -> Reply:
    # [?] MSF only needs 200 here; what the real folder URL returns as body is not verified.
    headers = _backend_static_headers(identity, "text/html")
    return Reply(Response(200, headers, b""), route="ecp.exporttool_folder")


def _backend_static_headers(identity: ExchangeIdentity, content_type: str) -> list[tuple[str, str]]:
    etag, last_modified = static_validators(identity)
    return exchange_headers(
        identity, content_type=content_type, cache_control=None, aspnet=False,
        leading=(("Last-Modified", last_modified), ("Accept-Ranges", "bytes"), ("ETag", f'"{etag}"')),
    )


def _b64(seed: str, size: int) -> str:
    """Stable pseudo-random bytes (hash chain) as base64: digests and signatures of our manifest."""
    out = b""
    block = seed.encode()
    while len(out) < size:
        block = hashlib.sha256(block).digest()
        out += block
    return base64.b64encode(out[:size]).decode("ascii")


@cache
def render_manifest(build: str) -> bytes:
    """Our ClickOnce manifest for ``build``: every assemblyIdentity carries the build (facts A.1)."""
    digest = hashlib.sha256(f"exporttool/{build}".encode()).digest()
    return template("exporttool.application").substitute(
        build=build,
        build_underscored=build.replace(".", "_"),
        token=_SIGNER_KEY_ID,
        manifest_size=str(24000 + int.from_bytes(digest[:2], "big") % 4000),
        manifest_digest=_b64(f"{build}/manifest", 32),
        document_digest=_b64(f"{build}/document", 32),
        license_digest=_b64(f"{build}/license", 32),
        manifest_hash_hex=hashlib.sha256(f"{build}/hash".encode()).hexdigest(),
        issuer_key_hash=hashlib.sha1(b"exporttool/issuer").hexdigest(),  # noqa: S324 - a label, not security
        modulus=_b64("exporttool/modulus", 256),
        strong_name_signature=_b64(f"{build}/strongname", 256),
        authenticode_signature=_b64(f"{build}/authenticode", 256),
    ).encode("utf-8")
