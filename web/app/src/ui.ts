// Small DOM helpers: elements are built with textContent only (never
// innerHTML), so nothing the ledger holds can inject markup.
export const $ = <T extends HTMLElement = HTMLElement>(id: string) => document.getElementById(id) as T;

type Child = Node | string | number | null | undefined | false;

export function h<K extends keyof HTMLElementTagNameMap>(tag: K, attrs: Record<string, string | boolean | ((e: Event) => void)> = {}, ...children: Child[]): HTMLElementTagNameMap[K] {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (typeof v === "function") el.addEventListener(k.replace(/^on/, ""), v);
    else if (v === true) el.setAttribute(k, "");
    else if (v !== false) el.setAttribute(k, v);
  }
  for (const c of children) if (c !== null && c !== undefined && c !== false) el.append(typeof c === "number" ? String(c) : c);
  return el;
}

export const short = (s?: string) => (s && s.length > 16 ? s.slice(0, 8) + "…" + s.slice(-6) : s ?? "");

/** table fills tbody with rows, or one row saying there are none. */
export function fill(tbody: HTMLElement, rows: HTMLTableCellElement[][], cols: number, empty = "none yet") {
  tbody.replaceChildren();
  if (rows.length === 0) {
    tbody.append(h("tr", {}, h("td", { colspan: String(cols) }, empty)));
    return;
  }
  for (const r of rows) tbody.append(h("tr", {}, ...r));
}

export const td = (text: unknown, cls = "") => h("td", cls ? { class: cls } : {}, text === undefined || text === null ? "" : String(text));

export function failRow(tbody: HTMLElement, cols: number, err: unknown) {
  tbody.replaceChildren(h("tr", {}, h("td", { colspan: String(cols), class: "bad" }, "could not load: " + (err as Error).message)));
}

/** say shows a message in a live region (read out by screen readers). */
export function say(el: HTMLElement, text: string, ok: boolean) {
  el.textContent = text;
  el.className = ok ? "ok" : "bad";
}
