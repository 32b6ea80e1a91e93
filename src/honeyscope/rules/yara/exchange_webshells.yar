/*
   honeyscope: Exchange web-shell families (HAFNIUM era, 2021 onwards).

   Written for honeyscope from the facts collected in exchange-facts.md (sections B.3, B.6, C, D.2);
   every rule names the public source of the fact it encodes. Rules match what a decoy records: the
   web shell as a request body (upload, OAB property, EWS attachment) or as a stored artifact (the
   file a chain "wrote"). Meta keys read by honeyscope: description, reference, cve, technique,
   stage, severity (Sigma levels).
*/

rule HS_WEBSHELL_ChinaChopper_Jscript_PageDirective {
   meta:
      description = "China Chopper one-line ASPX web shell: <%@ Page Language=\"Jscript\"%><%eval(Request.Item[...],\"unsafe\");%>"
      reference = "https://www.microsoft.com/security/blog/2021/03/02/hafnium-targeting-exchange-servers/"
      technique = "T1505.003"
      severity = "critical"
      author = "honeyscope"
      date = "2026-11-22"
   strings:
      $directive = /<%@\s*Page\s+Language\s*=\s*\\?["']?\s*J[Ss]cript/ nocase
      $eval = /eval\s*\(\s*Request\s*(\.Item)?\s*\[\s*\\?["'][^"'\r\n]{1,100}["']\s*\]\s*,\s*\\?["']unsafe/ nocase
   condition:
      $directive and $eval
}

rule HS_WEBSHELL_ChinaChopper_Jscript_ScriptBlock {
   meta:
      description = "China Chopper web shell in a server-side JScript block (the OAB ExternalUrl form of ProxyLogon): function Page_Load(){eval(Request[...],\"unsafe\");}"
      reference = "https://www.volexity.com/blog/2021/03/02/active-exploitation-of-microsoft-exchange-zero-day-vulnerabilities/"
      technique = "T1505.003"
      severity = "critical"
      author = "honeyscope"
      date = "2026-11-22"
   strings:
      $block = /<script[^>]{0,100}runat\s*=\s*\\?["']?server/ nocase
      $load = "function Page_Load" nocase
      $eval = /eval\s*\(\s*Request\s*(\.Item)?\s*\[\s*\\?["'][^"'\r\n]{1,100}["']\s*\]\s*,\s*\\?["']unsafe/ nocase
   condition:
      $block and $load and $eval
}

rule HS_WEBSHELL_Jscript_PipeStripping_Eval {
   meta:
      description = "JScript web shell that strips '|' padding from Request[...] before eval (early-March 2021 ProxyLogon exploit variant, THISISFORTEST)"
      reference = "https://www.microsoft.com/security/blog/2021/03/02/hafnium-targeting-exchange-servers/"
      technique = "T1505.003"
      severity = "critical"
      author = "honeyscope"
      date = "2026-11-22"
   strings:
      $load = "function Page_Load" nocase
      $req = /var\s+\w{1,20}\s*=\s*Request\s*\[\s*\\?["'][^"'\r\n]{1,40}["']\s*\]/ nocase
      $strip = /\.replace\s*\(\s*\\?["']\|\\?["']\s*,\s*\\?["']\\?["']\s*\)/ nocase
      $eval = /eval\s*\(\s*\w{1,20}\s*\)/ nocase
   condition:
      $load and $req and $strip and $eval
}

rule HS_WEBSHELL_ASPX_SimpleSeeSharp {
   meta:
      description = "SIMPLESEESHARP: minimal C# ASPX upload shell (Request.Files[0].SaveAs) seen on exploited Exchange servers"
      reference = "https://www.volexity.com/blog/2021/03/02/active-exploitation-of-microsoft-exchange-zero-day-vulnerabilities/"
      technique = "T1505.003"
      severity = "critical"
      author = "honeyscope"
      date = "2026-11-22"
   strings:
      $directive = /<%@\s*Page\s+Language\s*=\s*["']?C#/ nocase
      $file = /HttpPostedFile\s+\w{1,30}\s*=\s*Request\.Files\s*\[\s*0\s*\]/
      $save = /\.SaveAs\s*\(\s*Path\.Combine/
   condition:
      $directive and $file and $save
}

rule HS_WEBSHELL_ASPX_SportsBall {
   meta:
      description = "SPORTSBALL ASPX web shell: its cookie name fqrspt or its hard-coded key"
      reference = "https://www.volexity.com/blog/2021/03/02/active-exploitation-of-microsoft-exchange-zero-day-vulnerabilities/"
      technique = "T1505.003"
      severity = "critical"
      author = "honeyscope"
      date = "2026-11-22"
   strings:
      $key = "ZN2aDAB4rXsszEvCLrzgcvQ4oi5J1TuiRULlQbYwldE=" ascii wide
      $cookie = "fqrspt" ascii wide
      $aspx1 = "runat=" nocase
      $aspx2 = "<%@" ascii
   condition:
      $key or ($cookie and 1 of ($aspx*))
}

rule HS_WEBSHELL_ASPX_reGeorg_Tunnel {
   meta:
      description = "reGeorg-style ASPX SOCKS tunnel (a variant was dropped after Exchange exploitation): X-CMD/X-STATUS/X-TARGET/X-PORT header protocol"
      reference = "https://www.volexity.com/blog/2021/03/02/active-exploitation-of-microsoft-exchange-zero-day-vulnerabilities/"
      technique = "T1090"
      severity = "high"
      author = "honeyscope"
      date = "2026-11-22"
   strings:
      $cmd = "\"X-CMD\"" nocase
      $status = "\"X-STATUS\"" nocase
      $target = "\"X-TARGET\"" nocase
      $port = "\"X-PORT\"" nocase
      $connect = "\"CONNECT\"" ascii
      $forward = "\"FORWARD\"" ascii
   condition:
      $cmd and $status and 2 of ($target, $port, $connect, $forward)
}

rule HS_WEBSHELL_ASPX_SecChecker {
   meta:
      description = "SecChecker-style ASPX page that checks for installed EDR agents (FireEye xagt.exe, CrowdStrike CSFalconService.exe)"
      reference = "https://www.volexity.com/blog/2021/03/02/active-exploitation-of-microsoft-exchange-zero-day-vulnerabilities/"
      technique = "T1518.001"
      severity = "high"
      author = "honeyscope"
      date = "2026-11-22"
   strings:
      $edr1 = "xagt.exe" nocase ascii wide
      $edr2 = "csfalconservice.exe" nocase ascii wide
      $aspx1 = "runat=" nocase
      $aspx2 = "<%@" ascii
   condition:
      all of ($edr*) and 1 of ($aspx*)
}

rule HS_WEBSHELL_OAB_VirtualDirectory_Dump_Script {
   meta:
      description = "OAB virtual-directory dump written by ResetOABVirtualDirectory with a script in ExternalUrl/InternalUrl: the ProxyLogon web shell file"
      reference = "https://www.cisa.gov/news-events/analysis-reports/ar21-084a"
      cve = "CVE-2021-27065"
      technique = "T1505.003"
      stage = "proxylogon.oab_reset_write"
      severity = "critical"
      author = "honeyscope"
      date = "2026-11-22"
   strings:
      $oab = "OfflineAddressBooks" ascii
      $url = /(External|Internal)Url\s*:\s*[a-z]{1,10}:\/\/[^\r\n]{0,200}<script/ nocase
   condition:
      $oab and $url
}

rule HS_WEBSHELL_ProxyShell_PST_Encoded_Script {
   meta:
      description = "Web shell in PST permutative encoding ([MS-PST] 5.1), as sent for a ProxyShell mailbox export (New-MailboxExportRequest -FilePath ...aspx): decodes to a server-side script"
      reference = "https://www.zerodayinitiative.com/blog/2021/8/17/from-pwn2own-2021-a-new-attack-surface-on-microsoft-exchange-proxyshell"
      cve = "CVE-2021-31207"
      technique = "T1505.003"
      severity = "critical"
      author = "honeyscope"
      date = "2026-11-22"
   strings:
      /* Each string is the attacker-side form (mpbbI) of an ASCII token; see honeyscope.detect.yara.pst. */
      $runat = { 86 F7 06 A9 14 FF }                      /* runat= */
      $page_load = { B9 A9 DF DA 29 20 D3 A9 0D }        /* Page_Load */
      $request = { BE DA 5C F7 DA D6 14 }                /* Request */
      $eval = { DA A5 A9 CD 8C }                         /* eval( */
      $unsafe = { F7 06 D6 A9 5D DA }                    /* unsafe */
      $language = { A9 06 DF F7 A9 DF DA FF }            /* anguage= */
      $script = { D6 54 86 B7 69 14 }                    /* script */
   condition:
      4 of them
}

rule HS_EXPL_ProxyShell_PST_Encoded_Attachment {
   meta:
      description = "EWS draft attachment carrying a PST-permutation-encoded server-side script in base64: ProxyShell payload delivery before the mailbox export"
      reference = "https://www.zerodayinitiative.com/blog/2021/8/17/from-pwn2own-2021-a-new-attack-surface-on-microsoft-exchange-proxyshell"
      cve = "CVE-2021-31207"
      technique = "T1505.003"
      stage = "proxyshell.ews_createitem"
      severity = "critical"
      author = "honeyscope"
      date = "2026-11-22"
   strings:
      $runat = "\x86\xf7\x06\xa9\x14\xff" base64
      $page_load = "\xb9\xa9\xdf\xda\x29\x20\xd3\xa9\x0d" base64
      $request = "\xbe\xda\x5c\xf7\xda\xd6\x14" base64
      $unsafe = "\xf7\x06\xd6\xa9\x5d\xda" base64
      $language = "\xa9\x06\xdf\xf7\xa9\xdf\xda\xff" base64
      $script = "\xd6\x54\x86\xb7\x69\x14" base64
   condition:
      4 of them
}
