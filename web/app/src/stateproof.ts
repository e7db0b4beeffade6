// Proving a ledger record in the browser: a state value's sparse Merkle
// proof (package smt) is checked against the state root of a commitment,
// the commitment's parts against its app hash (ledger.AppHash), and the app
// hash against the header of the next height, whose validator signatures
// are checked here against the pinned validator set (./lightclient.ts). The value is then read from its CBOR state encoding (docs/
// ledger.md, "State encoding"). Used to check that a job's result hash is
// the one on chain, not only the one the API says.
import { sha256 } from "@noble/hashes/sha2.js";
import type { Commitment, Node } from "./api";
import { appHash } from "./audit";
import { fromBase64, fromHex, hex } from "./canonical";
import { verifyHeaderAt, type HeaderCheck } from "./lightclient";

export interface SmtProof { depth: number; bitmap: string; siblings: string[]; leaf?: { path: string; value_hash: string } }
export interface StateProof { key: string; value: string | null; proof: SmtProof; commitment: Commitment }

const cat = (...parts: Uint8Array[]) => {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
};
const bitAt = (b: Uint8Array, i: number) => (b[i >> 3] >> (7 - (i & 7))) & 1;
const leafHash = (path: Uint8Array, valueHash: Uint8Array) => sha256(cat(new Uint8Array([0]), path, valueHash));
const internalHash = (l: Uint8Array, r: Uint8Array) => sha256(cat(new Uint8Array([1]), l, r));
const empty: Uint8Array = new Uint8Array(32);

/** verifyMembership checks that the proof shows key holding value under root (smt.Proof.Verify). */
export function verifyMembership(root: string, key: string, value: Uint8Array, p: SmtProof): void {
  if (!(p.depth >= 0 && p.depth <= 256)) throw new Error(`proof depth ${p.depth} outside 0..256`);
  const bitmap = fromHex(p.bitmap);
  if (bitmap.length !== Math.ceil(p.depth / 8)) throw new Error("proof bitmap does not match its depth");
  if (!p.leaf) throw new Error("the proof ends in an empty subtree: the key is absent");
  const path = sha256(new TextEncoder().encode(key));
  if (p.leaf.path !== hex(path)) throw new Error("the proof is for another key");
  if (p.leaf.value_hash !== hex(sha256(value))) throw new Error("the value is not the one the proof commits to");
  let h: Uint8Array = leafHash(path, sha256(value));
  let next = p.siblings.length;
  for (let d = p.depth - 1; d >= 0; d--) {
    let sibling: Uint8Array = empty;
    if (bitAt(bitmap, d)) {
      next--;
      if (next < 0) throw new Error("the proof has fewer siblings than its bitmap marks");
      sibling = fromHex(p.siblings[next]);
    }
    h = bitAt(path, d) === 0 ? internalHash(h, sibling) : internalHash(sibling, h);
  }
  if (next !== 0) throw new Error("the proof has more siblings than its bitmap marks");
  if (hex(h) !== root) throw new Error(`the proof gives state root ${hex(h)}, the commitment has ${root}`);
}

/** decodeCBOR reads the deterministic CBOR the ledger stores: integers,
 * byte and text strings, arrays, maps, false/true/null (no tags, floats or
 * indefinite lengths, which the ledger never writes). */
export function decodeCBOR(b: Uint8Array): unknown {
  let i = 0;
  const need = (n: number) => {
    if (i + n > b.length) throw new Error("CBOR: truncated");
  };
  const arg = (info: number): number => {
    if (info < 24) return info;
    const n = info === 24 ? 1 : info === 25 ? 2 : info === 26 ? 4 : info === 27 ? 8 : 0;
    if (!n) throw new Error(`CBOR: unsupported length ${info}`);
    need(n);
    let v = 0;
    for (let k = 0; k < n; k++) v = v * 256 + b[i++];
    if (!Number.isSafeInteger(v)) throw new Error("CBOR: integer beyond 2^53");
    return v;
  };
  const item = (): unknown => {
    need(1);
    const ib = b[i++], major = ib >> 5, info = ib & 31;
    switch (major) {
      case 0: return arg(info);
      case 1: return -1 - arg(info);
      case 2: { const n = arg(info); need(n); const v = b.slice(i, i + n); i += n; return v; }
      case 3: { const n = arg(info); need(n); const v = new TextDecoder("utf-8", { fatal: true }).decode(b.subarray(i, i + n)); i += n; return v; }
      case 4: { const n = arg(info); const a: unknown[] = []; for (let k = 0; k < n; k++) a.push(item()); return a; }
      case 5: { const n = arg(info); const m = new Map<unknown, unknown>(); for (let k = 0; k < n; k++) { const key = item(); m.set(key, item()); } return m; }
      case 7:
        if (info === 20) return false;
        if (info === 21) return true;
        if (info === 22) return null;
    }
    throw new Error(`CBOR: unsupported item 0x${ib.toString(16)}`);
  };
  const v = item();
  if (i !== b.length) throw new Error("CBOR: trailing bytes");
  return v;
}

