// The institution console: what a hospital's data manager, signed in with
// an institution admin's key, needs of his organisation — datasets and their
// versions (record bands, schemas), each version's ingest report and
// quarantine (from the institution's own node, on a request signed here;
// counts, rules, fields, row positions and reasons, never values), the
// policy editor (each field explained; the ledger checks the policy,
// ledger.ValidatePolicy, and its refusal is shown as it comes), privacy
// budget use, jobs on its data with their outcomes and its worker's
// refusals (their safe reasons: code, parameter, column), worker health,
// earnings, patient links (a band) and devices. Everything else is public
// ledger metadata.
import { APIError, Node, type DatasetBudget, type DatasetView, type InstitutionVault, type Job, type JobSite, type VersionVault } from "../api";
import { send } from "../txflow";
import { signedIn } from "../session";
import { $, fill, failRow, h, say, short, td } from "../ui";
import { purposeWords } from "./patient";

const analyses = ["cohort_count", "crosstab", "descriptive", "logistic_regression", "linear_regression", "survival"];

type NumField = { key: string; label: string; help: string; path?: string };
const numbers: NumField[] = [
  { key: "min_cohort", label: "Minimum cohort", help: "No result is released about fewer records than this (11 at least)." },
  { key: "price", label: "Price per job (tokens)", help: "What a researcher pays for one job on this dataset." },
  { key: "epsilon_per_job_milli", label: "Privacy budget per job (ε × 1000)", help: "Differential-privacy ε a job spends, in thousandths (1000 = ε 1)." },
  { key: "epsilon_total_milli", label: "Total privacy budget (ε × 1000)", help: "When spent, no further job is admitted on this dataset." },
  { key: "min_epsilon_per_job_milli", label: "Least ε a job may ask for (× 1000)", help: "0 = the per-job budget; stops floods of nearly free queries." },
  { key: "min_study_sites", label: "Fewest sites in a pooled study", help: "A multi-site study finishing with fewer sites is refused (0 = 2)." },
];
const splits: NumField[] = [
  { key: "institution_bps", label: "Institution share (‱)", help: "Basis points of the price paid to the institution." },
  { key: "patient_pool_bps", label: "Patients' pool share (‱)", help: "Basis points paid into the dataset's patient pool." },
  { key: "worker_bps", label: "Worker share (‱)", help: "Basis points paid to the worker that computed. The three sum to 10000." },
];

let current: { id: string; policy: Record<string, any> } | null = null;

function field(f: NumField, value: unknown) {
  return h("label", {}, h("span", {}, f.label), h("input", { type: "number", min: "0", step: "1", name: f.key, value: String(value ?? 0), "aria-describedby": `help-${f.key}` }),
    h("small", { id: `help-${f.key}`, class: "note" }, f.help));
}

function renderEditor(id: string, p: Record<string, any>) {
  current = { id, policy: p };
  const form = $("policy-form");
  const checks = (name: string, options: [string, string][], on: string[]) =>
    h("div", {}, ...options.map(([v, w]) => h("label", { class: "check" }, h("input", { type: "checkbox", name, value: v, checked: on.includes(v) }), ` ${w}`)));
  form.replaceChildren(
    h("h3", {}, `Policy of ${id}`),
    h("fieldset", {}, h("legend", {}, "Purposes of use allowed"), checks("purpose", Object.entries(purposeWords), p.purposes ?? [])),
    h("fieldset", {}, h("legend", {}, "Analyses allowed"), checks("analysis", analyses.map((a) => [a, a.replace(/_/g, " ")]), p.analyses?.builtins ?? [])),
    h("label", { class: "check" }, h("input", { type: "checkbox", name: "anyone", checked: !!p.requesters?.anyone }), " Any registered researcher may run jobs"),
    ...numbers.map((f) => field(f, p[f.key])),
    ...splits.map((f) => field(f, p.reward_split?.[f.key])),
    h("label", {}, h("span", {}, "Consent model"), h("select", { name: "consent_model" },
      h("option", { value: "opt_in", selected: p.consent_model === "opt_in" }, "opt-in: only patients who allowed it"),
      h("option", { value: "opt_out", selected: p.consent_model === "opt_out" }, "opt-out: everyone but patients who refused"))),
    h("label", { class: "check" }, h("input", { type: "checkbox", name: "exact_regression", checked: !!p.exact_regression }),
      " Release regression results exactly (without noise), under the regression output rules"),
    h("button", {}, "Sign and publish the policy"),
  );
}

