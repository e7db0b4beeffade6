// The patient portal: my consents, the uses of my data, rewards, my record
// and its shares, data deals — one page per topic (#patient/consents, …),
// in plain words, laid out for a phone too. Everything is signed in this
// browser with the patient's wallet keys (patientwallets.ts); the node sees
// only signed transactions and signed requests.
import { Node, type Consent, type DatasetView, type Org } from "../api";
import type { UnlockedKey } from "../keystore";
import { send } from "../txflow";
import { $, fill, failRow, h, say, short } from "../ui";
import { readSecretFile } from "../wallets";
import { catalogue, focusOrg, haveIdentity, myWallets, openSecret, registered, secretName, setFocus, walletAtOrg, walletForDataset } from "./patient-wallets";
import { renderUses, wireUses } from "./patient-uses";
import { renderRewards } from "./patient-rewards";
import { renderRecord, wireRecord } from "./patient-record";
import { renderDeals } from "./patient-deals";
import { cell, purposeWords } from "./patient";

const topics = ["consents", "uses", "rewards", "record", "deals"];
let lastTopic = "";

function scopeText(c: Consent, datasets: DatasetView[], orgs: Org[]) {
  if (c.scope.kind === "all") return "all your records, everywhere";
  if (c.scope.kind === "institution") return `everything at ${orgs.find((o) => o.id === c.scope.id)?.name ?? c.scope.id}`;
  const d = datasets.find((x) => x.id === c.scope.id);
  return d?.latest?.title ? `${d.latest.title} (${c.scope.id})` : `dataset ${c.scope.id}`;
}

function showWho(node: Node, orgs: Org[]) {
  const who = $("patient-who");
  const ws = myWallets(orgs.map((o) => o.id));
  if (!haveIdentity()) who.textContent = "Sign in first (Sign in tab), or open your patient secret below.";
  else if (secretName()) {
    // Every wallet's address is derived here, in the page; only the chosen
    // institution's wallet is named to the node or signs anything.
    const pick = h("select", { id: "patient-focus", "aria-label": "the institution you are looking at",
      onchange: () => { setFocus(pick.value); renderPatient(node, lastTopic); } },
      ...orgs.map((o) => h("option", { value: o.id }, o.name))) as HTMLSelectElement;
    pick.value = focusOrg() ?? "";
    who.replaceChildren(`Your secret "${secretName()}" is open. Your wallets: `,
      ...orgs.flatMap((o, i) => [i ? ", " : "", `${o.name} `, h("code", { "data-wallet": o.id }, short(walletAtOrg(o.id)!.address))]),
      h("br"), h("label", {}, "Looking at ", pick, " — one institution at a time, so this node never learns that your wallets belong together; to look at another institution privately, use its own node."));
  } else {
    const k = ws[0].key;
    who.replaceChildren(`Signed in as ${k.name} — one wallet for every institution `, h("code", {}, k.address), k.dev ? h("span", { class: "dev" }, " (DEV ONLY key)") : "");
  }
}

export async function renderPatient(node: Node, sub = "consents") {
  const topic = topics.includes(sub) ? sub : "consents";
  if (lastTopic && topic !== lastTopic) say($("patient-msg"), "", true); // a message belongs to the page it was said on
  lastTopic = topic;
  for (const t of topics) {
    $(`patient-${t}`).hidden = t !== topic;
    document.querySelector(`.subnav a[href="#patient/${t}"]`)?.setAttribute("aria-current", t === topic ? "page" : "false");
  }
  const { datasets, orgs } = await catalogue(node);
  if (secretName() && !orgs.some((o) => o.id === focusOrg())) {
    // First look: the institution this node keeps rewards for, if any.
    const served = await node.rewardOrgs().catch(() => [] as string[]);
    const first = orgs.find((o) => served.includes(o.id)) ?? orgs[0];
    if (first) setFocus(first.id);
  }
  showWho(node, orgs);
  if (topic === "consents") return renderConsents(node, datasets, orgs);
  if (topic === "uses") return renderUses(node, datasets, orgs);
  if (topic === "rewards") return renderRewards(node, orgs);
  if (topic === "record") return renderRecord(node, orgs);
  if (topic === "deals") return renderDeals(node, datasets, orgs);
}

async function renderConsents(node: Node, datasets: DatasetView[], orgs: Org[]) {
  const tb = $("my-consents");
  const sel = $("consent-dataset") as HTMLSelectElement;
  const keep = sel.value;
  sel.replaceChildren(...datasets.map((d) => h("option", { value: d.id }, `${d.latest?.title ?? d.id} — ${orgs.find((o) => o.id === d.org)?.name ?? d.org}`)));
  if (keep) sel.value = keep;
  ($("consent-org") as HTMLSelectElement).replaceChildren(...orgs.map((o) => h("option", { value: o.id }, o.name)));
  if (!haveIdentity()) return fill(tb, [], 6, "sign in to see your consents");
  try {
    const ws = await registered(node, myWallets(orgs.map((o) => o.id)));
    const lists = await Promise.all(ws.map((w) => node.consents(w.key.address, w.key.seed).then((cs) => cs.map((c) => ({ c, k: w.key })))));
    const rows = lists.flat().map(({ c, k }) => {
      const active = !c.revoked_height;
      const actions = cell("", "");
      if (active) {
        actions.append(h("button", { type: "button", class: "secondary", "data-revoke": String(c.seq), "data-wallet": k.address,
          "aria-label": `revoke consent ${c.seq}`, onclick: () => act(node, k, "revoke_consent", { seq: c.seq },
            (r) => `Consent ${c.seq} revoked at height ${r.height}: jobs admitted from now on will not use your records under it.`) }, "Revoke"));
        if (c.purposes.length > 1) actions.append(" ", narrowForm(node, k, c));
      }
      return [cell("#", c.seq), cell("covers", scopeText(c, datasets, orgs)), cell("decision", c.provision === "permit" ? "allowed" : "refused"),
        cell("for", c.purposes.map((p) => purposeWords[p] ?? p).join(", ")),
        cell("state", active ? `active since block ${c.created_height}` : `revoked at block ${c.revoked_height}`, active ? "ok" : "bad"), actions];
    });
    fill(tb, rows, 6, "You have given no consent yet.");
  } catch (e) {
    failRow(tb, 6, e);
  }
}

