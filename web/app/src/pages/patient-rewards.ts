// Rewards: kept thin over the API on purpose. The institution's node keeps
// the patient's tally privately and answers a request the patient signs
// here (the rewards route, patientreq.ts); each voucher it returns is
// redeemed with a claim_reward transaction signed here by the recipient.
// The page shows what the node and the ledger answer — balance,
// denominations, vouchers — and decides nothing about amounts itself.
import { APIError, Node, type Org, type RewardAnswer, type Voucher } from "../api";
import type { UnlockedKey } from "../keystore";
import { signRewardRequest } from "../patientreq";
import { send } from "../txflow";
import { $, h, say } from "../ui";
import { haveIdentity, myWallets } from "./patient-wallets";

async function ask(node: Node, k: UnlockedKey, org: string, action: "balance" | "vouchers", notes = 0): Promise<RewardAnswer | null> {
  const chain = (await node.status()).chain_id;
  try {
    return await node.post<RewardAnswer>("rewards", signRewardRequest(k.seed, chain, org, action, action === "vouchers" ? { recipient: k.address, notes } : {}));
  } catch (e) {
    if (e instanceof APIError && e.status === 404) return null; // this node keeps no tally for org
    throw e;
  }
}

function orgPanel(node: Node, org: Org, k: UnlockedKey) {
  const out = h("p", { class: "note" }, "");
  // Rewards are paid in notes of powers of two, each claimed on its own:
  // all at once to one wallet adds up to the exact balance on the ledger;
  // one note at a time, at different times, says only "at least this".
  const notes = h("select", { "aria-label": `how to collect at ${org.name}` },
    ...[["1", "one note at a time (harder to add up)"], ["0", "everything, to the last token"]].map(([v, t]) => h("option", { value: v }, t)));
  const msg = $("rewards-msg");
  const check = async () => {
    try {
      const a = await ask(node, k, org.id, "balance");
      if (!a) return void (out.textContent = "This node does not keep this institution's reward tally.");
      const uses = a.uses?.length ?? 0;
      out.textContent = `You can collect ${a.balance ?? 0} token${a.balance === 1 ? "" : "s"} here (from ${uses} use${uses === 1 ? "" : "s"} of your records).`;
      out.dataset.balance = String(a.balance ?? 0);
    } catch (e) {
      out.textContent = `Could not ask: ${(e as Error).message}`;
    }
  };
  const collect = async () => {
    try {
      say(msg, `Asking ${org.name} for vouchers…`, true);
      const a = await ask(node, k, org.id, "vouchers", Number(notes.value));
      if (!a) return say(msg, "This node does not keep this institution's reward tally.", false);
      // Notes issued earlier and not yet claimed (an answer lost on the way)
      // come back as outstanding; those paying this wallet are claimed too.
      const vs: Voucher[] = [...(a.vouchers ?? []), ...(a.outstanding ?? []).filter((v) => v.recipient === k.address)];
      if (!vs.length) return say(msg, `Nothing to collect at ${org.name} yet.`, true);
      let got = 0;
      for (const v of vs) {
        await send(node, k, "claim_reward", { voucher: v });
        got += v.amount ?? 0;
      }
      say(msg, `Collected ${got} token${got === 1 ? "" : "s"} from ${org.name} in ${vs.length} voucher${vs.length === 1 ? "" : "s"}, paid to your wallet ${k.address.slice(0, 8)}….`, true);
      check();
    } catch (e) {
      say(msg, `Not collected: ${(e as Error).message}`, false);
    }
  };
  check();
  return h("article", { class: "card", "data-org": org.id }, h("h3", {}, org.name), out,
    h("div", { class: "row" }, h("button", { type: "button", class: "secondary", onclick: check }, "Check again"),
      h("label", {}, "Collect ", notes), h("button", { type: "button", onclick: collect }, "Collect")));
}

export async function renderRewards(node: Node, orgs: Org[]) {
  const box = $("my-rewards");
  if (!haveIdentity()) return box.replaceChildren(h("p", {}, "Sign in to see your rewards."));
  const ws = myWallets(orgs.map((o) => o.id));
  const panels = orgs.map((o) => orgPanel(node, o, (ws.find((w) => w.org === o.id) ?? ws[0]).key));
  const acct = await Promise.all(ws.map((w) => node.account(w.key.address).catch(() => null)));
  const total = acct.reduce((n, a) => n + (a?.balance ?? 0n), 0n);
  box.replaceChildren(h("p", {}, `Tokens in your wallet${ws.length > 1 ? "s" : ""}: `, h("strong", { id: "wallet-balance" }, total.toString())),
    h("div", { class: "cards" }, ...panels));
}