function readForm(): Record<string, any> {
  const form = $("policy-form") as HTMLFormElement;
  const p = structuredClone(current!.policy);
  const checked = (name: string) => [...form.querySelectorAll<HTMLInputElement>(`input[name="${name}"]:checked`)].map((i) => i.value);
  const num = (name: string) => {
    const v = (form.querySelector(`input[name="${name}"]`) as HTMLInputElement).value.trim();
    if (!/^[0-9]+$/.test(v)) throw new Error(`${name}: want a whole number ≥ 0, got "${v}"`);
    return Number(v);
  };
  p.purposes = checked("purpose");
  p.analyses = { ...(p.analyses ?? {}), builtins: checked("analysis") };
  p.requesters = { ...(p.requesters ?? {}), anyone: (form.querySelector('input[name="anyone"]') as HTMLInputElement).checked };
  for (const f of numbers) p[f.key] = num(f.key);
  p.reward_split = Object.fromEntries(splits.map((f) => [f.key, num(f.key)]));
  p.consent_model = (form.querySelector('select[name="consent_model"]') as HTMLSelectElement).value;
  p.exact_regression = (form.querySelector('input[name="exact_regression"]') as HTMLInputElement).checked;
  delete p.set_height; // the ledger sets it
  return p;
}

/** The institution's fee for one site of a settled job (the ledger's split). */
export const institutionFee = (x: JobSite) => Math.floor((x.price * x.reward_split.institution_bps) / 10000);

const eps = (milli: number) => (milli / 1000).toLocaleString("en", { maximumFractionDigits: 3 });

function budgetCell(b?: DatasetBudget) {
  if (!b || !b.total_milli) return td("no budget set");
  const cell = td("");
  cell.append(
    h("meter", { min: "0", max: String(b.total_milli), value: String(b.spent_milli), "aria-label": `privacy budget of ${b.dataset} spent` }),
    ` ε ${eps(b.spent_milli)} spent of ${eps(b.total_milli)}; ${eps(b.remaining_milli)} left (ε ${eps(b.per_job_milli)} a job)`,
  );
  return cell;
}

/** siteOutcome says, in words, what became of one site of a job: all the ledger carries. */
export function siteOutcome(j: Job, x: JobSite): { text: string; cls: string } {
  if (x.refusal) {
    const r = x.refusal;
    return { text: `refused by your worker: ${r.code}${r.param ? ` at ${r.param}` : ""}${r.column ? ` (column ${r.column})` : ""}`, cls: "bad" };
  }
  if (x.excluded) return { text: `excluded: ${x.excluded}`, cls: "bad" };
  if (x.result) return { text: `result posted at height ${x.result.posted_height} by worker ${short(x.result.worker)}`, cls: "ok" };
  if (j.status === "admitted") return { text: "waiting for your worker", cls: "" };
  return { text: `no result${j.reason ? `: ${j.reason}` : ""}`, cls: "bad" };
}

function schemaText(v: { schema: { name: string; type: string; system?: string; code?: string; unit?: string }[] }) {
  return v.schema.map((f) => `${f.name} (${f.type}${f.code ? `, ${f.system} ${f.code}` : ""}${f.unit ? `, ${f.unit}` : ""})`).join("; ");
}

function reportBlock(vv?: VersionVault) {
  if (!vv) return h("p", { class: "note" }, "No ingest report: this node does not hold your institution's vault key (your own node shows it).");
  if (!vv.held) return h("p", { class: "note" }, "Not in this node's vault (ingested elsewhere).");
  if (vv.problem) return h("p", { class: "bad" }, `Could not read: ${vv.problem}`);
  const out = h("div", { class: "ingest-report" });
  const r = vv.report;
  if (r) {
    out.append(h("p", {}, `Ingest report: ${r.rows_read} rows read from ${r.files} ${r.format} file(s), ${r.rows_kept} kept, ${r.rows_quarantined} quarantined; reference date ${r.ref_date}; de-identification profile ${r.deid_profile}; ${r.originals_kept} originals kept for their patients; data key wrapped to ${r.workers.registered ? "the registered workers" : `${r.workers.keys} named worker key(s)`}.`));
    if (r.rules.length) {
      out.append(h("details", {}, h("summary", {}, `De-identification rules applied (${r.rules.length})`), h("div", { class: "scroll" }, h("table", { class: "rules" },
        h("caption", { class: "note" }, "Rows each rule was applied to"),
        h("thead", {}, h("tr", {}, h("th", { scope: "col" }, "field"), h("th", { scope: "col" }, "rule"), h("th", { scope: "col" }, "rows"))),
        h("tbody", {}, ...r.rules.map((x) => h("tr", {}, td(x.field, "mono"), td(x.method), td(x.n))))))));
    }
  } else {
    out.append(h("p", { class: "note" }, `${vv.rows ?? 0} rows kept (no ingest report was kept with this version).`));
  }
  const q = vv.quarantine;
  if (q && q.rows > 0) {
    out.append(h("div", { class: "scroll" }, h("table", { class: "quarantine" },
      h("caption", {}, `Quarantine: ${q.rows} row(s) set aside — where, which field and why (never the value)`),
      h("thead", {}, h("tr", {}, h("th", { scope: "col" }, "file"), h("th", { scope: "col" }, "where"), h("th", { scope: "col" }, "field"), h("th", { scope: "col" }, "reason"))),
      h("tbody", {}, ...q.problems.map((p) => h("tr", {}, td(p.file), td(p.where, "mono"), td(p.field, "mono"), td(p.reason)))))));
    if (q.more) out.append(h("p", { class: "note" }, `… and ${q.more} more problems.`));
  } else {
    out.append(h("p", { class: "note" }, "Quarantine: no rows were set aside."));
  }
  return out;
}

