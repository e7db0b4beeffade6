// Canonical transaction encoding: the browser writes a transaction byte for
// byte as the Go client's ledger.SignTx does, because the ledger accepts only
// that encoding (docs/ledger.md, "Canonical transactions"). What encoding/json
// would write depends on the Go types (field order, names, omitempty), so the
// message table (txspec.gen.json) is generated from them by a Go test.
import spec from "./txspec.gen.json";
import { JSONNumber, JSONObject, compact, parseExact } from "./json";

export type FieldSpec = { name: string; type: string; omitempty?: boolean };

const structs = spec.structs as Record<string, FieldSpec[]>;
const messages = spec.messages as Record<string, string>;
const skipped = spec.skipped as Record<string, string>;

/** EncodeError names the place (payload.msg.scope.kind) and the problem. */
export class EncodeError extends Error {
  constructor(public path: string, problem: string) {
    super(`${path}: ${problem}`);
    this.name = "EncodeError";
  }
}

/** The transaction types a person can sign here, in the ledger's order. */
export function signableTypes(): string[] {
  return Object.keys(messages);
}

/** Why a type cannot be signed in the browser, or undefined if it can. */
export function unsignable(type: string): string | undefined {
  if (messages[type]) return undefined;
  return skipped[type] ?? "unknown transaction type";
}

export function fieldsOf(structName: string): FieldSpec[] {
  const f = structs[structName];
  if (!f) throw new Error(`no struct ${structName} in the message table`);
  return f;
}

export function messageStruct(type: string): string {
  const s = messages[type];
  if (!s) throw new EncodeError("payload.type", `${type}: ${unsignable(type)}`);
  return s;
}

// goString writes a string as encoding/json does: \" \\ \n \r \t \b \f,
// \u00XX (lower-case hex) for other control characters, \u003c \u003e
// \u0026 for < > &, \u2028 \u2029, everything else as literal UTF-8. A lone
// surrogate has no UTF-8 form: the ledger refuses it, so do we.
export function goString(s: string, path = "value"): string {
  let out = '"';
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c >= 0xd800 && c <= 0xdbff) {
      const d = s.charCodeAt(i + 1);
      if (!(d >= 0xdc00 && d <= 0xdfff)) throw new EncodeError(path, "string is not valid Unicode (lone surrogate)");
      out += s[i] + s[i + 1];
      i++;
      continue;
    }
    if (c >= 0xdc00 && c <= 0xdfff) throw new EncodeError(path, "string is not valid Unicode (lone surrogate)");
    switch (c) {
      case 0x22: out += '\\"'; continue;
      case 0x5c: out += "\\\\"; continue;
      case 0x0a: out += "\\n"; continue;
      case 0x0d: out += "\\r"; continue;
      case 0x09: out += "\\t"; continue;
      case 0x08: out += "\\b"; continue;
      case 0x0c: out += "\\f"; continue;
      case 0x3c: out += "\\u003c"; continue;
      case 0x3e: out += "\\u003e"; continue;
      case 0x26: out += "\\u0026"; continue;
      case 0x2028: out += "\\u2028"; continue;
      case 0x2029: out += "\\u2029"; continue;
    }
    if (c < 0x20) {
      out += "\\u00" + c.toString(16).padStart(2, "0");
      continue;
    }
    out += s[i];
  }
  return out + '"';
}

const INT64_MIN = -(1n << 63n), INT64_MAX = (1n << 63n) - 1n, UINT64_MAX = (1n << 64n) - 1n;

function integer(v: unknown, path: string, unsigned: boolean): string {
  let n: bigint;
  if (v instanceof JSONNumber) {
    try {
      n = v.toBigInt();
    } catch {
      throw new EncodeError(path, `want an integer, got ${v.text}`);
    }
  } else if (typeof v === "bigint") n = v;
  else if (typeof v === "number" && Number.isSafeInteger(v)) n = BigInt(v);
  else if (typeof v === "string" && /^-?(0|[1-9][0-9]*)$/.test(v)) n = BigInt(v);
  else throw new EncodeError(path, `want an integer, got ${typeof v === "string" ? JSON.stringify(v) : typeof v}`);
  if (unsigned ? n < 0n || n > UINT64_MAX : n < INT64_MIN || n > INT64_MAX)
    throw new EncodeError(path, `${n} is out of range for ${unsigned ? "uint64" : "int64"}`);
  return n.toString();
}

export function base64(b: Uint8Array): string {
  let s = "";
  for (const x of b) s += String.fromCharCode(x);
  return btoa(s);
}

export function fromBase64(s: string): Uint8Array {
  const bin = atob(s);
  const b = new Uint8Array(bin.length);
  for (let i = 0; i < bin.length; i++) b[i] = bin.charCodeAt(i);
  return b;
}

export function hex(b: Uint8Array): string {
  return Array.from(b, (x) => x.toString(16).padStart(2, "0")).join("");
}

export function fromHex(s: string): Uint8Array {
  if (!/^([0-9a-f]{2})*$/.test(s)) throw new Error("not lower-case hex");
  const b = new Uint8Array(s.length / 2);
  for (let i = 0; i < b.length; i++) b[i] = parseInt(s.slice(2 * i, 2 * i + 2), 16);
  return b;
}

