// A job's page (#job/ID): its timeline from the ledger (admission, the
// pooled study's rounds and summed iterations, dropped and flagged sites,
// refusals with their safe reasons, each site's result, settlement), kept
// live by the node's pushed events until the job closes; then its results, downloaded,
// checked against the ledger and decrypted in this browser, as tables and
// plots, downloadable as CSV and JSON.
import type uPlot from "uplot";
import { Node, type Job, type StudyView } from "../api";
import { calibrationPlot, forestPlot, forestRows, kmPlot, rocPlot, type KMCurve } from "../plots";
import { coefficientsCSV, diagnosticsOf, download, openSite, regressionOf, type Regression, type SiteResult } from "../results";
import { signedIn } from "../session";
import { proveJobResults } from "../stateproof";
import { timeline } from "../timeline";
import { live } from "../live";
import { $, h } from "../ui";


let timer: ReturnType<typeof setTimeout> | undefined;
let following: (() => void) | undefined; // stops the job's live updates
let shownJob = 0;
let openedFor = "";
let plots: uPlot[] = [];

// Plots follow the page's width (a phone turned, a window resized).
const plotWidth = () => Math.min(760, Math.max(280, $("result-body").clientWidth || 300));
window.addEventListener("resize", () => {
  for (const p of plots) {
    const id = p.root.parentElement?.id;
    const w = id === "forest" || id === "km" ? plotWidth() : Math.min(plotWidth(), 420);
    const height = id === "forest" ? p.height : id === "km" ? Math.min(Math.max(220, w * 0.6), 340) : Math.min(w, 320);
    if (Math.abs(p.width - w) > 4) p.setSize({ width: w, height });
  }
});

function progress(j: Job, sv?: StudyView): string {
  if (j.status !== "admitted") return `Job ${j.id} ${j.status}${j.reason ? `: ${j.reason}` : ""}.`;
  const st = sv?.study;
  if (st) return `Job ${j.id} running: round ${st.round}, iteration ${st.iteration + 1}${st.done ? " (final sum in; sites posting results)" : ""}; ${sv!.posted.length} of ${st.participants.length} sites have posted to it.`;
  return `Job ${j.id} running: ${j.sites.filter((x) => x.result).length} of ${j.sites.length} sites have posted results.`;
}

async function poll(node: Node, id: number) {
  if (shownJob !== id) return;
  try {
    const j = await node.job(id);
    const sv = j.study ? await node.study(id).catch(() => undefined) : undefined;
    const height = j.status === "admitted" ? (await node.status()).height : 0;
    if (shownJob !== id) return;
    $("job-title").textContent = `Job ${j.id}: ${j.analysis.replace(/_/g, " ")} for ${j.purpose.replace(/_/g, " ")}`;
    const status = $("job-status");
    status.textContent = progress(j, sv) + (height > j.deadline_height ? ` Its deadline (height ${j.deadline_height}) has passed: anyone may expire it, which refunds you.` : "");
    status.dataset.status = j.status;
    $("job-params").textContent = JSON.stringify(j.params);
    $("job-timeline").replaceChildren(...timeline(j, sv).map((x) => h("li", x.cls ? { class: x.cls } : {}, h("span", { class: "mono" }, `#${x.height} `), x.text)));
    if (j.status === "admitted") {
      // The node pushes the job's changes (live.ts); each one re-reads it.
      // A block past the deadline re-reads it once, to say anyone may now expire it.
      const deadline = j.deadline_height;
      let past = false;
      const onBlock = (b: { height: number }) => {
        if (!past && b.height > deadline) {
          past = true;
          poll(node, id);
        }
      };
      if (!following) following = live(node, { job: id, onJob: () => poll(node, id), onBlock });
      return;
    }
    unfollow();
    if (j.status === "completed" && openedFor !== `${id}`) await showResults(node, j);
  } catch (e) {
    $("job-status").textContent = `could not load job ${id}: ${(e as Error).message}`;
    timer = setTimeout(() => poll(node, id), 3000);
  }
}