async function renderVersions(node: Node, mine: DatasetView[], vault?: InstitutionVault) {
  const box = $("console-versions");
  const parts: HTMLElement[] = [];
  for (const d of mine) {
    const n = d.latest?.version ?? 0;
    for (let v = n; v >= 1; v--) {
      const dv = v === n && d.latest ? d.latest : await node.datasetVersion(d.id, v);
      const vv = vault?.versions.find((x) => x.dataset === d.id && x.version === v);
      parts.push(h("article", { class: "card", "data-version": `${d.id}/${v}` },
        h("h4", {}, `${d.id} version ${v}: ${dv.title}`),
        h("p", {}, `Records: ${dv.record_band} (a band, as the ledger shows it)${vv?.rows ? `; exactly ${vv.rows} rows in your vault` : ""}.`),
        h("p", { class: "note" }, `Schema: ${schemaText(dv)}`),
        reportBlock(vault ? vv : undefined)));
    }
  }
  box.replaceChildren(...(parts.length ? parts : [h("p", {}, "Your organisation has no dataset yet.")]));
}

function renderJobs(org: string, jobs: Job[]) {
  const mine = (j: Job) => j.sites.filter((x) => x.org === org);
  fill($("console-jobs"), jobs.map((j) => {
    const link = td("");
    link.append(h("a", { href: `#job/${j.id}` }, `job ${j.id}`));
    const outcomes = td("");
    for (const x of mine(j)) {
      const o = siteOutcome(j, x);
      outcomes.append(h("div", o.cls ? { class: o.cls } : {}, `${x.dataset}: ${o.text}`));
    }
    const fee = j.status === "completed" ? mine(j).filter((x) => !x.excluded).reduce((n, x) => n + institutionFee(x), 0) : 0;
    return [link, td(j.analysis.replace(/_/g, " ")), td(purposeWords[j.purpose] ?? j.purpose), td(j.status + (j.reason ? `: ${j.reason}` : ""), j.status === "completed" ? "ok" : j.status === "admitted" ? "" : "bad"),
      outcomes, td(j.status === "completed" ? `${fee} tokens` : j.status === "admitted" ? "escrowed" : "refunded")];
  }), 6, "No job has run on your data yet.");
  const earned = jobs.filter((j) => j.status === "completed").flatMap(mine).filter((x) => !x.excluded).reduce((n, x) => n + institutionFee(x), 0);
  const escrowed = jobs.filter((j) => j.status === "admitted").flatMap(mine).reduce((n, x) => n + institutionFee(x), 0);
  return { earned, escrowed, refusals: jobs.flatMap(mine).filter((x) => x.refusal).length };
}