/** narrowForm keeps only some of a consent's purposes (narrow_consent:
 * the ledger refuses a narrowing that would widen it). */
function narrowForm(node: Node, k: UnlockedKey, c: Consent) {
  const boxes = c.purposes.map((p) => h("label", { class: "check" }, h("input", { type: "checkbox", value: p, checked: true }), ` ${purposeWords[p] ?? p}`));
  const form = h("form", { class: "row", "aria-label": `narrow consent ${c.seq}`, onsubmit: (e: Event) => {
    e.preventDefault();
    const purposes = boxes.map((b) => b.querySelector("input")!).filter((i) => i.checked).map((i) => i.value);
    if (!purposes.length) return say($("patient-msg"), "Keep at least one purpose, or revoke the consent.", false);
    act(node, k, "narrow_consent", { seq: c.seq, purposes }, (r) => `Consent ${c.seq} narrowed at height ${r.height}: now only for ${purposes.map((p) => purposeWords[p] ?? p).join(", ")}.`);
  } }, ...boxes, h("button", { class: "secondary" }, "Keep only these"));
  return h("details", {}, h("summary", {}, "Narrow"), form);
}

async function act(node: Node, k: UnlockedKey, type: string, msg: unknown, ok: (r: { height: number }) => string) {
  const out = $("patient-msg");
  try {
    say(out, "Signing and sending…", true);
    const r = await send(node, k, type, msg);
    say(out, ok(r), true);
    renderPatient(node, "consents");
  } catch (e) {
    say(out, `Not done: ${(e as Error).message}`, false);
  }
}

export function wirePatient(node: Node) {
  const box = $("consent-purposes");
  box.replaceChildren(...Object.entries(purposeWords).map(([p, w]) =>
    h("label", { class: "check" }, h("input", { type: "checkbox", name: "purpose", value: p, checked: p === "research" }), ` ${w}`)));
  const scope = $("consent-scope") as HTMLSelectElement;
  scope.addEventListener("change", () => {
    ($("consent-dataset").parentElement as HTMLElement).hidden = scope.value !== "dataset";
    ($("consent-org").parentElement as HTMLElement).hidden = scope.value !== "institution";
  });
  $("consent-form").addEventListener("submit", async (e) => {
    e.preventDefault();
    const msg = $("patient-msg");
    if (!haveIdentity()) return say(msg, "Sign in first.", false);
    const purposes = [...box.querySelectorAll<HTMLInputElement>("input:checked")].map((i) => i.value);
    if (!purposes.length) return say(msg, "Choose at least one purpose.", false);
    const provision = ($("consent-provision") as HTMLSelectElement).value;
    const { datasets } = await catalogue(node);
    let k: UnlockedKey | null;
    let id: string;
    if (scope.value === "institution") {
      id = ($("consent-org") as HTMLSelectElement).value;
      k = secretName() && id !== focusOrg() ? null : walletAtOrg(id);
    } else {
      id = ($("consent-dataset") as HTMLSelectElement).value;
      k = walletForDataset(id, datasets);
    }
    if (!k) return say(msg, "That is another institution's: choose it under \"Looking at\" first (the page signs for one institution at a time).", false);
    try {
      const r = await send(node, k, "give_consent", { scope: { kind: scope.value, id }, provision, purposes });
      say(msg, `Recorded at height ${r.height} (transaction ${r.hash.slice(0, 12)}…).`, true);
      renderPatient(node, "consents");
    } catch (err) {
      say(msg, `Not recorded: ${(err as Error).message}`, false);
    }
  });
  $("patient-secret-form").addEventListener("submit", async (e) => {
    e.preventDefault();
    const msg = $("patient-msg");
    try {
      say(msg, "Opening your secret (scrypt: a few seconds)…", true);
      const s = await readSecretFile(($("patient-secret-text") as HTMLTextAreaElement).value, ($("patient-secret-pass") as HTMLInputElement).value);
      openSecret(s.name, s.secret);
      $("whoami").textContent = `${s.name} (patient secret)`;
      ($("patient-secret-text") as HTMLTextAreaElement).value = "";
      ($("patient-secret-pass") as HTMLInputElement).value = "";
      ($("patient-secret-box") as HTMLDetailsElement).open = false;
      say(msg, `Your secret "${s.name}" is open: this page acts with your wallet at each institution.`, true);
      renderPatient(node, location.hash.split("/")[1]);
    } catch (err) {
      say(msg, (err as Error).message, false);
    }
  });
  wireUses(node);
  wireRecord(node);
  // The portal is loaded on first use: until its forms have their handlers
  // the page is inert, so nothing is submitted the browser's own way.
  $("patient").removeAttribute("inert");
}
