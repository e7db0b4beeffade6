// Exact JSON. The ledger's numbers are 64-bit integers (balances, nonces,
// job ids) and its signed messages keep object key order; JSON.parse would
// round numbers above 2^53 and reorder integer-like keys. parseExact keeps
// both: numbers as their literal text, objects as ordered maps that also
// remember their source text (submit_job's params are signed as written).

export class JSONNumber {
  constructor(public readonly text: string) {}
  toBigInt(): bigint {
    if (!/^-?(0|[1-9][0-9]*)$/.test(this.text)) throw new Error(`${this.text} is not an integer`);
    return BigInt(this.text);
  }
  toString() {
    return this.text;
  }
}

export class JSONObject extends Map<string, unknown> {
  /** raw is the object's source text, when it was parsed. */
  raw?: string;
}

export class JSONSyntaxError extends Error {
  constructor(public offset: number, problem: string) {
    super(`JSON at byte ${offset}: ${problem}`);
    this.name = "JSONSyntaxError";
  }
}

export function parseExact(text: string): unknown {
  let i = 0;
  const ws = () => {
    while (i < text.length && " \t\r\n".includes(text[i])) i++;
  };
  const fail = (p: string): never => {
    throw new JSONSyntaxError(i, p);
  };
  const value = (): unknown => {
    ws();
    const c = text[i];
    if (c === "{") {
      const start = i++;
      const o = new JSONObject();
      ws();
      if (text[i] === "}") {
        i++;
        o.raw = text.slice(start, i);
        return o;
      }
      for (;;) {
        ws();
        if (text[i] !== '"') fail("want a key");
        const k = str();
        ws();
        if (text[i++] !== ":") fail("want ':'");
        o.set(k, value());
        ws();
        const d = text[i++];
        if (d === "}") break;
        if (d !== ",") fail("want ',' or '}'");
      }
      o.raw = text.slice(start, i);
      return o;
    }
    if (c === "[") {
      i++;
      const a: unknown[] = [];
      ws();
      if (text[i] === "]") {
        i++;
        return a;
      }
      for (;;) {
        a.push(value());
        ws();
        const d = text[i++];
        if (d === "]") return a;
        if (d !== ",") fail("want ',' or ']'");
      }
    }
    if (c === '"') return str();
    const m = /^-?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?/.exec(text.slice(i, i + 400));
    if (m && m[0] !== "" && m[0] !== "-") {
      i += m[0].length;
      return new JSONNumber(m[0]);
    }
    for (const [lit, v] of [["true", true], ["false", false], ["null", null]] as const) {
      if (text.startsWith(lit, i)) {
        i += lit.length;
        return v;
      }
    }
    return fail("unexpected character");
  };
  const str = (): string => {
    const start = i;
    i++;
    while (i < text.length && text[i] !== '"') {
      if (text[i] === "\\") i++;
      i++;
    }
    if (i >= text.length) fail("unterminated string");
    i++;
    return JSON.parse(text.slice(start, i));
  };
  const v = value();
  ws();
  if (i !== text.length) fail("trailing data");
  return v;
}

/** get reads a field of a parsed or plain object. */
export function field(o: unknown, k: string): unknown {
  if (o instanceof Map) return o.get(k);
  if (o && typeof o === "object") return (o as Record<string, unknown>)[k];
  return undefined;
}

/** compact removes insignificant whitespace, as Go's json.Compact does. */
export function compact(text: string): string {
  let out = "";
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (c === '"') {
      const start = i++;
      while (i < text.length && text[i] !== '"') {
        if (text[i] === "\\") i++;
        i++;
      }
      out += text.slice(start, i + 1);
      continue;
    }
    if (" \t\r\n".includes(c)) continue;
    out += c;
  }
  return out;
}