function bytesOf(v: unknown, path: string): Uint8Array {
  if (v instanceof Uint8Array) return v;
  if (typeof v === "string") {
    try {
      return fromBase64(v);
    } catch {
      throw new EncodeError(path, "want bytes (a Uint8Array or standard base64)");
    }
  }
  throw new EncodeError(path, "want bytes (a Uint8Array or standard base64)");
}

// isEmpty is encoding/json's omitempty test: false, 0, "", and nil or empty
// lists, byte strings and pointers. A struct is never empty.
function isEmpty(v: unknown, type: string): boolean {
  if (v === undefined || v === null) return true;
  if (type.startsWith("struct:")) return false;
  if (type === "bool") return v === false;
  if (type === "int" || type === "uint") return BigInt(v instanceof JSONNumber ? v.text : (v as any)) === 0n;
  if (type === "string" || type === "hex") return v === "" || (v instanceof Uint8Array && v.length === 0);
  if (type === "bytes") return (v instanceof Uint8Array || typeof v === "string") && (v as any).length === 0;
  if (type.startsWith("list:")) return Array.isArray(v) && v.length === 0;
  if (type === "raw") return false;
  return false;
}

// rawJSON writes an opaque JSON value (submit_job's params) as
// json.Marshal writes a json.RawMessage: compact, with < > & U+2028 U+2029
// escaped. Those characters can only occur inside strings, so replacing them
// everywhere is exact.
function rawJSON(v: unknown, path: string): string {
  let s: string;
  if (v instanceof JSONObject && v.raw !== undefined) s = compact(v.raw);
  else if (typeof v === "string") {
    try {
      parseExact(v);
    } catch (e) {
      throw new EncodeError(path, `not JSON: ${(e as Error).message}`);
    }
    s = compact(v);
  } else if (v instanceof Map) s = JSON.stringify(Object.fromEntries(v));
  else s = JSON.stringify(v);
  if (s === undefined) throw new EncodeError(path, "no JSON value");
  return s.replace(/[<>&\u2028\u2029]/g, (c) => "\\u" + c.charCodeAt(0).toString(16).padStart(4, "0"));
}

/** encodeValue writes v as encoding/json writes a Go value of the given type. */
export function encodeValue(v: unknown, type: string, path: string): string {
  if (type.startsWith("ptr:")) return v === undefined || v === null ? "null" : encodeValue(v, type.slice(4), path);
  if (type.startsWith("list:")) {
    if (v === undefined || v === null) return "null";
    if (!Array.isArray(v)) throw new EncodeError(path, "want a list");
    const t = type.slice(5);
    return "[" + v.map((x, i) => encodeValue(x, t, `${path}[${i}]`)).join(",") + "]";
  }
  if (type.startsWith("struct:")) return encodeStruct(v, type.slice(7), path);
  switch (type) {
    case "string":
      if (v === undefined) v = "";
      if (typeof v !== "string") throw new EncodeError(path, "want a string");
      return goString(v, path);
    case "bool":
      if (v === undefined) v = false;
      if (typeof v !== "boolean") throw new EncodeError(path, "want true or false");
      return v ? "true" : "false";
    case "int":
      return integer(v ?? 0, path, false);
    case "uint":
      return integer(v ?? 0, path, true);
    case "bytes":
      return v === undefined || v === null ? "null" : goString(base64(bytesOf(v, path)));
    case "hex":
      // A nil HexBytes is written through its MarshalText as "".
      if (v === undefined || v === null) return '""';
      return goString(typeof v === "string" ? (fromHexChecked(v, path), v) : hex(bytesOf(v, path)));
    case "raw":
      if (v === undefined) return "null";
      return rawJSON(v, path);
  }
  throw new EncodeError(path, `no encoding for type ${type}`);
}

function fromHexChecked(s: string, path: string) {
  try {
    return fromHex(s);
  } catch {
    throw new EncodeError(path, "want lower-case hex");
  }
}

/** encodeStruct writes the named Go struct's fields in declaration order. */
export function encodeStruct(v: unknown, name: string, path: string): string {
  if (v === null || typeof v !== "object" || Array.isArray(v)) throw new EncodeError(path, `want an object (${name})`);
  const obj: Record<string, unknown> = v instanceof Map ? Object.fromEntries(v) : (v as Record<string, unknown>);
  const fields = fieldsOf(name);
  const known = new Set(fields.map((f) => f.name));
  for (const k of Object.keys(obj)) {
    if (!known.has(k) && obj[k] !== undefined)
      throw new EncodeError(`${path}.${k}`, `unknown field (${name} has ${[...known].join(", ")})`);
  }
  const parts: string[] = [];
  for (const f of fields) {
    const x = obj[f.name];
    if (f.omitempty && isEmpty(x, f.type)) continue;
    parts.push(goString(f.name) + ":" + encodeValue(x, f.type, `${path}.${f.name}`));
  }
  return "{" + parts.join(",") + "}";
}

/** encodeMsg writes a transaction's message in its canonical form. */
export function encodeMsg(type: string, msg: unknown): string {
  return encodeStruct(msg, messageStruct(type), "payload.msg");
}
