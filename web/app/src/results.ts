// A job's results, opened in this browser: each site's ciphertext is
// checked against the result hash the ledger holds, decrypted here with the
// requester's X25519 key (age, as compute.EncryptResult wrote it), and the
// decrypted result must name what the ledger binds (job, dataset, content
// root, worker, measurement). Nothing decrypted is sent anywhere.
import { sha256 } from "@noble/hashes/sha2.js";
import { bech32 } from "@scure/base";
import { Decrypter } from "age-encryption";
import type { Job, JobSite, Node } from "./api";
import { fromBase64, hex } from "./canonical";
import { describeHeader } from "./lightclient";
import type { ProvenJob } from "./stateproof";

/** Result is compute.Result, the plaintext of a site's result. */
export interface Result {
  format: string; job: number; dataset: string; version: number; content_root: string; analysis: string;
  purpose: string; consent_model: string; worker: string; measurement: string; min_cohort: number;
  epsilon_milli: number; release: any; release_kind: string;
}

export interface Coefficient {
  name: string; estimate: number; se: number; stat: number; p: number; lower: number; upper: number;
  ratio?: { estimate: number; lower: number; upper: number };
}

/** Regression is analysis.Regression as released. */
export interface Regression {
  link: string; outcome: string; stat_name: string; ratio_name?: string; n: number; events?: number;
  coefficients: Coefficient[]; auc?: number; roc?: { fpr: number; tpr: number }[];
  calibration?: { intercept: number; slope: number };
}

/** CalibrationBin is a row of a pooled study's calibration table. */
export interface CalibrationBin { risk_from: number; risk_to: number; n: number; observed: number; expected: number }

export type Check = { what: string; ok: boolean; detail: string };

export interface SiteResult { site: JobSite; result?: Result; checks: Check[] }

/** ageIdentity writes a raw X25519 key as age writes it (AGE-SECRET-KEY-1…). */
export function ageIdentity(x25519: Uint8Array): string {
  return bech32.encode("age-secret-key-", bech32.toWords(x25519), false).toUpperCase();
}

/** decryptResult opens an age ciphertext encrypted to x25519's public key. */
export async function decryptResult(ciphertext: Uint8Array, x25519: Uint8Array): Promise<Result> {
  const d = new Decrypter();
  d.addIdentity(ageIdentity(x25519));
  const r = JSON.parse(await d.decrypt(ciphertext, "text")) as Result;
  if (r.format !== "medchain/result/v1") throw new Error(`result format ${JSON.stringify(r.format)}, want medchain/result/v1`);
  return r;
}

/** openSite downloads, checks and decrypts one site's result. proven is
 * what the browser proved of the job's record on chain (./stateproof.ts),
 * or why it could not. */
export async function openSite(node: Node, job: Job, site: JobSite, x25519: Uint8Array, proven: ProvenJob | Error): Promise<SiteResult> {
  const checks: Check[] = [];
  const out: SiteResult = { site, checks };
  if (!site.result) return out;
  const posted = site.result;
  if (proven instanceof Error) {
    checks.push({ what: "the result hash is in the job record on chain", ok: false, detail: proven.message });
  } else {
    const onChain = proven.results.get(site.dataset);
    checks.push({ what: "the result hash is in the job record on chain (state proof → state root → app hash → header, checked here)",
      ok: onChain === posted.result_hash, detail: onChain === posted.result_hash ? `as of height ${proven.height}` : `the proven record holds ${onChain ?? "no result"}` });
    checks.push({ what: `header ${proven.header.height} (which carries that state) is signed by the trusted validators`, ok: true, detail: describeHeader(proven.header) });
  }
  const blob = await node.result(job.id, site.dataset);
  const ct = fromBase64(blob.ciphertext);
  const got = hex(sha256(ct));
  checks.push({ what: "the ciphertext's SHA-256 is the result hash on the ledger", ok: got === posted.result_hash,
    detail: `${got}${got === posted.result_hash ? "" : ` ≠ ${posted.result_hash}`} (posted at height ${posted.posted_height})` });
  if (got !== posted.result_hash) return out; // never decrypt what the ledger does not vouch for
  try {
    const r = await decryptResult(ct, x25519);
    out.result = r;
    checks.push({ what: "decrypted in this browser with your key", ok: true, detail: `${r.release_kind}, ${ct.length} bytes` });
    const bound = r.job === job.id && r.dataset === site.dataset && r.content_root === site.content_root &&
      r.worker === posted.worker && r.measurement === posted.measurement;
    checks.push({ what: "the result names the job, dataset root, worker and code the ledger binds", ok: bound,
      detail: bound ? `job ${r.job}, ${r.dataset} v${r.version}, worker ${r.worker.slice(0, 10)}…` : "it names something else: do not trust it" });
  } catch (e) {
    checks.push({ what: "decrypted in this browser with your key", ok: false, detail: (e as Error).message });
    return out;
  }
  try {
    const w = await node.worker(posted.worker);
    const ok = w.org === site.org && w.measurement === posted.measurement;
    checks.push({ what: `the worker is a registered worker of ${site.org} running the posted code`, ok,
      detail: ok ? `measurement ${posted.measurement.slice(0, 16)}…` : `worker of ${w.org}, measurement ${w.measurement.slice(0, 16)}…` });
  } catch (e) {
    checks.push({ what: "the worker is registered", ok: false, detail: (e as Error).message });
  }
  return out;
}

/** regressionOf reads the regression of a regression release, if any. */
export function regressionOf(r: Result): Regression | undefined {
  return r.release?.regression;
}

/** diagnosticsOf reads a pooled study's released discrimination and calibration. */
export function diagnosticsOf(r: Result): { auc: number; calibration?: { intercept: number; slope: number }; bins: CalibrationBin[] } | undefined {
  return r.release?.diagnostics ?? undefined;
}

const csvCell = (v: unknown) => {
  const s = v === undefined || v === null ? "" : String(v);
  return /[",\n]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
};

/** coefficientsCSV is the coefficient table as CSV. */
export function coefficientsCSV(reg: Regression): string {
  const head = ["term", "estimate", "se", reg.stat_name || "stat", "p", "lower", "upper"];
  const ratio = reg.ratio_name ?? "";
  if (ratio) head.push(ratio, `${ratio}_lower`, `${ratio}_upper`);
  const rows = reg.coefficients.map((c) => {
    const row: unknown[] = [c.name, c.estimate, c.se, c.stat, c.p, c.lower, c.upper];
    if (ratio) row.push(c.ratio?.estimate, c.ratio?.lower, c.ratio?.upper);
    return row.map(csvCell).join(",");
  });
  return [head.join(","), ...rows].join("\n") + "\n";
}

/** download hands bytes to the browser's save dialog (a blob: URL: nothing is uploaded). */
export function download(name: string, type: string, text: string) {
  const url = URL.createObjectURL(new Blob([text], { type }));
  const a = document.createElement("a");
  a.href = url;
  a.download = name;
  a.click();
  setTimeout(() => URL.revokeObjectURL(url), 1000);
}
