// Models page (#models, #models/ID): the models committed on the ledger
// (packages zk and zkmodel: a model owner commits to a linear model without
// publishing its weights), their recorded predictions, and a prediction
// asked for and checked from the page.
//
// What runs where: the model's commitment is proven here, down to the
// validators' signatures (../stateproof.ts, ../lightclient.ts); the proof
// file's chain, model, commitment, request and inputs are compared here
// with what was asked; the zero-knowledge proof itself is verified by the
// node (api.ts routes.verifyPrediction, ledger.VerifyPrediction — zk.Verify is
// not ported to the browser), and the page says so next to the verdict.
// Proving needs the model's secret opening, which stays with its owner
// (medchain model prove): the page writes the request for the owner.
import { Node, type Model, type VerifyRequest } from "../api";
import { fromBase64 } from "../canonical";
import { pinnedAnchor } from "../lightclient";
import { proveModelCommitment } from "../stateproof";
import { $, fill, h, say, short, td } from "../ui";

let current: Model | undefined;
let asked: { request: string; x: number[] } | undefined;

/** quantise is zk.QuantizeInputs: round(x·2^scale), halves away from zero (Go's math.Round). */
export const quantise = (v: number, scale: number) => Math.sign(v) * Math.round(Math.abs(v) * 2 ** scale);

/** bucketRange says a bucket's score interval (scores are at 2^(2·scale)). */
function bucketRange(m: Model, i: number): string {
  const lo = i > 0 ? String(m.bucket_edges[i - 1]) : "−∞", hi = i < m.bucket_edges.length ? String(m.bucket_edges[i]) : "+∞";
  return `[${lo}, ${hi})`;
}

/** freshRequest makes a request id (ledger.ValidRequestID's alphabet) the
 * proof must be bound to, so an old proof cannot answer this request. */
function freshRequest(): string {
  const b = crypto.getRandomValues(new Uint8Array(8));
  return "web-" + Array.from(b, (x) => x.toString(16).padStart(2, "0")).join("");
}

export async function renderModels(node: Node, id?: string) {
  const list = $("model-list");
  try {
    const models = await node.models();
    fill(list, models.map((m) => [
      h("td", {}, h("a", { href: `#models/${encodeURIComponent(m.id)}` }, m.id)), td(m.description ?? ""), h("td", { class: "mono" }, short(m.owner)), td(m.org ?? ""),
      td(m.features.map((f) => f.name).join(", ")), td(m.bucket_labels.join(" | ")), m.job !== undefined ? h("td", {}, h("a", { href: `#job/${m.job}` }, `job ${m.job}`)) : td(""),
      td(m.registered_height), td(m.predictions),
    ]), 9, "no model is committed yet (medchain model commit)");
  } catch (e) {
    fill(list, [[h("td", { colspan: "9", class: "bad" }, (e as Error).message)]], 9);
  }
  $("model-detail").hidden = !id;
  if (id) await showModel(node, decodeURIComponent(id));
}

async function showModel(node: Node, id: string) {
  const m = await node.model(id);
  const changed = current?.id !== m.id;
  if (changed) {
    asked = undefined;
    $("predict-command").textContent = "";
    ($("proof-text") as HTMLTextAreaElement).value = "";
    $("proof-checks").replaceChildren();
    $("proof-msg").textContent = "";
  }
  current = m;
  $("model-title").textContent = `Model ${m.id}${m.description ? `: ${m.description}` : ""}`;
  fill($("model-features"), m.features.map((f, i) => [td(i), h("td", { class: "mono" }, f.name), td(f.system && f.code ? `${f.system}:${f.code}` : ""), td(f.unit ?? "")]), 4);
  fill($("model-buckets"), m.bucket_labels.map((l, i) => [td(i), td(l), h("td", { class: "mono" }, bucketRange(m, i))]), 3);
  $("model-scale").textContent = `Inputs are quantised at 2^${m.scale} (round(x·2^${m.scale})); scores are at 2^${2 * m.scale}.`;
  // The inputs asked for: one number per feature, in the model's units
  // (kept as typed when the same model is shown again).
  if (changed) $("predict-inputs").replaceChildren(...m.features.map((f, i) => h("label", {}, `${f.name}${f.unit ? ` (${f.unit})` : ""} `,
    h("input", { id: `predict-x-${i}`, inputmode: "decimal", required: true, size: "8", "data-feature": f.name }))));
  const proven = $("model-proven");
  // Shown again, the model keeps its last verdict until the new proof is in.
  if (changed) {
    proven.textContent = "Proving the model's commitment against the ledger…";
    proven.className = "";
    delete proven.dataset.commitment;
  }
  try {
    const p = await proveModelCommitment(node, m.id);
    const same = p.commitment === m.commitment;
    say(proven, same ? `Commitment ${m.commitment} proven on chain at height ${p.height} (header ${p.header.height} signed by ${p.header.signers}/${p.header.validators} trusted validators, checked here).`
      : `The API's commitment ${m.commitment} is not the one proven on chain (${p.commitment}).`, same);
    proven.dataset.commitment = p.commitment;
  } catch (e) {
    say(proven, `The model's commitment could not be proven: ${(e as Error).message}`, false);
    delete proven.dataset.commitment;
  }
  try {
    const preds = await node.predictions(m.id);
    fill($("model-predictions"), preds.map((p) => [td(p.seq), td(p.mode), td(`${p.bucket}: ${p.label}`), h("td", { class: "mono" }, short(p.x_hash)),
      h("td", { class: "mono" }, short(p.proof_hash)), td(p.request ?? ""), td(p.height)]), 7, "no prediction recorded");
  } catch (e) {
    fill($("model-predictions"), [[h("td", { colspan: "7", class: "bad" }, (e as Error).message)]], 7);
  }
}

