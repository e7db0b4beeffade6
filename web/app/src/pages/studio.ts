// The researcher studio: the catalogue (schemas, policies, budgets), the
// study composer (checked against the schemas by the node before anything
// is signed, with the price shown), submission signed in this browser, and
// the list of my jobs. A job's page is ./job.ts.
import { x25519 } from "@noble/curves/ed25519.js";
import { APIError, eventAttr, Node, type AnalysisSpec, type DatasetBudget, type DatasetView, type Field, type Validation } from "../api";
import { send } from "../txflow";
import { signedIn } from "../session";
import { $, fill, failRow, h, say, td } from "../ui";
import { purposeWords } from "./patient";

const regressions = ["logistic_regression", "linear_regression"];
const numeric = new Set(["number", "integer", "year", "boolean"]);
const filterOps = ["=", "!=", "<", "<=", ">", ">=", "between", "in"];

let catalogue: DatasetView[] = [];
let analyses: AnalysisSpec[] = [];
let checked: { body: string; validation: Validation } | null = null;

const eps = (milli?: number) => (milli === undefined ? "" : `ε ${(milli / 1000).toFixed(milli % 1000 ? 2 : 0)}`);

function schemaTable(fields: Field[]) {
  return h("table", { class: "schema" },
    h("thead", {}, h("tr", {}, h("th", {}, "field"), h("th", {}, "type"), h("th", {}, "code"), h("th", {}, "unit"))),
    h("tbody", {}, ...fields.map((f) => h("tr", {}, h("td", { class: "mono" }, f.name), h("td", {}, f.type),
      h("td", {}, f.code ? `${f.system ?? ""} ${f.code}` : ""), h("td", {}, f.unit ?? "")))));
}

function datasetCard(d: DatasetView, b?: DatasetBudget) {
  const p = d.policy, v = d.latest;
  const terms: [string, string][] = p ? [
    ["purposes", p.purposes.map((x) => purposeWords[x] ?? x).join(", ")],
    ["analyses", (p.analyses.builtins ?? []).map((a) => a.replace(/_/g, " ")).join(", ") || "none built in"],
    ["minimum cohort", String(p.min_cohort)],
    ["price", `${p.price} tokens per job`],
    ["privacy per job", eps(p.epsilon_per_job_milli)],
    ["privacy budget left", b ? `${eps(b.remaining_milli)} of ${eps(b.total_milli)}` : "unknown"],
    ["consent", p.consent_model === "opt_in" ? "opt-in (only patients who allowed it)" : "opt-out (all but patients who refused)"],
    ["regression release", p.exact_regression ? "exact (output rules apply)" : "differentially private only"],
  ] : [["policy", "none: the dataset takes no jobs"]];
  return h("article", { class: "card", "data-dataset": d.id },
    h("h4", {}, v?.title ?? d.id, " ", h("small", { class: "mono" }, `${d.id} v${v?.version ?? "?"}`)),
    h("p", { class: "note" }, `${d.org} · ${v?.record_band ?? "?"} records (a band, never a count)`),
    h("dl", { class: "grid" }, ...terms.flatMap(([k, x]) => [h("dt", {}, k), h("dd", {}, x)])),
    h("details", {}, h("summary", {}, `schema (${v?.schema.length ?? 0} fields)`), schemaTable(v?.schema ?? [])));
}

async function loadCatalogue(node: Node) {
  const box = $("studio-catalogue");
  try {
    catalogue = await node.datasets();
    const budgets = await Promise.all(catalogue.map((d) => node.budget(d.id).catch(() => undefined)));
    box.replaceChildren(...catalogue.map((d, i) => datasetCard(d, budgets[i])));
    if (!catalogue.length) box.append(h("p", {}, "No dataset is published yet."));
  } catch (e) {
    box.replaceChildren(h("p", { class: "bad" }, `could not load the catalogue: ${(e as Error).message}`));
  }
}

const chosen = () => [...document.querySelectorAll<HTMLInputElement>('#c-datasets input[name="ds"]:checked')].map((i) => i.value);
const chosenViews = () => chosen().map((id) => catalogue.find((d) => d.id === id)!).filter(Boolean);

/** commonFields are the fields every chosen dataset has, with the same type. */
function commonFields(): Field[] {
  const views = chosenViews();
  if (!views.length) return [];
  const first = views[0].latest?.schema ?? [];
  return first.filter((f) => views.every((v) => v.latest?.schema.some((g) => g.name === f.name && g.type === f.type)));
}

