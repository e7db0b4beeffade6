// The network overview: status, catalogue, organisations and the latest
// audit entries — public ledger metadata only.
import { Node, type Status } from "../api";
import { $, fill, failRow, h, short, td } from "../ui";

export async function loadStatus(node: Node): Promise<Status | undefined> {
  const dl = $("status");
  try {
    const s = await node.status();
    const c = s.commitment;
    const items: [string, unknown, boolean?][] = [
      ["chain", s.chain_id], ["height", s.height], ["app hash", s.app_hash, true], ["state root", c?.state_root, true],
      ["audit log", c ? `${c.audit_size} entries, root ${c.audit_root}` : "", true],
      ["validators", s.validators], ["peers", s.peers], ["node", `${s.moniker} (${s.node_id})`],
      ["last block", s.block_time], ["catching up", s.catching_up ? "yes" : "no"],
    ];
    dl.replaceChildren(...items.flatMap(([k, v, mono]) => [h("dt", {}, k), h("dd", mono ? { class: "mono" } : {}, v === undefined ? "" : String(v))]));
    return s;
  } catch (e) {
    dl.replaceChildren(h("dd", { class: "bad" }, "node unreachable: " + (e as Error).message));
  }
}

async function loadCatalogue(node: Node) {
  const tb = $("datasets");
  try {
    const list = await node.datasets();
    fill(tb, list.map((d) => {
      const v = d.latest, p = d.policy;
      return [td(d.id, "mono"), td(d.org), td(v?.version), td(v?.title), td(v?.record_band),
        td((p?.purposes ?? []).join(", ")), td(p?.price), td(p?.consent_model)];
    }), 8);
  } catch (e) {
    failRow(tb, 8, e);
  }
}

async function loadOrgs(node: Node) {
  const tb = $("orglist");
  try {
    const list = await node.orgs();
    fill(tb, list.map((o) => [td(o.id, "mono"), td(o.name), td(o.kind), td((o.admins ?? []).map(short).join(", "), "mono")]), 4);
  } catch (e) {
    failRow(tb, 4, e);
  }
}

async function loadAudit(node: Node, s?: Status) {
  const tb = $("auditlog");
  try {
    const size = s?.commitment?.audit_size ?? 0;
    const rows = [];
    for (let i = size - 1; i >= 0 && i >= size - 25; i--) {
      const r = await node.auditEntry(i);
      const e = r.entry;
      rows.push([td(i), td(e.height), td(e.type), td(short(e.signer), "mono"),
        td(e.code === 0 ? "ok" : `code ${e.code}: ${e.log ?? ""}`, e.code === 0 ? "ok" : "bad"),
        td((e.changes ?? []).map((c) => c.key).join(" "), "mono")]);
    }
    fill(tb, rows, 6);
  } catch (e) {
    failRow(tb, 6, e);
  }
}

export async function refreshOverview(node: Node) {
  const s = await loadStatus(node);
  await Promise.all([loadCatalogue(node), loadOrgs(node), loadAudit(node, s)]);
}
