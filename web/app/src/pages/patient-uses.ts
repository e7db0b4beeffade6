// "Uses of my data": the page downloads every complete receipt set (the
// same bytes the node serves to anyone) and recognises the patient's own
// tags here, with the wallet's X25519 key (receipts.ts). The node never
// learns which sets were the patient's; the key never leaves the page.
import { Node, type DatasetView, type Org, type ReceiptView } from "../api";
import { fromBase64 } from "../canonical";
import { Scanner } from "../receipts";
import { $, fill, failRow, say, short } from "../ui";
import { cell, purposeWords } from "./patient";
import { catalogue, haveIdentity, walletForDataset } from "./patient-wallets";

const analysisWords: Record<string, string> = {
  cohort_count: "a count of patients",
  descriptive: "summary statistics",
  crosstab: "a table of counts",
  logistic_regression: "a risk model (logistic regression)",
  linear_regression: "a linear model",
  survival: "a survival analysis",
  cox: "a survival model (Cox)",
  gbt: "a prediction model (boosted trees)",
};

/** allReceipts reads every complete receipt set, page by page. */
async function allReceipts(node: Node): Promise<ReceiptView[]> {
  const out: ReceiptView[] = [];
  let from = 0;
  for (let page = 0; page < 10000; page++) {
    const r = await node.receipts(from);
    out.push(...(r.receipts ?? []));
    if (!r.more || r.next === undefined || r.next <= from) break;
    from = r.next;
  }
  return out;
}

let scans = 0; // a scan started later wins: an earlier one that ends after it shows nothing

export async function renderUses(node: Node, datasets: DatasetView[], orgs: Org[]) {
  const tb = $("my-uses");
  const msg = $("uses-msg");
  if (!haveIdentity()) return fill(tb, [], 6, "sign in to check the uses of your data");
  const scan = ++scans;
  say(msg, "Checking every job's receipts in this browser…", true);
  try {
    const [status, sets] = await Promise.all([node.status(), allReceipts(node)]);
    const scanners = new Map<string, Scanner>();
    const mine = sets.filter((s) => {
      const k = walletForDataset(s.dataset ?? "", datasets);
      if (!k || !s.tags || !s.worker_enc_key) return false;
      let sc = scanners.get(k.address);
      if (!sc) scanners.set(k.address, (sc = new Scanner(k.x25519, status.chain_id)));
      try {
        return sc.recognises(fromBase64(s.worker_enc_key), s.job ?? 0, s.dataset ?? "", fromBase64(s.tags));
      } catch {
        return false; // a worker key nobody can agree with holds no receipt of anyone's
      }
    });
    if (scan !== scans) return;
    // Every set's requester is looked up, not only those of the jobs that
    // used her: which accounts the page asks about must not tell the node
    // which jobs matched.
    const requesters = new Map<string, string>();
    for (const s of sets) {
      const a = s.requester ?? "";
      if (requesters.has(a)) continue;
      const acct = await node.account(a).catch(() => null);
      requesters.set(a, acct?.org ? `${orgs.find((o) => o.id === acct.org)?.name ?? acct.org} (${acct.kind})` : `${acct?.kind ?? "account"} ${short(a)}`);
    }
    if (scan !== scans) return;
    fill(tb, mine.map((s) => {
      const d = datasets.find((x) => x.id === s.dataset);
      const row = [cell("job", s.job), cell("who asked", requesters.get(s.requester ?? "")), cell("why", purposeWords[s.purpose ?? ""] ?? s.purpose),
        cell("what was computed", analysisWords[s.analysis ?? ""] ?? s.analysis),
        cell("data", d?.latest?.title ? `${d.latest.title} (${s.dataset})` : s.dataset),
        cell("when", s.admitted_time ? new Date(s.admitted_time * 1000).toLocaleString() : `block ${s.admitted_height}`)];
      row[0].setAttribute("data-job", String(s.job));
      return row;
    }), 6, "No job has used your records.");
    say(msg, `Checked ${sets.length} receipt set${sets.length === 1 ? "" : "s"} of released results: ${mine.length} used your records.`, true);
  } catch (e) {
    if (scan !== scans) return;
    failRow(tb, 6, e);
    say(msg, "", true);
  }
}

export function wireUses(node: Node) {
  $("uses-scan").addEventListener("click", async () => {
    const { datasets, orgs } = await catalogue(node);
    renderUses(node, datasets, orgs);
  });
}
