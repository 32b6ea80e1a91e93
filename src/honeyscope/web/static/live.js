// Live feed: poll /api/live for events newer than the newest shown and add them on top.
// Built with DOM methods and textContent only: attacker text is never parsed as HTML.
"use strict";
(function () {
  const status = document.getElementById("live-status");
  const table = document.getElementById("live-events");
  if (!status || !table) { return; }
  const body = table.tBodies[0];
  const api = status.dataset.api || "/api/live";
  const maxRows = 200;
  let cursor = status.dataset.cursor || "";
  const seen = new Set();
  for (const link of body.querySelectorAll("a[href^='/events/']")) { seen.add(link.getAttribute("href").slice(8)); }

  function cell(text, className) {
    const td = document.createElement("td");
    if (className) { td.className = className; }
    td.textContent = text === null || text === undefined ? "" : String(text);
    return td;
  }

  function link(href, text) {
    const a = document.createElement("a");
    a.setAttribute("href", href);
    a.textContent = text;
    return a;
  }

  function row(e) {
    const tr = document.createElement("tr");
    tr.className = "fresh sev-" + (/^[a-z]+$/.test(e.severity || "") ? e.severity : "none");
    const when = cell("", "nowrap");
    when.appendChild(link("/events/" + encodeURIComponent(e.id), e.timestamp.replace("T", " ").slice(0, 19)));
    tr.appendChild(when);
    const source = cell("", "nowrap");
    if (e.source_ip) { source.appendChild(link("/sessions?source=" + encodeURIComponent(e.source_ip), e.source_ip)); }
    else { source.textContent = "–"; }
    tr.appendChild(source);
    tr.appendChild(cell(e.country || "–"));
    tr.appendChild(cell((e.method ? e.method + " " : "") + (e.path || e.type), "text"));
    tr.appendChild(cell(e.status || "–"));
    tr.appendChild(cell(e.stage || "", "text"));
    tr.appendChild(cell((e.cves || []).join(" "), "nowrap"));
    tr.appendChild(cell(e.user_agent || "", "text"));
    return tr;
  }

  async function poll() {
    const url = api + "?limit=100" + (cursor ? "&after=" + encodeURIComponent(cursor) : "");
    try {
      const response = await fetch(url, { credentials: "same-origin", headers: { "Accept": "application/json" } });
      if (!response.ok) { status.textContent = "Live updates paused (HTTP " + response.status + ")."; return; }
      const page = await response.json();
      const fresh = page.events.filter(function (e) { return !seen.has(e.id); }).reverse();
      for (const e of fresh) {
        seen.add(e.id);
        body.insertBefore(row(e), body.firstChild);
      }
      const empty = body.querySelector("td.empty");
      if (fresh.length && empty) { empty.parentNode.remove(); }
      while (body.rows.length > maxRows) { body.deleteRow(body.rows.length - 1); }
      if (page.cursor) { cursor = page.cursor; }
      status.textContent = "Updated " + new Date().toISOString().slice(11, 19) + " UTC; " + fresh.length + " new.";
      status.dataset.polls = String(Number(status.dataset.polls || "0") + 1);
    } catch (error) {
      status.textContent = "Live updates paused (" + error.name + ").";
    }
  }

  const interval = Number(status.dataset.interval || "5000");
  window.setInterval(poll, interval > 500 ? interval : 5000);
})();
