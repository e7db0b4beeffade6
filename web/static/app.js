// medchain dashboard: reads the node's /v1 API. Everything shown is public
// ledger metadata; nothing here can see a record.
"use strict";

const $ = (id) => document.getElementById(id);

async function api(path) {
  const r = await fetch("/v1/" + path);
  const body = await r.json();
  if (!r.ok) throw new Error((body.error && body.error.message) || r.statusText);
  return body;
}

function cell(text, cls) {
  const td = document.createElement("td");
  td.textContent = text === undefined || text === null ? "" : String(text);
  if (cls) td.className = cls;
  return td;
}

function fill(tbody, rows, cols) {
  tbody.replaceChildren();
  if (rows.length === 0) {
    const tr = document.createElement("tr");
    const td = cell("none yet");
    td.colSpan = cols;
    tr.append(td);
    tbody.append(tr);
    return;
  }
  for (const r of rows) {
    const tr = document.createElement("tr");
    tr.append(...r);
    tbody.append(tr);
  }
}

function fail(tbody, cols, err) {
  const tr = document.createElement("tr");
  const td = cell("could not load: " + err.message, "bad");
  td.colSpan = cols;
  tr.append(td);
  tbody.replaceChildren(tr);
}

const short = (s) => (s && s.length > 16 ? s.slice(0, 8) + "…" + s.slice(-6) : s);

async function loadStatus() {
  const dl = $("status");
  try {
    const s = await api("status");
    const items = [
      ["chain", s.chain_id], ["height", s.height], ["app hash", s.app_hash],
      ["state root", s.commitment && s.commitment.state_root],
      ["audit log", s.commitment ? s.commitment.audit_size + " entries, root " + s.commitment.audit_root : ""],
      ["validators", s.validators], ["peers", s.peers], ["node", s.moniker + " (" + s.node_id + ")"],
      ["last block", s.block_time], ["catching up", s.catching_up ? "yes" : "no"],
    ];
    dl.replaceChildren();
    for (const [k, v] of items) {
      const dt = document.createElement("dt");
      dt.textContent = k;
      const dd = document.createElement("dd");
      dd.textContent = v === undefined ? "" : String(v);
      if (k.includes("hash") || k.includes("root")) dd.className = "mono";
      dl.append(dt, dd);
    }
    return s;
  } catch (e) {
    dl.replaceChildren(Object.assign(document.createElement("dd"), { textContent: "node unreachable: " + e.message, className: "bad" }));
  }
}

async function loadCatalogue() {
  const tb = $("datasets");
  try {
    const r = await api("datasets");
    const list = Array.isArray(r) ? r : r.datasets || [];
    fill(tb, list.map((d) => {
      const v = d.latest || d.version || {};
      const p = d.policy || {};
      return [cell(d.id || (d.dataset && d.dataset.id), "mono"), cell(d.org || (d.dataset && d.dataset.org)),
        cell(v.version), cell(v.title), cell(v.record_band), cell((p.purposes || []).join(", ")),
        cell(p.price), cell(p.consent_model)];
    }), 8);
  } catch (e) { fail(tb, 8, e); }
}

async function loadOrgs() {
  const tb = $("orglist");
  try {
    const r = await api("orgs");
    const list = Array.isArray(r) ? r : r.orgs || [];
    fill(tb, list.map((o) => [cell(o.id, "mono"), cell(o.name), cell(o.kind), cell((o.admins || []).map(short).join(", "), "mono")]), 4);
  } catch (e) { fail(tb, 4, e); }
}

async function loadAudit(status) {
  const tb = $("auditlog");
  try {
    const size = status && status.commitment ? status.commitment.audit_size : 0;
    const rows = [];
    for (let i = size - 1; i >= 0 && i >= size - 25; i--) {
      const r = await api("audit/entries/" + i);
      const e = r.entry || r;
      rows.push([cell(i), cell(e.height), cell(e.type), cell(short(e.signer), "mono"),
        cell(e.code === 0 ? "ok" : "code " + e.code + ": " + (e.log || ""), e.code === 0 ? "ok" : "bad"),
        cell((e.changes || []).map((c) => c.key).join(" "), "mono")]);
    }
    fill(tb, rows, 6);
  } catch (e) { fail(tb, 6, e); }
}

$("patientform").addEventListener("submit", async (ev) => {
  ev.preventDefault();
  const tb = $("consents");
  const addr = $("patientaddr").value.trim();
  try {
    const r = await api("patients/" + encodeURIComponent(addr) + "/consents");
    const list = Array.isArray(r) ? r : r.consents || [];
    fill(tb, list.map((c) => [cell(c.seq), cell(c.scope.kind + (c.scope.id ? " " + c.scope.id : "")), cell(c.provision),
      cell(c.purposes.join(", ")), cell(c.created_height),
      cell(c.revoked_height ? "revoked at " + c.revoked_height : "active", c.revoked_height ? "bad" : "ok")]), 6);
  } catch (e) { fail(tb, 6, e); }
});

async function refresh() {
  const s = await loadStatus();
  await Promise.all([loadCatalogue(), loadOrgs(), loadAudit(s)]);
}

refresh();
setInterval(loadStatus, 3000);