function unfollow() {
  following?.();
  following = undefined;
}

export function renderJob(node: Node, id: number) {
  if (timer) clearTimeout(timer);
  unfollow();
  if (shownJob !== id) {
    for (const p of plots) p.destroy();
    plots = [];
    openedFor = "";
    $("job-results").hidden = true;
    $("job-timeline").replaceChildren();
  }
  shownJob = id;
  poll(node, id);
}

export function leaveJob() {
  shownJob = 0;
  if (timer) clearTimeout(timer);
  unfollow();
}

function coefficientTable(reg: Regression) {
  const ratio = reg.ratio_name?.replace(/_/g, " ");
  const f = (v?: number, d = 4) => (v === undefined ? "" : Math.abs(v) < 1e-3 && v !== 0 ? v.toExponential(2) : v.toFixed(d));
  return h("table", { id: "coefficients" },
    h("thead", {}, h("tr", {}, ...["term", "estimate", "SE", reg.stat_name || "stat", "p", "95% CI", ...(ratio ? [ratio, `${ratio} 95% CI`] : [])].map((x) => h("th", {}, x)))),
    h("tbody", {}, ...reg.coefficients.map((c) => h("tr", {}, h("td", { class: "mono" }, c.name), h("td", {}, f(c.estimate)), h("td", {}, f(c.se)), h("td", {}, f(c.stat, 2)),
      h("td", {}, f(c.p, 3)), h("td", {}, `${f(c.lower)} – ${f(c.upper)}`),
      ...(ratio ? [h("td", {}, f(c.ratio?.estimate, 3)), h("td", {}, c.ratio ? `${f(c.ratio.lower, 3)} – ${f(c.ratio.upper, 3)}` : "")] : [])))));
}

