// Checks an auditor runs in the browser, on bytes the node serves, without
// trusting the node's own verdict: an audit entry's inclusion in the log
// (RFC 9162 §2.1.3.2), and that the log's root and the state root hash to the
// app hash (ledger.AppHash). The app hash is then compared with the header
// the node serves for the next height; checking the validators' signatures
// on that header is not done here (medchain audit verify does it).
import { sha256 } from "@noble/hashes/sha2.js";
import { fromBase64, fromHex, hex } from "./canonical";
import type { AuditInclusion } from "./api";

const utf8 = new TextEncoder();

function cat(...parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
}

export const leafHash = (entry: Uint8Array) => sha256(cat(new Uint8Array([0]), entry));
const nodeHash = (l: Uint8Array, r: Uint8Array) => sha256(cat(new Uint8Array([1]), l, r));

/** rootFromInclusion computes the root a proof implies, or says why it cannot. */
export function rootFromInclusion(leaf: Uint8Array, index: bigint, size: bigint, proof: Uint8Array[]): Uint8Array {
  if (index >= size) throw new Error(`index ${index} is not below size ${size}`);
  let fn = index, sn = size - 1n, r = leaf;
  for (const p of proof) {
    if (p.length !== 32) throw new Error("a proof hash is not 32 bytes");
    if (sn === 0n) throw new Error("proof is longer than the tree is deep");
    if ((fn & 1n) === 1n || fn === sn) {
      r = nodeHash(p, r);
      if ((fn & 1n) === 0n) {
        while ((fn & 1n) === 0n && fn !== 0n) {
          fn >>= 1n;
          sn >>= 1n;
        }
      }
    } else {
      r = nodeHash(r, p);
    }
    fn >>= 1n;
    sn >>= 1n;
  }
  if (sn !== 0n) throw new Error("proof is shorter than the tree is deep");
  return r;
}

/** appHash is ledger.AppHash(stateRoot, auditSize, auditRoot). */
export function appHash(stateRoot: Uint8Array, auditSize: bigint, auditRoot: Uint8Array): Uint8Array {
  const n = new Uint8Array(8);
  new DataView(n.buffer).setBigUint64(0, auditSize);
  return sha256(cat(utf8.encode("medchain/apphash/v1"), stateRoot, n, auditRoot));
}

export type Check = { what: string; ok: boolean; detail: string };

/** verifyInclusion runs every check on an inclusion answer; all must pass. */
export function verifyInclusion(inc: AuditInclusion): Check[] {
  const checks: Check[] = [];
  const add = (what: string, f: () => string) => {
    try {
      checks.push({ what, ok: true, detail: f() });
    } catch (e) {
      checks.push({ what, ok: false, detail: (e as Error).message });
    }
  };
  const raw = fromBase64(inc.raw);
  add("entry bytes hash to the leaf", () => {
    const got = hex(leafHash(raw));
    if (got !== inc.leaf_hash) throw new Error(`entry hashes to ${got}, the node says ${inc.leaf_hash}`);
    return got;
  });
  add("leaf and proof give the log's root", () => {
    const root = rootFromInclusion(leafHash(raw), BigInt(inc.index), BigInt(inc.size), inc.proof.map(fromHex));
    const want = inc.commitment.audit_root;
    if (hex(root) !== want) throw new Error(`proof gives root ${hex(root)}, the commitment has ${want}`);
    if (BigInt(inc.commitment.audit_size) !== BigInt(inc.size)) throw new Error("proof is for another log size");
    return `${hex(root)} (${inc.size} entries)`;
  });
  add("state root and log root give the app hash", () => {
    const c = inc.commitment;
    const got = hex(appHash(fromHex(c.state_root), BigInt(c.audit_size), fromHex(c.audit_root)));
    if (got !== c.app_hash) throw new Error(`parts hash to ${got}, not ${c.app_hash}`);
    return got;
  });
  return checks;
}
