// Result plots, drawn with uPlot (scales, ticks, axes and grid are its;
// the whiskers of a forest plot are drawn in its draw hook): a forest plot
// of a regression's ratios (log scale) or estimates, the ROC curve, and
// calibration (observed against expected risk).
import uPlot from "uplot";
import type { CalibrationBin, Coefficient, Regression } from "./results";

const ink = "#1d3557", accent = "#c1121f", faint = "#8d99ae";

/** ForestRow is one term of a forest plot: a point and its interval. */
export interface ForestRow { name: string; est: number; lo: number; hi: number }

/** forestRows takes a regression's terms (not the intercept): ratios when
 * the model has them (odds or hazard ratios, drawn on a log scale), else
 * the estimates. */
export function forestRows(reg: Regression): { rows: ForestRow[]; log: boolean; label: string } {
  const terms = reg.coefficients.filter((c: Coefficient) => c.name !== "(Intercept)" && c.name !== "intercept");
  const log = !!reg.ratio_name && terms.every((c) => c.ratio);
  const rows = terms.map((c) => (log ? { name: c.name, est: c.ratio!.estimate, lo: c.ratio!.lower, hi: c.ratio!.upper } : { name: c.name, est: c.estimate, lo: c.lower, hi: c.upper }));
  return { rows, log, label: log ? (reg.ratio_name === "hazard_ratio" ? "hazard ratio (95% CI, log scale)" : "odds ratio (95% CI, log scale)") : "estimate (95% CI)" };
}

/** logTicks picks readable ratio ticks (1-2-5, finer for a narrow range). */
export function logTicks(min: number, max: number): number[] {
  const coarse = [0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1, 2, 5, 10, 20, 50, 100];
  const fine = [0.1, 0.2, 0.3, 0.5, 0.7, 0.8, 0.9, 1, 1.25, 1.5, 2, 2.5, 3, 4, 5, 7, 10];
  const pick = (c: number[]) => c.filter((v) => v >= min && v <= max);
  const t = pick(coarse);
  return t.length >= 3 ? t : pick(fine);
}

/** forestPlot draws rows top to bottom: term on the left, interval across. */
export function forestPlot(el: HTMLElement, rows: ForestRow[], log: boolean, label: string, width: number): uPlot {
  const finite = rows.flatMap((r) => [r.lo, r.hi, r.est]).filter((v) => Number.isFinite(v) && (!log || v > 0));
  const ref = log ? 1 : 0;
  let min = Math.min(ref, ...finite), max = Math.max(ref, ...finite);
  if (log) {
    min /= 1.15;
    max *= 1.15;
  } else {
    const pad = (max - min || 1) * 0.08;
    min -= pad;
    max += pad;
  }
  const idx = rows.map((_, i) => i);
  const names = rows.map((r) => r.name);
  const px = (v: number) => Math.round(v * uPlot.pxRatio);
  const opts: uPlot.Options = {
    width, height: Math.max(160, 34 + 26 * rows.length),
    legend: { show: false },
    cursor: { show: false },
    scales: {
      // The terms run down the side (x is the vertical scale), the values across.
      x: { time: false, ori: 1, dir: -1, range: [-0.6, rows.length - 0.4] },
      y: { ori: 0, dir: 1, distr: log ? 3 : 1, log: 10, range: [min, max] },
    },
    axes: [
      { scale: "x", side: 3, size: Math.min(220, 16 + 7 * Math.max(...names.map((n) => n.length), 4)), grid: { show: false },
        splits: () => idx, values: (_u, splits) => splits.map((s) => names[s] ?? "") },
      { scale: "y", side: 2, label, labelSize: 20, grid: { stroke: "#e6e9ef" }, splits: log ? () => logTicks(min, max) : undefined,
        // Label every tick chosen (uPlot labels only powers of ten on a log axis).
        filter: log ? (_u, splits) => splits : undefined,
        // A log axis leaves some splits unlabelled (null).
        values: (_u, splits) => splits.map((v) => (v == null ? "" : Math.abs(v) >= 100 || (Math.abs(v) < 0.01 && v !== 0) ? v.toExponential(0) : String(+v.toPrecision(2)))) },
    ],
    series: [{}, { scale: "y", paths: () => null, points: { show: false } }],
    hooks: {
      draw: [(u) => {
        const c = u.ctx;
        c.save();
        // The reference line: no effect.
        const x0 = u.valToPos(ref, "y", true);
        c.strokeStyle = faint;
        c.setLineDash([px(4), px(4)]);
        c.lineWidth = px(1);
        c.beginPath();
        c.moveTo(x0, u.bbox.top);
        c.lineTo(x0, u.bbox.top + u.bbox.height);
        c.stroke();
        c.setLineDash([]);
        for (let i = 0; i < rows.length; i++) {
          const r = rows[i];
          if (!Number.isFinite(r.est) || (log && r.est <= 0)) continue;
          const y = u.valToPos(i, "x", true);
          const clamp = (v: number) => (Number.isFinite(v) && (!log || v > 0) ? Math.min(Math.max(v, min), max) : v < ref ? min : max);
          const a = u.valToPos(clamp(r.lo), "y", true), b = u.valToPos(clamp(r.hi), "y", true);
          const crosses = r.lo <= ref && r.hi >= ref;
          c.strokeStyle = crosses ? ink : accent;
          c.fillStyle = crosses ? ink : accent;
          c.lineWidth = px(2);
          c.beginPath();
          c.moveTo(a, y);
          c.lineTo(b, y);
          c.moveTo(a, y - px(4));
          c.lineTo(a, y + px(4));
          c.moveTo(b, y - px(4));
          c.lineTo(b, y + px(4));
          c.stroke();
          const s = px(5);
          c.fillRect(u.valToPos(r.est, "y", true) - s, y - s, 2 * s, 2 * s);
        }
        c.restore();
      }],
    },
  };
  return new uPlot(opts, [idx, rows.map((r) => r.est)], el);
}