const intersect = (lists: string[][]) => (lists.length ? lists.reduce((a, b) => a.filter((x) => b.includes(x))) : []);

function options(sel: HTMLSelectElement, values: [string, string][], keep = true) {
  const was = sel.value;
  sel.replaceChildren(...values.map(([v, label]) => h("option", { value: v }, label)));
  if (keep && values.some(([v]) => v === was)) sel.value = was;
}

/** refreshComposer rebuilds the choices that depend on the chosen datasets. */
function refreshComposer() {
  const views = chosenViews();
  const allowed = intersect(views.map((v) => v.policy?.analyses.builtins ?? []));
  options($("c-analysis") as HTMLSelectElement, analyses.filter((a) => !views.length || allowed.includes(a.name)).map((a) => [a.name, a.name.replace(/_/g, " ")]));
  const purposes = intersect(views.map((v) => v.policy?.purposes ?? []));
  options($("c-purpose") as HTMLSelectElement, (views.length ? purposes : Object.keys(purposeWords)).map((p) => [p, purposeWords[p] ?? p]));
  const fields = commonFields();
  options($("c-outcome") as HTMLSelectElement, fields.filter((f) => numeric.has(f.type)).map((f) => [f.name, `${f.name} (${f.type})`]));
  const outcome = ($("c-outcome") as HTMLSelectElement).value;
  const was = new Set([...document.querySelectorAll<HTMLInputElement>('#c-features input[name="feature"]:checked')].map((i) => i.value));
  const levelsWas = new Map([...document.querySelectorAll<HTMLInputElement>("#c-features input[data-levels]")].map((i) => [i.dataset.levels!, i.value]));
  $("c-features").replaceChildren(...fields.filter((f) => f.name !== outcome).map((f) => {
    const factor = !numeric.has(f.type);
    return h("div", { class: "feature" },
      h("label", { class: "check" }, h("input", { type: "checkbox", name: "feature", value: f.name, checked: was.has(f.name), onchange: writeParams }),
        ` ${f.name}`, h("small", { class: "note" }, ` ${f.type}${f.unit ? `, ${f.unit}` : ""}${factor ? " — categorical" : ""}`)),
      factor ? h("input", { "data-levels": f.name, "aria-label": `levels of ${f.name}, comma-separated, the first is the reference`,
        placeholder: "levels, comma-separated (first = reference)", value: levelsWas.get(f.name) ?? "", oninput: writeParams }) : null);
  }));
  for (const id of ["c-int-a", "c-int-b"]) options($(id) as HTMLSelectElement, fields.filter((f) => f.name !== outcome).map((f) => [f.name, f.name]));
  for (const sel of document.querySelectorAll<HTMLSelectElement>("#c-filters select.fcol")) options(sel, fields.map((f) => [f.name, f.name]));
  const spec = analyses.find((a) => a.name === ($("c-analysis") as HTMLSelectElement).value);
  $("c-analysis-doc").textContent = spec ? `${spec.summary} Parameters: ${spec.params.filter((p) => !p.path.includes(".") && !p.path.includes("[")).map((p) => `${p.path}${p.required ? "" : " (optional)"}`).join(", ")}.` : "";
  const reg = regressions.includes(($("c-analysis") as HTMLSelectElement).value);
  $("c-model").hidden = !reg;
  writeParams();
}

function interactions(): string[] {
  return [...document.querySelectorAll<HTMLElement>("#c-interactions [data-term]")].map((e) => e.dataset.term!);
}

function filters(): unknown[] {
  return [...document.querySelectorAll<HTMLElement>("#c-filters .filter")].map((row, i) => {
    const col = (row.querySelector("select.fcol") as HTMLSelectElement).value;
    const op = (row.querySelector("select.fop") as HTMLSelectElement).value;
    const raw = (row.querySelector("input") as HTMLInputElement).value.trim();
    const nums = raw.split(/[\s,]+/).filter(Boolean).map(Number);
    if (nums.some((n) => !Number.isFinite(n))) throw new Error(`filter ${i + 1}: "${raw}" is not a number or a list of numbers`);
    return op === "between" || op === "in" ? { column: col, op, values: nums } : { column: col, op, value: nums[0] ?? 0 };
  });
}

/** writeParams writes the form's model into the params box (which the
 * researcher may also edit by hand: the box is what is checked and signed). */