/** ProvenValue is a state value proven down to the validators' signatures. */
export interface ProvenValue { value: Uint8Array; height: number; header: HeaderCheck }

/** proveState proves key's value under the latest commitment: its sparse
 * Merkle proof against the state root, the commitment's parts against its
 * app hash, and that app hash against the next header, whose validator
 * signatures are checked against the pinned set. */
export async function proveState(node: Node, key: string): Promise<ProvenValue> {
  const sp = await node.get<StateProof>("stateProof", {}, { key });
  if (sp.key !== key || !sp.value) throw new Error(`the node proves ${sp.key}, not ${key}`);
  const value = fromBase64(sp.value);
  const c = sp.commitment;
  verifyMembership(c.state_root, key, value, sp.proof);
  const ah = hex(appHash(fromHex(c.state_root), BigInt(c.audit_size), fromHex(c.audit_root)));
  if (ah !== c.app_hash) throw new Error(`the commitment's parts hash to ${ah}, not its app hash ${c.app_hash}`);
  // The commitment is the latest: the header that carries it (the next
  // height's) may be a block away; verifyHeaderAt waits for it, and checks
  // its validators' signatures against the pinned set.
  const header = await verifyHeaderAt(node, c.height + 1);
  if (header.appHash !== c.app_hash) throw new Error(`header ${c.height + 1} carries app hash ${header.appHash || "none"}, not ${c.app_hash}`);
  return { value, height: c.height, header };
}

/** proveModelCommitment proves a model's record (ledger.KeyModel) and reads
 * its commitment (field 3 of ledger.Model's array). */
export async function proveModelCommitment(node: Node, id: string): Promise<{ commitment: string; height: number; header: HeaderCheck }> {
  const { value, height, header } = await proveState(node, `s/model/${id}`);
  const m = decodeCBOR(value);
  if (!Array.isArray(m) || m[0] !== id || typeof m[3] !== "string") throw new Error("the proven value is not this model's record");
  return { commitment: m[3], height, header };
}

/** jobKey is ledger.KeyJob: s/job/ and the id as 16 hex digits. */
export const jobKey = (id: number) => `s/job/${id.toString(16).padStart(16, "0")}`;

/** ProvenJob is what the browser proved of a job record. */
export interface ProvenJob { height: number; results: Map<string, string>; header: HeaderCheck }

/** proveJobResults proves the job's record under the latest commitment and
 * reads each site's posted result hash from it (the JobSite and JobResult
 * arrays of ledger/jobs.go: a site's dataset is field 0 and its result field
 * 16; a result's hash is field 1). */
export async function proveJobResults(node: Node, id: number): Promise<ProvenJob> {
  const { value, height, header } = await proveState(node, jobKey(id));
  const job = decodeCBOR(value);
  if (!Array.isArray(job) || job[0] !== id || !Array.isArray(job[7])) throw new Error("the proven value is not this job's record");
  const results = new Map<string, string>();
  for (const site of job[7] as unknown[]) {
    if (!Array.isArray(site) || site.length !== 18 || typeof site[0] !== "string") throw new Error("a proven job site is not in the expected form");
    const r = site[16];
    if (Array.isArray(r) && r.length === 5 && typeof r[1] === "string") results.set(site[0], r[1]);
  }
  return { height, results, header };
}
