"""Canned, plausible output for commands sent to an emulated web shell. Nothing is ever run: the
command text is only matched against a few well-known reconnaissance commands."""

from __future__ import annotations

import re
from collections.abc import Callable

from honeyscope.sensor.personas.exchange.identity import ExchangeIdentity

_SHELL_PREFIX = re.compile(r"^\s*(?:c:\\windows\\system32\\)?cmd(?:\.exe)?\s+/[ck]\s+", re.IGNORECASE)
_SEPARATORS = re.compile(r"\s*(?:&&|&|\|\||;)\s*")


def run(command: str, identity: ExchangeIdentity) -> str:
    """What ``cmd /c <command>`` would print on the decoy (empty for anything unknown)."""
    text = _SHELL_PREFIX.sub("", command.strip().strip('"'))
    return "".join(_one(part, identity) for part in _SEPARATORS.split(text) if part.strip())


def _one(command: str, identity: ExchangeIdentity) -> str:
    words = command.strip().split()
    if not words:
        return ""
    verb = words[0].lower().removesuffix(".exe")
    if verb == "echo":
        return command.strip()[5:] + "\r\n"
    if verb == "net" and len(words) > 1:
        verb = f"net {words[1].lower()}"
    producer = _COMMANDS.get(verb)
    return producer(identity) if producer else ""


def _whoami(identity: ExchangeIdentity) -> str:
    return "nt authority\\system\r\n"


def _hostname(identity: ExchangeIdentity) -> str:
    return identity.netbios_name + "\r\n"


def _ipconfig(identity: ExchangeIdentity) -> str:
    return (
        "\r\nWindows IP Configuration\r\n\r\n\r\nEthernet adapter Ethernet0:\r\n\r\n"
        f"   Connection-specific DNS Suffix  . : {identity.ad_domain}\r\n"
        "   Link-local IPv6 Address . . . . . : fe80::3d1c:8a2f:91b4:6e0d%4\r\n"
        "   IPv4 Address. . . . . . . . . . . : 10.10.20.15\r\n"
        "   Subnet Mask . . . . . . . . . . . : 255.255.255.0\r\n"
        "   Default Gateway . . . . . . . . . : 10.10.20.1\r\n"
    )


def _dir(identity: ExchangeIdentity) -> str:
    return (
        " Volume in drive C has no label.\r\n Volume Serial Number is 5A3C-91E2\r\n\r\n"
        " Directory of c:\\windows\\system32\\inetsrv\r\n\r\n"
        "03/02/2021  08:14 AM    <DIR>          .\r\n03/02/2021  08:14 AM    <DIR>          ..\r\n"
        "09/15/2018  12:12 AM           119,808 appcmd.exe\r\n"
        "03/02/2021  08:14 AM    <DIR>          config\r\n"
        "09/15/2018  12:12 AM            58,368 w3wp.exe\r\n"
        "               2 File(s)        178,176 bytes\r\n"
        "               4 Dir(s)  41,283,608,576 bytes free\r\n"
    )


def _net_user(identity: ExchangeIdentity) -> str:
    return (
        f"\r\nUser accounts for \\\\{identity.netbios_name}\r\n\r\n"
        + "-" * 79 + "\r\n"
        "Administrator            DefaultAccount           Guest                    \r\n"
        "The command completed successfully.\r\n\r\n"
    )


def _tasklist(identity: ExchangeIdentity) -> str:
    rows = [
        ("System Idle Process", 0, "Services", 8), ("System", 4, "Services", 144),
        ("lsass.exe", 632, "Services", 61_240), ("svchost.exe", 780, "Services", 24_512),
        ("MSExchangeHMHost.exe", 3312, "Services", 98_304), ("w3wp.exe", 7424, "Services", 412_876),
        ("Microsoft.Exchange.ServiceHost.exe", 4120, "Services", 187_904), ("cmd.exe", 9156, "Services", 3_412),
        ("tasklist.exe", 9204, "Services", 7_880),
    ]
    header = (
        "\r\nImage Name                     PID Session Name        Session#    Mem Usage\r\n"
        "========================= ======== ================ =========== ============\r\n"
    )
    lines = [f"{name[:25]:<25} {pid:>8} {session:<16} {0:>11} {mem:>10,} K" for name, pid, session, mem in rows]
    return header + "\r\n".join(lines) + "\r\n"


def _ver(identity: ExchangeIdentity) -> str:
    major, minor, build = identity.windows_version
    return f"\r\nMicrosoft Windows [Version {major}.{minor}.{build}]\r\n"


_COMMANDS: dict[str, Callable[[ExchangeIdentity], str]] = {
    "whoami": _whoami,
    "hostname": _hostname,
    "ipconfig": _ipconfig,
    "dir": _dir,
    "net user": _net_user,
    "tasklist": _tasklist,
    "ver": _ver,
}
