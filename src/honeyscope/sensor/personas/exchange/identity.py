"""Every name and version string the Exchange persona shows, derived from one ``ExchangeSettings``.

Keeping derivation in one place is what keeps the decoy consistent (build ↔ CU ↔ IIS ↔ Windows):
X-OWA-Version, /owa/auth/<build>/ asset paths, the exporttool manifest, X-ServerApplication, the MAPI
status page, the NTLM Version field, X-FEServer/X-CalculatedBETarget/X-DiagInfo and certificate names.
Facts: ../shared/reference/exchange-facts.md A.2, A.5, A.6.
"""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Hashable
from dataclasses import dataclass
from functools import cached_property
from typing import Any

from honeyscope.sensor.personas.exchange.settings import ExchangeSettings

#: Exchange major.minor → (product name, IIS version, Windows build used for the NTLM Version field).
#: Exchange 2013/2016 ship on Windows Server 2012 R2/2016 (IIS 8.5/10.0), 2019 on Server 2019 (IIS 10.0).
_PLATFORMS: dict[str, tuple[str, str, tuple[int, int, int]]] = {
    "15.0": ("Exchange Server 2013", "8.5", (6, 3, 9600)),
    "15.1": ("Exchange Server 2016", "10.0", (10, 0, 14393)),
    "15.2": ("Exchange Server 2019", "10.0", (10, 0, 17763)),
}


class IdentityError(ValueError):
    """Raised when settings describe a server that cannot exist (e.g. an unknown build family)."""


@dataclass(frozen=True)
class ExchangeIdentity:
    """Derived, consistent identity of one decoy Exchange server.

    Derived values are ``cached_property``: response headers read several of them on every request."""

    settings: ExchangeSettings

    def __post_init__(self) -> None:
        parts = self.settings.build.split(".")
        if len(parts) != 4 or not all(p.isdigit() for p in parts):
            raise IdentityError(f"build {self.settings.build!r} is not a four-part Exchange build like 15.1.2176.2")
        if self.family not in _PLATFORMS:
            raise IdentityError(f"build {self.settings.build!r}: only Exchange 2013/2016/2019 (15.x) are emulated")

    # -- versions ---------------------------------------------------------------------------------

    @cached_property
    def build(self) -> str:
        """Four-part build, e.g. ``15.1.2176.2`` (X-OWA-Version, exporttool manifest)."""
        return self.settings.build

    @cached_property
    def build3(self) -> str:
        """Three-part build used in OWA asset paths, e.g. ``15.1.2176``."""
        return self.build.rsplit(".", 1)[0]

    @cached_property
    def family(self) -> str:
        """``15.0``, ``15.1`` or ``15.2``."""
        return ".".join(self.build.split(".")[:2])

    @cached_property
    def server_application(self) -> str:
        """X-ServerApplication value: zero-padded build, e.g. ``Exchange/15.01.2176.002``."""
        major, minor, build, revision = (int(p) for p in self.build.split("."))
        return f"Exchange/{major:02d}.{minor:02d}.{build:04d}.{revision:03d}"

    @cached_property
    def product_name(self) -> str:
        return _PLATFORMS[self.family][0]

    @cached_property
    def iis_version(self) -> str:
        return _PLATFORMS[self.family][1]

    @cached_property
    def server_header(self) -> str:
        """``Microsoft-IIS/10.0`` (8.5 for Exchange 2013 on Server 2012 R2)."""
        return f"Microsoft-IIS/{self.iis_version}"

    @cached_property
    def windows_version(self) -> tuple[int, int, int]:
        """(major, minor, build) of Windows, as in the NTLM type-2 Version field."""
        return _PLATFORMS[self.family][2]

    @cached_property
    def encoded_server_version(self) -> int:
        """The integer Exchange uses after ``~`` in backend cookies and in Autodiscover ServerVersion
        (0x70000000 | major<<22 | minor<<16 | 0x8000 | build; facts B.1)."""
        major, minor, build, _ = (int(p) for p in self.build.split("."))
        return 0x70000000 | (major << 22) | (minor << 16) | 0x8000 | build

    # -- names ------------------------------------------------------------------------------------

    @cached_property
    def netbios_name(self) -> str:
        """Server NetBIOS name, upper-case (X-FEServer, X-BEServer, X-DiagInfo)."""
        return self.settings.netbios_name.upper()

    @cached_property
    def backend_fqdn(self) -> str:
        """Internal FQDN, lower-case (X-CalculatedBETarget, NTLM DnsComputerName lower-cased)."""
        return f"{self.settings.netbios_name}.{self.settings.ad_domain}".lower()

    @cached_property
    def dns_computer_name(self) -> str:
        """NTLM DnsComputerName as Windows sends it (NetBIOS part upper-case is common; we keep the
        configured case of the host part and the domain as configured)."""
        return f"{self.settings.netbios_name}.{self.settings.ad_domain}"

    @property
    def ad_domain(self) -> str:
        return self.settings.ad_domain

    @cached_property
    def netbios_domain(self) -> str:
        return self.settings.netbios_domain.upper()

    @property
    def public_host(self) -> str:
        return self.settings.public_host

    @property
    def mail_domain(self) -> str:
        return self.settings.mail_domain

    @property
    def organization(self) -> str:
        return self.settings.organization

    def certificate_names(self) -> tuple[str, list[str]]:
        """Common name and DNS names for the TLS certificate (public host, autodiscover, server)."""
        names = [self.public_host, f"autodiscover.{self.mail_domain}", self.netbios_name, self.backend_fqdn]
        unique = list(dict.fromkeys(name.lower() for name in names))
        return self.public_host, unique

    # -- stable per-installation values -----------------------------------------------------------

    def stable_guid(self, purpose: str) -> str:
        """A GUID that is the same on every start of this installation (for one purpose)."""
        digest = hashlib.sha256(f"{self.settings.seed}/{self.build}/{purpose}".encode()).digest()
        return str(uuid.UUID(bytes=digest[:16], version=4))

    def user_sid(self, mailbox: str) -> str:
        """The SID this domain gives a mailbox user: domain SID + a stable RID (500 for Administrator)."""
        if mailbox.lower() in ("administrator", "admin"):
            return f"{self.settings.domain_sid}-500"
        digest = hashlib.sha256(f"{self.settings.seed}/rid/{mailbox.lower()}".encode()).digest()
        return f"{self.settings.domain_sid}-{1100 + int.from_bytes(digest[:3], 'big') % 50000}"

    def legacy_dn(self, mailbox: str) -> str:
        """Mailbox LegacyExchangeDN as Autodiscover returns it."""
        digest = hashlib.sha256(f"{self.settings.seed}/ldn/{mailbox.lower()}".encode()).hexdigest()
        return (
            f"/o={self.organization}/ou=Exchange Administrative Group (FYDIBOHF23SPDLT)"
            f"/cn=Recipients/cn={digest[:32]}-{mailbox.split('@')[0][:10]}"
        )

    def is_known_mailbox(self, address: str) -> bool:
        """Whether ``address`` (alias or SMTP address) names a mailbox of this decoy."""
        local = address.split("@")[0].lower()
        return local in {m.lower() for m in self.settings.known_mailboxes}

    @cached_property
    def mailbox_guid(self) -> str:
        return self.stable_guid("mailbox")

    # -- memo -------------------------------------------------------------------------------------

    @cached_property
    def header_memo(self) -> dict[Hashable, Any]:
        """Response header sets derived from this identity, memoised by ``headers.exchange_headers``."""
        return {}
