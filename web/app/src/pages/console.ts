// The institution console: my organisation's datasets and the policy
// editor. Each field says what it means; the ledger checks the policy
// (ledger.ValidatePolicy) and its refusal is shown as it comes.
import { Node, type DatasetView } from "../api";
import { send } from "../txflow";
import { signedIn } from "../session";
import { $, fill, failRow, h, say, td } from "../ui";
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

export async function renderConsole(node: Node) {
  const k = signedIn();
  const tb = $("my-datasets");
  const msg = $("console-msg");
  $("console-policy").hidden = true;
  if (!k) {
    $("console-who").textContent = "Sign in with an institution admin's key first.";
    fill(tb, [], 5, "sign in to see your datasets");
    return;
  }
  try {
    const acct = await node.account(k.address);
    if (!acct || acct.kind !== "institution" || !acct.org) {
      $("console-who").textContent = `${k.name} is not an institution account here.`;
      fill(tb, [], 5, "no datasets");
      return;
    }
    $("console-who").textContent = `${k.name} — ${acct.org}`;
    const mine = (await node.datasets()).filter((d: DatasetView) => d.org === acct.org);
    fill(tb, mine.map((d) => {
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
      return [td(d.id, "mono"), td(d.latest?.title), td(d.latest?.record_band), td(d.policy ? `${d.policy.price} tokens, min cohort ${d.policy.min_cohort}` : "no policy"), cell];
    }), 5, "Your organisation has no dataset yet.");
  } catch (e) {
    failRow(tb, 5, e);
  }
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