function writeParams() {
  const analysis = ($("c-analysis") as HTMLSelectElement).value;
  const box = $("c-params") as HTMLTextAreaElement;
  checked = null;
  ($("c-submit") as HTMLButtonElement).disabled = true;
  if (!regressions.includes(analysis)) {
    const ex = analyses.find((a) => a.name === analysis)?.examples[0]?.params ?? "{}";
    if (box.dataset.analysis !== analysis) box.value = JSON.stringify(JSON.parse(ex), null, 1);
    box.dataset.analysis = analysis;
    return;
  }
  box.dataset.analysis = analysis;
  const features: string[] = [];
  const factors: { column: string; levels: string[] }[] = [];
  for (const i of document.querySelectorAll<HTMLInputElement>('#c-features input[name="feature"]:checked')) {
    features.push(i.value);
    const lv = document.querySelector<HTMLInputElement>(`#c-features input[data-levels="${CSS.escape(i.value)}"]`);
    if (lv) factors.push({ column: i.value, levels: lv.value.split(",").map((s) => s.trim()).filter(Boolean) });
  }
  features.push(...interactions());
  const extra = ($("c-terms") as HTMLInputElement).value.split(/\s*;\s*|\s*,\s*(?![^()]*\))/).map((s) => s.trim()).filter(Boolean);
  features.push(...extra);
  const p: Record<string, unknown> = { outcome: ($("c-outcome") as HTMLSelectElement).value, features };
  if (factors.length) p.factors = factors;
  try {
    const f = filters();
    if (f.length) p.filter = f;
    box.value = JSON.stringify(p, null, 1);
  } catch (e) {
    say($("composer-msg"), (e as Error).message, false);
  }
}

function request() {
  const datasets = chosen();
  if (!datasets.length) throw new Error("datasets: choose at least one dataset");
  let params: unknown;
  const text = ($("c-params") as HTMLTextAreaElement).value;
  try {
    params = JSON.parse(text);
  } catch (e) {
    throw new Error(`params: not JSON: ${(e as Error).message}`);
  }
  return { datasets, analysis: ($("c-analysis") as HTMLSelectElement).value, params, purpose: ($("c-purpose") as HTMLSelectElement).value };
}

async function check(node: Node) {
  const msg = $("composer-msg"), out = $("composer-check");
  out.replaceChildren();
  checked = null;
  ($("c-submit") as HTMLButtonElement).disabled = true;
  try {
    const req = request();
    const v = await node.validate(req);
    checked = { body: JSON.stringify(req), validation: v };
    const spec = (v.study as any)?.spec;
    out.replaceChildren(h("dl", { class: "grid", id: "c-quote" },
      h("dt", {}, "checked against"), h("dd", {}, v.checked.map((c) => `${c.dataset} v${c.version}`).join(", ")),
      h("dt", {}, "price"), h("dd", { id: "c-price" }, `${v.price} tokens (escrowed at admission; refunded if the job fails)`),
      spec ? h("dt", {}, "pooled study") : null,
      spec ? h("dd", {}, `one ${spec.private ? "private " : ""}model fitted across ${req.datasets.length} sites by secure aggregation (${spec.columns} columns, ${spec.link} link)`) : null));
    ($("c-maxprice") as HTMLInputElement).value = String(v.price);
    ($("c-submit") as HTMLButtonElement).disabled = false;
    say(msg, `The study fits every dataset's schema. It costs ${v.price} tokens.`, true);
  } catch (e) {
    const err = e as APIError;
    say(msg, `Not valid: ${err.message}${err.param ? ` (at ${err.param}${err.column ? `, column ${err.column}` : ""})` : ""}`, false);
  }
}

async function submit(node: Node) {
  const msg = $("composer-msg");
  const k = signedIn();
  if (!k) return say(msg, "Sign in with your researcher key first.", false);
  try {
    const req = request();
    if (!checked || checked.body !== JSON.stringify(req)) throw new Error("the study changed since it was checked: check it again");
    const maxPrice = ($("c-maxprice") as HTMLInputElement).value.trim();
    if (!/^[0-9]+$/.test(maxPrice)) throw new Error("max_price: want a whole number of tokens");
    const epsText = ($("c-eps") as HTMLInputElement).value.trim();
    if (epsText && !/^[0-9]+$/.test(epsText)) throw new Error("epsilon_milli: want a whole number (1000 = ε 1)");
    const study = checked.validation.study ? { ...checked.validation.study } : undefined;
    const blocks = ($("c-iter-blocks") as HTMLInputElement).value.trim();
    if (study && blocks) study.iteration_blocks = Number(blocks);
    say(msg, "Signing in this browser and submitting…", true);
    const r = await send(node, k, "submit_job", {
      datasets: req.datasets, analysis: req.analysis, params: ($("c-params") as HTMLTextAreaElement).value, purpose: req.purpose,
      max_price: BigInt(maxPrice), result_key: x25519.getPublicKey(k.x25519), epsilon_milli: epsText ? BigInt(epsText) : undefined, study,
    }, false);
    const id = eventAttr(r.result, "submit_job", "job");
    say(msg, `Job ${id} admitted at height ${r.height}.`, true);
    loadMyJobs(node);
    if (id) location.hash = `#job/${id}`;
  } catch (e) {
    say(msg, `Not submitted: ${(e as Error).message}`, false);
  }
}

