// The patient portal: my consents — listed, given, revoked — signed in
// this browser with my key. The node sees only signed transactions and a
// signed listing request (it lists consents to nobody else).
import { Node, type Consent, type DatasetView } from "../api";
import { send } from "../txflow";
import { signedIn } from "../session";
import { $, fill, failRow, h, say, td } from "../ui";

// The purposes of use a consent can name (vocab.Purposes), in plain words.
export const purposeWords: Record<string, string> = {
  research: "medical research",
  public_health: "public health",
  clinical_trial: "clinical trials",
  commercial_research: "commercial research",
  model_training: "training prediction models",
  quality_improvement: "improving care quality",
  education: "education",
  clinical: "direct care (your clinicians following your readings)",
};

function scopeText(c: Consent, datasets: DatasetView[]) {
  if (c.scope.kind === "all") return "all datasets";
  if (c.scope.kind === "institution") return `everything at ${c.scope.id}`;
  const d = datasets.find((x) => x.id === c.scope.id);
  return d?.latest?.title ? `${d.latest.title} (${c.scope.id})` : `dataset ${c.scope.id}`;
}

export async function renderPatient(node: Node) {
  const k = signedIn();
  const tb = $("my-consents");
  const msg = $("patient-msg");
  $("patient-who").textContent = k ? `${k.name} — ${k.address}${k.dev ? " (DEV ONLY key)" : ""}` : "Sign in first (Sign in tab).";
  const datasets = await node.datasets().catch(() => [] as DatasetView[]);
  const sel = $("consent-dataset") as HTMLSelectElement;
  sel.replaceChildren(...datasets.map((d) => h("option", { value: d.id }, `${d.latest?.title ?? d.id} — ${d.org}`)));
  if (!k) {
    fill(tb, [], 6, "sign in to see your consents");
    return;
  }
  try {
    const list = await node.consents(k.address, k.seed);
    fill(tb, list.map((c) => {
      const active = !c.revoked_height;
      const cell = td("");
      if (active)
        cell.append(h("button", { type: "button", class: "secondary", "data-revoke": String(c.seq), onclick: async () => {
          try {
            const r = await send(node, k, "revoke_consent", { seq: c.seq });
            say(msg, `Consent ${c.seq} revoked at height ${r.height}: jobs admitted from now on will not use your records under it.`, true);
            renderPatient(node);
          } catch (e) {
            say(msg, `Could not revoke: ${(e as Error).message}`, false);
          }
        } }, "Revoke"));
      return [td(c.seq), td(scopeText(c, datasets)), td(c.provision === "permit" ? "allowed" : "refused"),
        td(c.purposes.map((p) => purposeWords[p] ?? p).join(", ")),
        td(active ? `active since block ${c.created_height}` : `revoked at block ${c.revoked_height}`, active ? "ok" : "bad"), cell];
    }), 6, "You have given no consent yet.");
  } catch (e) {
    failRow(tb, 6, e);
  }
}

export function wirePatient(node: Node) {
  const box = $("consent-purposes");
  box.replaceChildren(...Object.entries(purposeWords).map(([p, w]) =>
    h("label", { class: "check" }, h("input", { type: "checkbox", name: "purpose", value: p, checked: p === "research" }), ` ${w}`)));
  $("consent-form").addEventListener("submit", async (e) => {
    e.preventDefault();
    const msg = $("patient-msg");
    const k = signedIn();
    if (!k) return say(msg, "Sign in first.", false);
    const purposes = [...box.querySelectorAll<HTMLInputElement>("input:checked")].map((i) => i.value);
    if (!purposes.length) return say(msg, "Choose at least one purpose.", false);
    const provision = ($("consent-provision") as HTMLSelectElement).value;
    const dataset = ($("consent-dataset") as HTMLSelectElement).value;
    try {
      const r = await send(node, k, "give_consent", { scope: { kind: "dataset", id: dataset }, provision, purposes });
      say(msg, `Recorded at height ${r.height} (transaction ${r.hash.slice(0, 12)}…).`, true);
      renderPatient(node);
    } catch (err) {
      say(msg, `Not recorded: ${(err as Error).message}`, false);
    }
  });
}