export async function renderConsole(node: Node) {
  const k = signedIn();
  const tb = $("my-datasets");
  const msg = $("console-msg");
  $("console-policy").hidden = true;
  $("console-more").hidden = true;
  if (!k) {
    $("console-who").textContent = "Sign in with an institution admin's key first.";
    fill(tb, [], 6, "sign in to see your datasets");
    return;
  }
  try {
    const acct = await node.account(k.address);
    if (!acct || acct.kind !== "institution" || !acct.org) {
      $("console-who").textContent = `${k.name} is not an institution account here.`;
      fill(tb, [], 6, "no datasets");
      return;
    }
    const org = acct.org;
    $("console-who").textContent = `${k.name} — ${org}`;
    const mine = (await node.datasets()).filter((d: DatasetView) => d.org === org);
    const budgets = await Promise.all(mine.map((d) => node.budget(d.id).catch(() => undefined)));
    fill(tb, mine.map((d, i) => {
      const cell = td("");
      cell.append(h("button", { type: "button", class: "secondary", "data-edit": d.id, onclick: async () => {
        try {
          const p = await node.policy(d.id);
          renderEditor(d.id, p as unknown as Record<string, any>);
          $("console-policy").hidden = false;
        } catch (e) {
          say(msg, (e as Error).message, false);
        }
      } }, "Edit policy"));
      return [td(d.id, "mono"), td(d.latest?.title), td(d.latest?.record_band), td(d.policy ? `${d.policy.price} tokens, min cohort ${d.policy.min_cohort}` : "no policy"), budgetCell(budgets[i]), cell];
    }), 6, "Your organisation has no dataset yet.");
    $("console-more").hidden = false;
    await renderMore(node, k.seed, org, acct.balance, mine);
  } catch (e) {
    failRow(tb, 6, e);
  }
}

/** renderMore fills the console's other sections; each fails on its own. */
async function renderMore(node: Node, seed: Uint8Array, org: string, balance: bigint, mine: DatasetView[]) {
  let vault: InstitutionVault | undefined;
  let vaultNote = "";
  try {
    vault = await node.orgVault(org, seed);
  } catch (e) {
    vaultNote = e instanceof APIError && e.status === 404 ? "not held by this node" : `could not load: ${(e as Error).message}`;
  }
  const versions = renderVersions(node, mine, vault).catch((e) => $("console-versions").replaceChildren(h("p", { class: "bad" }, `could not load: ${(e as Error).message}`)));
  const jobsDone = (async () => {
    try {
      const byId = new Map<number, Job>();
      for (const d of mine) for (const j of await node.jobsOn(d.id)) byId.set(j.id, j);
      const jobs = [...byId.values()].sort((a, b) => b.id - a.id);
      const t = renderJobs(org, jobs);
      $("console-earnings").replaceChildren(...[
        ["fees received", `${t.earned} tokens (the institution's share of settled jobs)`],
        ["held in escrow", `${t.escrowed} tokens (jobs still running)`],
        ["account balance", `${balance} tokens`],
        ["refusals by your worker", String(t.refusals)],
        ["patients linked", vault ? `${vault.patient_links} (a band)` : vaultNote],
      ].flatMap(([a, b]) => [h("dt", {}, a), h("dd", {}, b)]));
      return jobs;
    } catch (e) {
      failRow($("console-jobs"), 6, e);
      return [] as Job[];
    }
  })();
  const workers = (async () => {
    try {
      const [ws, jobs] = await Promise.all([node.workers(org), jobsDone]);
      fill($("console-workers"), ws.map((w) => {
        const posted = jobs.flatMap((j) => j.sites).filter((x) => x.result?.worker === w.address).map((x) => x.result!.posted_height);
        const last = posted.length ? Math.max(...posted) : undefined;
        return [td(short(w.address), "mono"), td(w.attestation), td(short(w.measurement), "mono"), td(w.registered_height),
          td(w.attested_height ? `height ${w.attested_height}` : "software attestation (no hardware evidence)"),
          td(last ? `result at height ${last}` : "no result posted yet")];
      }), 6, "No compute worker is registered for your organisation.");
    } catch (e) {
      failRow($("console-workers"), 6, e);
    }
  })();
  const devices = (async () => {
    try {
      const ds = await node.devices(org);
      fill($("console-devices"), ds.map((d) => [td(d.id, "mono"), td(d.kind.replace(/_/g, " ")),
        td(d.measurements.map((m) => `${m.system} ${m.code} (${m.unit})`).join(", ")), td(d.status, d.status === "active" ? "ok" : "bad"), td(d.changed || d.registered)]), 5, "No device is registered for your organisation.");
    } catch (e) {
      failRow($("console-devices"), 5, e);
    }
  })();
  await Promise.all([versions, jobsDone, workers, devices]);
}

export function wireConsole(node: Node) {
  $("policy-form").addEventListener("submit", async (e) => {
    e.preventDefault();
    const msg = $("console-msg");
    const k = signedIn();
    if (!k || !current) return;
    try {
      const policy = readForm();
      const r = await send(node, k, "set_policy", { dataset: current.id, policy }, false);
      say(msg, `Policy of ${current.id} published at height ${r.height}.`, true);
      renderConsole(node);
    } catch (err) {
      say(msg, `Not published: ${(err as Error).message}`, false);
    }
  });
}
