// Data deals: buyers' open offers, and the patient's answers. Accepting
// signs accept_deal {deal, dataset} here with the wallet of the institution
// that holds the dataset — nothing else, no id, no value; withdrawing signs
// withdraw_acceptance with the wallet that accepted.
import { Node, type Acceptance, type DatasetView, type Deal, type Org } from "../api";
import type { UnlockedKey } from "../keystore";
import { send } from "../txflow";
import { $, fill, failRow, h, say } from "../ui";
import { cell, purposeWords } from "./patient";
import { catalogue, haveIdentity, myWallets, registered, walletForDataset } from "./patient-wallets";

const answerWords: Record<string, string> = {
  pending: "accepted — waiting for your hospital to send it", delivered: "sent and paid", withdrawn: "withdrawn", declined: "declined by the hospital (no record of yours there)",
};

async function act(node: Node, k: UnlockedKey, type: string, msg: unknown, ok: string) {
  const out = $("deals-msg");
  try {
    say(out, "Signing and sending…", true);
    const r = await send(node, k, type, msg);
    say(out, `${ok} (height ${r.height}).`, true);
    const { datasets, orgs } = await catalogue(node);
    renderDeals(node, datasets, orgs);
  } catch (e) {
    say(out, `Not done: ${(e as Error).message}`, false);
  }
}

function yourShare(d: Deal, ds: string[], datasets: DatasetView[]): string {
  const split = datasets.find((x) => x.id === ds[0])?.policy?.reward_split;
  if (!split) return `${d.price_per_record} per record, shared with the hospital`;
  const pct = (10000 - split.institution_bps - split.worker_bps) / 100;
  return `about ${Math.floor((d.price_per_record * pct) / 100)} of ${d.price_per_record} tokens per record`;
}

export async function renderDeals(node: Node, datasets: DatasetView[], orgs: Org[]) {
  const tb = $("open-deals");
  try {
    const deals = await node.deals("open");
    const mine = new Map<number, { a: Acceptance; k: UnlockedKey }>();
    if (haveIdentity()) {
      const ws = await registered(node, myWallets(orgs.map((o) => o.id)));
      for (const w of ws) for (const a of await node.patientDeals(w.key.address)) mine.set(a.deal, { a, k: w.key });
    }
    fill(tb, deals.map((d) => {
      const ds = d.datasets?.length ? d.datasets : datasets.filter((x) => x.org === d.org).map((x) => x.id);
      const from = d.datasets?.length ? ds.map((id) => datasets.find((x) => x.id === id)?.latest?.title ?? id).join(", ") : `any dataset at ${orgs.find((o) => o.id === d.org)?.name ?? d.org}`;
      const m = mine.get(d.id);
      const act0 = cell("", "");
      if (m?.a.status === "pending")
        act0.append(h("button", { type: "button", class: "secondary", "data-withdraw": String(d.id),
          onclick: () => act(node, m.k, "withdraw_acceptance", { deal: d.id }, `You withdrew from deal ${d.id}`) }, "Withdraw"));
      else if (haveIdentity() && m?.a.status !== "delivered") {
        const pickDs = h("select", { "aria-label": `your dataset for deal ${d.id}` }, ...ds.map((id) => h("option", { value: id }, datasets.find((x) => x.id === id)?.latest?.title ?? id)));
        act0.append(h("div", { class: "row" }, pickDs, h("button", { type: "button", "data-accept": String(d.id), onclick: () => {
          const k = walletForDataset(pickDs.value, datasets);
          if (!k) return say($("deals-msg"), "No wallet for that institution.", false);
          act(node, k, "accept_deal", { deal: d.id, dataset: pickDs.value }, `You accepted deal ${d.id}: your hospital will send your de-identified row to the buyer`);
        } }, "Accept")));
      }
      return [cell("deal", d.id), cell("for", purposeWords[d.purpose] ?? d.purpose), cell("fields", d.fields.join(", ")),
        cell("pays you", yourShare(d, ds, datasets)), cell("from", from), cell("my answer", m ? answerWords[m.a.status] ?? m.a.status : "not answered"), act0];
    }), 7, "No open deals.");
  } catch (e) {
    failRow(tb, 7, e);
  }
}