/** showResults opens every site's result here and draws the first release. */
async function showResults(node: Node, j: Job) {
  const sec = $("job-results");
  const k = signedIn();
  sec.hidden = false;
  const checksBox = $("result-checks"), body = $("result-body");
  if (!k) {
    checksBox.replaceChildren(h("p", {}, "Sign in with the key the job's results were encrypted to, to open them here."));
    return;
  }
  openedFor = `${j.id}`;
  checksBox.replaceChildren(h("p", {}, "Downloading and decrypting in this browser…"));
  const opened: SiteResult[] = [];
  const proven = await proveJobResults(node, j.id).catch((e) => e as Error);
  for (const site of j.sites.filter((x) => x.result)) opened.push(await openSite(node, j, site, k.x25519, proven));
  checksBox.replaceChildren(...opened.map((o) => h("div", {}, h("h4", {}, o.site.dataset),
    h("ul", { class: "checks" }, ...o.checks.map((c) => h("li", { class: c.ok ? "ok" : "bad" }, `${c.ok ? "✓" : "✗"} ${c.what}: `, h("code", {}, c.detail)))))));
  const good = opened.filter((o) => o.result && o.checks.every((c) => c.ok));
  const verified = $("result-verified");
  verified.textContent = good.length === opened.length && good.length > 0
    ? `Verified against the ledger: ${good.length} of ${opened.length} results.` : `NOT verified: ${opened.length - good.length} of ${opened.length} results failed a check.`;
  verified.className = good.length === opened.length && good.length > 0 ? "ok" : "bad";
  verified.dataset.result = good.length === opened.length && good.length > 0 ? "verified" : "failed";
  body.replaceChildren();
  for (const p of plots) p.destroy();
  plots = [];
  if (!good.length) return;
  const first = good[0].result!;
  const pooled = first.release_kind.startsWith("pooled");
  const width = plotWidth();
  const results = good.map((o) => o.result);
  const dl = h("p", { class: "row" },
    h("button", { type: "button", class: "secondary", id: "download-json", onclick: () => download(`job-${j.id}-results.json`, "application/json", JSON.stringify(results, null, 2)) }, "Download JSON"));
  body.append(h("p", { class: "note" }, pooled ? `One model pooled across ${good.length} sites (every site released the same fit).` : `${good.length} site result(s); the first is drawn.`), dl);
  if (first.release_kind === "survival" || first.release_kind === "pooled_survival") {
    showSurvival(body, j, first.release, width);
    return;
  }
  const reg = regressionOf(first);
  if (!reg) {
    body.append(h("pre", { class: "mono" }, JSON.stringify(first.release, null, 1)));
    return;
  }
  dl.append(h("button", { type: "button", class: "secondary", id: "download-csv", onclick: () => download(`job-${j.id}-coefficients.csv`, "text/csv", coefficientsCSV(reg)) }, "Download CSV"));
  body.append(h("p", {}, `${reg.outcome}: ${reg.link} model on about ${reg.n} patients${reg.events ? ` (about ${reg.events} events)` : ""}${first.release?.noisy ? ", with differential-privacy noise" : ", exact"}.`));
  const { rows, log, label } = forestRows(reg);
  // The plot is a canvas: its figures are also said in words, for screen readers.
  const forest = h("figure", { id: "forest", role: "img", "aria-label": `forest plot, ${label}: ` +
    rows.map((r) => `${r.name} ${r.est.toFixed(3)} (${r.lo.toFixed(3)} to ${r.hi.toFixed(3)})`).join("; ") });
  body.append(h("h3", {}, "Forest plot"), forest);
  const t0 = performance.now();
  plots.push(forestPlot(forest, rows, log, label, width));
  forest.dataset.terms = String(rows.length);
  // uPlot draws in a microtask: the time is taken once it has.
  setTimeout(() => (forest.dataset.ms = (performance.now() - t0).toFixed(1)), 0);
  body.append(h("h3", {}, "Coefficients"), h("div", { class: "scroll" }, coefficientTable(reg)));
  const diag = diagnosticsOf(first);
  const roc = reg.roc;
  if (roc?.length) {
    const el = h("figure", { id: "roc" });
    body.append(h("h3", {}, "Discrimination"), el);
    plots.push(rocPlot(el, roc, reg.auc, Math.min(width, 420)));
  } else if (diag) {
    body.append(h("h3", {}, "Discrimination"), h("p", {}, `AUC ${diag.auc.toFixed(3)} (from the pooled, noisy risk histogram; no curve is released)`));
  } else if (first.release?.roc_suppressed) {
    body.append(h("p", { class: "note" }, "The ROC curve was withheld: events or non-events were fewer than the minimum cohort."));
  }
  const cal = diag?.calibration ?? reg.calibration;
  if (cal) body.append(h("p", {}, `Calibration: intercept ${cal.intercept.toFixed(3)}, slope ${cal.slope.toFixed(3)} (1 is perfect).`));
  if (diag?.bins?.length) {
    const el = h("figure", { id: "calibration" });
    body.append(h("h3", {}, "Calibration"), el);
    plots.push(calibrationPlot(el, diag.bins, Math.min(width, 420)));
  }
}

/** SurvivalRelease is outputctl.SurvivalRelease as the page reads it. */
interface SurvivalRelease {
  grid: number[]; curves: KMCurve[]; noisy: boolean; log_rank_withheld?: boolean;
  log_rank?: { groups: string[]; n: number[]; observed: number[]; expected: number[]; chisq: number; df: number; p: number };
  cox?: { ties: string; n: number; events: number; coefficients: Regression["coefficients"]; concordance?: number };
}

/** showSurvival draws a survival release: the Kaplan–Meier curves as
 * released (steps at the released points only, with their intervals), the
 * risk table under them, the log-rank test, and a Cox model's hazard ratios
 * as a forest plot and table. */
