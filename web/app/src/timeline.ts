// A job's timeline: what the ledger records of it, ordered by height —
// admission, a pooled study's rounds and summed iterations, dropped and
// flagged sites, refusals (their code, parameter and column: all the ledger
// carries), posted results, and settlement or failure. Pure: the job page
// draws it, tests read it.
import type { Job, StudyView } from "./api";
import { short } from "./ui";

export type Step = { height: number; order: number; text: string; cls?: string };

const bps = (price: number, b: number) => Math.floor((price * b) / 10000);

/** timeline orders what the ledger records of a job. */
export function timeline(j: Job, sv?: StudyView): Step[] {
  const s: Step[] = [];
  const add = (height: number | undefined, text: string, cls?: string) => height !== undefined && s.push({ height, order: s.length, text, cls });
  add(j.admitted_height, `admitted: ${j.sites.reduce((n, x) => n + x.price, 0)} tokens escrowed; ${j.sites.map((x) => `${x.dataset} v${x.version} (ε ${x.epsilon_milli / 1000})`).join(", ")}; deadline height ${j.deadline_height}`);
  const st = j.study ?? sv?.study;
  for (const r of st?.rounds ?? []) {
    add(r.started_height, `study round ${r.round} started with ${r.participants.join(", ")}`);
    if (r.ended_height) add(r.ended_height, `study round ${r.round} ended: ${r.end_reason ?? ""}`, "bad");
  }
  for (const sum of sv?.sums ?? []) add(sum.height, `${sum.phase === "final" ? "final sum" : `iteration ${sum.iteration + 1}`} summed on the ledger (round ${sum.round}, ${sum.participants.length} sites; only the sum is stored)`);
  for (const x of st?.excluded ?? []) add(x.height, `${x.dataset} ${x.kind} in round ${x.round}, iteration ${x.iteration}: ${x.reason}`, "bad");
  for (const site of j.sites) {
    if (site.result) add(site.result.posted_height, `${site.dataset}: result posted by worker ${short(site.result.worker)} (hash ${site.result.result_hash.slice(0, 12)}…)`, "ok");
    if (site.refusal) add(j.closed_height ?? j.admitted_height, `${site.dataset} refused the job: ${site.refusal.code}${site.refusal.param ? ` at ${site.refusal.param}` : ""}${site.refusal.column ? ` (column ${site.refusal.column})` : ""}`, "bad");
  }
  if (j.status === "completed") {
    const paid = j.sites.filter((x) => !x.excluded).map((x) => `${x.org} ${bps(x.price, x.reward_split.institution_bps)}, its patients' pool ${bps(x.price, x.reward_split.patient_pool_bps)}, its worker ${x.price - bps(x.price, x.reward_split.institution_bps) - bps(x.price, x.reward_split.patient_pool_bps)}`);
    add(j.closed_height, `completed and settled: ${paid.join("; ")} tokens`, "ok");
  } else if (j.status !== "admitted") {
    add(j.closed_height, `${j.status}: ${j.reason ?? ""} — the escrow of every site that released nothing is refunded`, "bad");
  }
  return s.sort((a, b) => a.height - b.height || a.order - b.order);
}