/** ask writes the prediction request for the model's owner: the inputs and
 * a fresh request id, as the `medchain model prove` command that answers it.
 * Nothing is sent to the node. */
function ask() {
  const m = current;
  if (!m) return;
  const x: number[] = [];
  for (let i = 0; i < m.features.length; i++) {
    const raw = ($(`predict-x-${i}`) as HTMLInputElement).value.trim();
    const v = Number(raw);
    if (raw === "" || !Number.isFinite(v)) {
      say($("proof-msg"), `${m.features[i].name}: "${raw}" is not a number`, false);
      return;
    }
    x.push(v);
  }
  asked = { request: freshRequest(), x };
  $("predict-command").textContent = `medchain model prove --id ${m.id} --x ${x.join(",")} --request ${asked.request} --out proof.json`;
  say($("proof-msg"), `Request ${asked.request} written: the model's owner runs the command (it needs the model's secret opening) and sends you proof.json.`, true);
}

/** PredictionFile is client.PredictionFile (medchain model prove --out). */
interface PredictionFile { chain_id: string; model: string; commitment: string; request: string; x: number[]; bucket: number; label: string; proof: string }

async function checkProof(node: Node) {
  const m = current, msg = $("proof-msg"), out = $("proof-checks");
  if (!m) return;
  const checks: { what: string; ok: boolean; detail: string }[] = [];
  const add = (what: string, ok: boolean, detail: string) => checks.push({ what, ok, detail });
  msg.textContent = "Checking…";
  msg.className = "";
  try {
    let pf: PredictionFile;
    try {
      pf = JSON.parse(($("proof-text") as HTMLTextAreaElement).value);
    } catch (e) {
      throw new Error(`the proof file is not JSON: ${(e as Error).message}`);
    }
    if (!Array.isArray(pf.x) || typeof pf.bucket !== "number" || typeof pf.proof !== "string" || typeof pf.request !== "string") throw new Error("the proof file lacks x, bucket, request or proof");
    fromBase64(pf.proof);
    const anchor = await pinnedAnchor(node);
    add("the proof is for this chain (the pinned trust anchor's)", pf.chain_id === anchor.chain_id, pf.chain_id);
    add("the proof is for this model", pf.model === m.id, pf.model);
    const proven = $("model-proven").dataset.commitment;
    add("it was made against the commitment proven on chain (checked here)", !!proven && pf.commitment === proven, pf.commitment);
    if (asked) {
      add("it answers the request asked from this page", pf.request === asked.request, pf.request);
      const want = asked.x.map((v) => quantise(v, m.scale));
      add("its inputs are the ones asked, quantised", JSON.stringify(pf.x) === JSON.stringify(want), `${pf.x.join(",")} (asked ${want.join(",")})`);
    }
    const req: VerifyRequest = { x: pf.x, bucket: pf.bucket, request: pf.request, proof: pf.proof };
    const v = await node.verifyPrediction(m.id, req);
    add("the zero-knowledge proof verifies against the ledger's commitment (verified BY THE NODE: ledger.VerifyPrediction; not re-checked in this browser)",
      v.valid && v.commitment === proven, v.valid ? `bucket ${v.bucket}: ${v.label ?? ""}, at height ${v.height}` : v.reason ?? "not valid");
    const ok = checks.every((c) => c.ok);
    say(msg, ok ? `Proof verified: model ${m.id} puts these inputs in bucket ${v.bucket} (${v.label ?? pf.label}).` : "The proof does NOT verify.", ok);
    msg.dataset.result = ok ? "valid" : "invalid";
  } catch (e) {
    say(msg, (e as Error).message, false);
    msg.dataset.result = "error";
  }
  out.replaceChildren(...checks.map((c) => h("li", { class: c.ok ? "ok" : "bad" }, `${c.ok ? "✓" : "✗"} ${c.what}: `, h("code", {}, c.detail))));
}

export function wireModels(node: Node) {
  $("predict-form").addEventListener("submit", (e) => {
    e.preventDefault();
    ask();
  });
  $("proof-form").addEventListener("submit", (e) => {
    e.preventDefault();
    checkProof(node);
  });
  $("proof-file").addEventListener("change", async (e) => {
    const f = (e.target as HTMLInputElement).files?.[0];
    if (f) ($("proof-text") as HTMLTextAreaElement).value = await f.text();
  });
}
