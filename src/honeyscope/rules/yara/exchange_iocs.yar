/*
   honeyscope: file-path indicators of the March 2021 Exchange campaigns.

   These rules look at the `filepath` external only, which honeyscope sets to the path an exploit
   chain meant to write an artifact to (ResetOABVirtualDirectory FilePathName, New-MailboxExportRequest
   -FilePath); for request bodies it is empty and the rules never fire.

   Indicators: Microsoft Threat Intelligence Center's file paths for the vulnerabilities disclosed in
   March 2021 (published in Azure/Azure-Sentinel, MIT licence) and ESET's per-group web-shell names
   (welivesecurity, 2021-03-10), both as collected in exchange-facts.md section C. The MSTIC SHA256
   hashes are not encoded: they are hashes of files generated on victims, which a decoy never sees,
   and the YARA hash module would add ~8 us to every scan.
*/

rule HS_IOC_MSTIC_Exchange_Mar21_WebShell_Path {
   meta:
      description = "Artifact written to a web-shell path Microsoft (MSTIC) published for the March 2021 Exchange attacks"
      reference = "https://github.com/Azure/Azure-Sentinel/blob/master/Sample%20Data/Feeds/MSTICIoCs-ExchangeServerVulnerabilitiesDisclosedMarch2021.csv"
      technique = "T1505.003"
      severity = "high"
      author = "honeyscope"
      date = "2026-11-22"
   condition:
      filepath matches /\\FrontEnd\\HttpProxy\\owa\\auth\\(Chack(Auth|Cookie|Id|Lang|Logs|OutLook|Pass|Replace)[A-Z]{2}|8Lw7tAhF9i1pJnRo|OutlookZH|OutlookUS|authhead|bob|errorPages?|fatal-erro|logg?|logout|one1?|shel|shel2|shel90|a|default|current\\one1|current\\themes\\resources\\logon)\.aspx$/i
      or filepath matches /\\FrontEnd\\HttpProxy\\(OAB\\log\.aspx|ews\\333\.aspx|ecp\\auth\\TimeoutLogout\.aspx|owa\\auth\\(current\\)?google\.log)$/i
      or filepath matches /\\inetpub\\wwwroot\\aspnet_client\\(shell|Server|aspnet_client|aspnet_iisstart|aspnet_pages|aspnet_www|default1|errorcheck|iispage|s|session|system_web\\log|xclkmcfldfi948398430fdjkfdkj|xx|discover|HttpProxy|OutlookEN|supp0rt|services)\.aspx$/i
      or filepath matches /\\inetpub\\wwwroot\\aspnet_client\\google\.log$/i
      or filepath matches /\\users\\public\\opera\\opera_browser\.exe$/i
}

rule HS_IOC_Exchange_Mar21_aspnet_client_system_web_Shell {
   meta:
      description = "Artifact written under aspnet_client\\system_web\\ with a web-shell name reported after the March 2021 Exchange attacks (ESET, Huntress)"
      reference = "https://www.welivesecurity.com/2021/03/10/exchange-servers-under-siege-10-apt-groups/"
      technique = "T1505.003"
      severity = "high"
      author = "honeyscope"
      date = "2026-11-22"
   condition:
      filepath matches /\\aspnet_client\\system_web\\((shell|supp0rt|aspnet|aspnet_client|client|OutlookEN)|[a-zA-Z0-9]{8})\.aspx$/i
}

rule HS_IOC_ESET_Exchange_Mar21_WebShell_Name_Tick {
   meta:
      description = "Web-shell file name ESET attributed to Tick in the March 2021 Exchange exploitation (aspnet.aspx); a name alone is weak evidence"
      reference = "https://www.welivesecurity.com/2021/03/10/exchange-servers-under-siege-10-apt-groups/"
      technique = "T1505.003"
      severity = "medium"
      author = "honeyscope"
      date = "2026-11-22"
   condition:
      filepath matches /\\aspnet\.aspx$/i
}

rule HS_IOC_ESET_Exchange_Mar21_WebShell_Name_Calypso {
   meta:
      description = "Web-shell file name ESET attributed to Calypso in the March 2021 Exchange exploitation (client.aspx, discover.aspx); a name alone is weak evidence"
      reference = "https://www.welivesecurity.com/2021/03/10/exchange-servers-under-siege-10-apt-groups/"
      technique = "T1505.003"
      severity = "medium"
      author = "honeyscope"
      date = "2026-11-22"
   condition:
      filepath matches /\\(client|discover)\.aspx$/i
}

rule HS_IOC_ESET_Exchange_Mar21_WebShell_Name_Winnti {
   meta:
      description = "Web-shell file name ESET attributed to the Winnti Group in the March 2021 Exchange exploitation (caches.aspx, shell.aspx); a name alone is weak evidence"
      reference = "https://www.welivesecurity.com/2021/03/10/exchange-servers-under-siege-10-apt-groups/"
      technique = "T1505.003"
      severity = "medium"
      author = "honeyscope"
      date = "2026-11-22"
   condition:
      filepath matches /\\(caches|shell)\.aspx$/i
}

rule HS_IOC_ESET_Exchange_Mar21_WebShell_Name_Tonto {
   meta:
      description = "Web-shell file name ESET attributed to Tonto Team in the March 2021 Exchange exploitation (dukybySSSS.aspx)"
      reference = "https://www.welivesecurity.com/2021/03/10/exchange-servers-under-siege-10-apt-groups/"
      technique = "T1505.003"
      severity = "medium"
      author = "honeyscope"
      date = "2026-11-22"
   condition:
      filepath matches /\\dukybySSSS\.aspx$/i
}

rule HS_IOC_ESET_Exchange_Mar21_WebShell_Name_Mikroceen {
   meta:
      description = "Web-shell file name ESET attributed to Mikroceen in the March 2021 Exchange exploitation (aspnet_regiis.aspx)"
      reference = "https://www.welivesecurity.com/2021/03/10/exchange-servers-under-siege-10-apt-groups/"
      technique = "T1505.003"
      severity = "medium"
      author = "honeyscope"
      date = "2026-11-22"
   condition:
      filepath matches /\\aspnet_regiis\.aspx$/i
}

rule HS_IOC_ESET_Exchange_Mar21_WebShell_Name_Other {
   meta:
      description = "Web-shell file names listed by ESET for the March 2021 Exchange exploitation without a group (log_error_9e23efc3.aspx, owa\\auth\\aspnet_error.aspx, aspnettest.aspx, shellex.aspx)"
      reference = "https://www.welivesecurity.com/2021/03/10/exchange-servers-under-siege-10-apt-groups/"
      technique = "T1505.003"
      severity = "medium"
      author = "honeyscope"
      date = "2026-11-22"
   condition:
      filepath matches /\\(log_error_9e23efc3|owa\\auth\\aspnet_error|aspnettest|shellex)\.aspx$/i
}