async function loadMyJobs(node: Node) {
  const tb = $("my-jobs");
  const k = signedIn();
  if (!k) return fill(tb, [], 6, "sign in to see your jobs");
  try {
    const jobs = (await node.jobs(k.address)).reverse();
    fill(tb, jobs.map((j) => [td(j.id), td(j.analysis.replace(/_/g, " ")), td(j.sites.map((s) => s.dataset).join(", ")),
      td(j.status, j.status === "completed" ? "ok" : j.status === "admitted" ? "" : "bad"), td(j.escrow),
      h("td", {}, h("a", { href: `#job/${j.id}`, "data-job": String(j.id) }, "open"))]), 6, "You have submitted no job yet.");
  } catch (e) {
    failRow(tb, 6, e);
  }
}

export async function renderStudio(node: Node) {
  const k = signedIn();
  $("studio-who").textContent = k ? `${k.name} — ${k.address}${k.dev ? " (DEV ONLY key)" : ""}` : "Sign in with a researcher's key to submit studies; the catalogue is public.";
  if (!analyses.length) analyses = await node.analyses().catch(() => []);
  await loadCatalogue(node);
  const box = $("c-datasets");
  const was = new Set(chosen());
  box.replaceChildren(...catalogue.filter((d) => d.policy).map((d) => h("label", { class: "check" },
    h("input", { type: "checkbox", name: "ds", value: d.id, checked: was.has(d.id), onchange: refreshComposer }),
    ` ${d.latest?.title ?? d.id} `, h("small", { class: "note" }, `${d.org}, ${d.policy!.price} tokens`))));
  refreshComposer();
  loadMyJobs(node);
}

export function wireStudio(node: Node) {
  for (const id of ["c-analysis", "c-outcome"]) $(id).addEventListener("change", refreshComposer);
  $("c-purpose").addEventListener("change", () => { checked = null; ($("c-submit") as HTMLButtonElement).disabled = true; });
  $("c-terms").addEventListener("input", writeParams);
  $("c-params").addEventListener("input", () => { checked = null; ($("c-submit") as HTMLButtonElement).disabled = true; });
  $("c-add-int").addEventListener("click", () => {
    const a = ($("c-int-a") as HTMLSelectElement).value, b = ($("c-int-b") as HTMLSelectElement).value;
    if (!a || !b || a === b) return say($("composer-msg"), "An interaction needs two different predictors.", false);
    const term = `${a}:${b}`;
    if (interactions().includes(term)) return;
    $("c-interactions").append(h("span", { class: "chip", "data-term": term }, term, " ",
      h("button", { type: "button", class: "secondary", "aria-label": `remove ${term}`, onclick: (e: Event) => { (e.target as HTMLElement).parentElement!.remove(); writeParams(); } }, "×")));
    writeParams();
  });
  $("c-add-filter").addEventListener("click", () => {
    const fields = commonFields();
    const row = h("div", { class: "filter row" },
      h("select", { class: "fcol", "aria-label": "filter column", onchange: writeParams }, ...fields.map((f) => h("option", { value: f.name }, f.name))),
      h("select", { class: "fop", "aria-label": "filter operator", onchange: writeParams }, ...filterOps.map((o) => h("option", { value: o }, o))),
      h("input", { "aria-label": "filter value (numbers; two for between)", placeholder: "value(s)", oninput: writeParams }),
      h("button", { type: "button", class: "secondary", "aria-label": "remove filter", onclick: (e: Event) => { (e.target as HTMLElement).parentElement!.remove(); writeParams(); } }, "×"));
    $("c-filters").append(row);
    writeParams();
  });
  $("c-check").addEventListener("click", () => check(node));
  $("composer").addEventListener("submit", (e) => {
    e.preventDefault();
    submit(node);
  });
}