function showSurvival(body: HTMLElement, j: Job, rel: SurvivalRelease, width: number) {
  const params = (j.params ?? {}) as { time?: string; event?: string };
  const timeLabel = params.time ? `time (${params.time})` : "time";
  const curves = rel.curves ?? [];
  const drawn = curves.filter((c) => !c.withheld && c.points?.length);
  body.append(h("p", {}, `Survival of ${params.event ?? "the event"} over ${params.time ?? "follow-up"}${rel.noisy ? ", counts with differential-privacy noise" : ", exact"}.`));
  for (const c of curves) {
    const name = c.group || "all";
    if (c.withheld || !c.points?.length) body.append(h("p", { class: "note" }, `${name}: withheld (fewer rows than the minimum cohort).`));
    else if (c.truncated) body.append(h("p", { class: "note" }, `${name}: stops at ${c.points[c.points.length - 1].time} (the risk set fell below the minimum cohort).`));
    if (c.merged?.length) body.append(h("p", { class: "note" }, `${name}: grid times ${c.merged.join(", ")} were folded into the next point (too few events to release them apart).`));
  }
  if (drawn.length) {
    const words = drawn.map((c) => `${c.group || "all"}: ` + c.points.map((p) => `${p.time} → ${p.surv.toFixed(3)}`).join(", ")).join("; ");
    const el = h("figure", { id: "km", role: "img", "aria-label": `Kaplan–Meier curves, survival at each released time: ${words}` });
    body.append(h("h3", {}, "Kaplan–Meier curves"), el);
    plots.push(kmPlot(el, curves, timeLabel, width));
    el.dataset.curves = String(drawn.length);
    const num = (v: number | null) => (v === null ? "—" : String(v));
    body.append(h("h3", {}, "Risk table"), h("div", { class: "scroll" }, h("table", { id: "risk-table" },
      h("thead", {}, h("tr", {}, ...["group", "time", "at risk", "events", "censored", "survival (95% CI)"].map((x) => h("th", {}, x)))),
      h("tbody", {}, ...drawn.flatMap((c) => c.points.map((p) => h("tr", {}, h("td", {}, c.group || "all"), h("td", {}, p.time), h("td", {}, p.n_risk), h("td", {}, p.n_event),
        h("td", {}, num(p.n_censor)), h("td", {}, `${p.surv.toFixed(3)} (${p.lower.toFixed(3)} – ${p.upper.toFixed(3)})`))))))));
  }
  const lr = rel.log_rank;
  if (lr) body.append(h("p", { id: "log-rank" }, `Log-rank test: χ² ${lr.chisq.toFixed(2)} on ${lr.df} df, p ${lr.p < 1e-4 ? lr.p.toExponential(2) : lr.p.toFixed(4)} (` +
    lr.groups.map((g, i) => `${g}: ${lr.observed[i]} observed, ${lr.expected[i].toFixed(1)} expected`).join("; ") + ")."));
  else if (rel.log_rank_withheld) body.append(h("p", { class: "note" }, "The log-rank test was withheld: the policy releases only noisy counts, or a group was below the minimum cohort."));
  if (rel.cox?.coefficients?.length) {
    const reg: Regression = { link: "cox", outcome: params.event ?? "event", stat_name: "z", ratio_name: "hazard_ratio", n: rel.cox.n, events: rel.cox.events, coefficients: rel.cox.coefficients };
    const { rows, log, label } = forestRows(reg);
    const forest = h("figure", { id: "forest", role: "img", "aria-label": `forest plot, ${label}: ` + rows.map((r) => `${r.name} ${r.est.toFixed(3)} (${r.lo.toFixed(3)} to ${r.hi.toFixed(3)})`).join("; ") });
    body.append(h("h3", {}, `Cox model (${rel.cox.ties} ties, about ${rel.cox.n} patients, ${rel.cox.events} events)`), forest);
    plots.push(forestPlot(forest, rows, log, label, width));
    body.append(h("div", { class: "scroll" }, coefficientTable(reg)));
  }
}