/** rocPlot draws the released ROC curve against the diagonal. */
export function rocPlot(el: HTMLElement, roc: { fpr: number; tpr: number }[], auc: number | undefined, width: number): uPlot {
  const xs = roc.map((p) => p.fpr);
  return new uPlot({
    width, height: Math.min(width, 320),
    title: auc !== undefined ? `ROC curve (AUC ${auc.toFixed(3)})` : "ROC curve",
    scales: { x: { time: false, range: [0, 1] }, y: { range: [0, 1] } },
    axes: [{ label: "false positive rate", labelSize: 20 }, { label: "true positive rate", labelSize: 20 }],
    series: [{ label: "FPR" }, { label: "TPR", stroke: accent, width: 2 }, { label: "chance", stroke: faint, dash: [4, 4], points: { show: false } }],
  }, [xs, roc.map((p) => p.tpr), xs], el);
}

/** calibrationPlot draws each risk bin's observed event rate against its
 * mean predicted risk, with the line of perfect calibration. */
export function calibrationPlot(el: HTMLElement, bins: CalibrationBin[], width: number): uPlot {
  const sorted = [...bins].sort((a, b) => a.expected - b.expected);
  const xs = sorted.map((b) => b.expected);
  const top = Math.min(1, Math.max(0.05, ...sorted.flatMap((b) => [b.expected, b.observed])) * 1.1);
  return new uPlot({
    width, height: Math.min(width, 320),
    title: "Calibration (risk bins)",
    scales: { x: { time: false, range: [0, top] }, y: { range: [0, top] } },
    axes: [{ label: "predicted risk", labelSize: 20 }, { label: "observed event rate", labelSize: 20 }],
    series: [{ label: "predicted" }, { label: "observed", stroke: accent, width: 2, points: { show: true, size: 8 } },
      { label: "perfect", stroke: faint, dash: [4, 4], points: { show: false } }],
  }, [xs, sorted.map((b) => b.observed), xs], el);
}

/** KMPoint is a released Kaplan–Meier point (outputctl.CurvePoint): the
 * interval ending at time, its risk set, events and censorings (null at the
 * last point), and the survival with its 95% interval. */
export interface KMPoint { time: number; n_risk: number; n_event: number; n_censor: number | null; surv: number; lower: number; upper: number }
/** KMCurve is one group's released curve (outputctl.CurveRelease). */
export interface KMCurve { group: string; points: KMPoint[]; withheld?: boolean; truncated?: boolean; merged?: number[] }

const kmColours = ["#1f60a0", "#be501e", "#288c46", "#783c96"];

/** kmSteps puts the curves on one time axis for uPlot: each curve's value at
 * every released time is its survival at the last point at or before it (1
 * before its first), and nothing after its last point (a truncated or
 * shorter curve ends there: nothing is drawn beyond what was released). */
export function kmSteps(curves: KMCurve[]): { xs: number[]; ys: (number | null)[][]; lo: (number | null)[][]; hi: (number | null)[][] } {
  const drawn = curves.filter((c) => !c.withheld && c.points.length);
  const xs = [...new Set([0, ...drawn.flatMap((c) => c.points.map((p) => p.time))])].sort((a, b) => a - b);
  const at = (c: KMCurve, pick: (p: KMPoint) => number) => xs.map((x) => {
    const last = c.points[c.points.length - 1];
    if (x > last.time) return null;
    let v = 1;
    for (const p of c.points) if (p.time <= x) v = pick(p);
    return v;
  });
  return { xs, ys: drawn.map((c) => at(c, (p) => p.surv)), lo: drawn.map((c) => at(c, (p) => p.lower)), hi: drawn.map((c) => at(c, (p) => p.upper)) };
}

/** kmPlot draws the released Kaplan–Meier curves as steps (uPlot's stepped
 * paths), each with its 95% interval dashed, survival from 0 to 1. */
export function kmPlot(el: HTMLElement, curves: KMCurve[], timeLabel: string, width: number): uPlot {
  const drawn = curves.filter((c) => !c.withheld && c.points.length);
  const { xs, ys, lo, hi } = kmSteps(curves);
  const step = uPlot.paths.stepped!({ align: 1 });
  const series: uPlot.Series[] = [{ label: timeLabel }];
  const data: (number | null)[][] = [xs];
  drawn.forEach((c, i) => {
    const colour = kmColours[i % kmColours.length];
    const name = c.group || "all";
    series.push({ label: name, stroke: colour, width: 2, paths: step, points: { show: false } });
    series.push({ label: `${name} 95% CI`, stroke: colour, width: 1, dash: [3, 3], paths: step, points: { show: false } });
    series.push({ label: `${name} 95% CI`, stroke: colour, width: 1, dash: [3, 3], paths: step, points: { show: false } });
    data.push(ys[i], lo[i], hi[i]);
  });
  return new uPlot({
    width, height: Math.min(Math.max(220, width * 0.6), 340),
    title: "Kaplan–Meier survival (released points)",
    scales: { x: { time: false, range: [0, Math.max(...xs, 1)] }, y: { range: [0, 1] } },
    axes: [{ label: timeLabel, labelSize: 20 }, { label: "survival", labelSize: 20 }],
    series,
  }, data as uPlot.AlignedData, el);
}
