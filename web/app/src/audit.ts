// Checks an auditor runs in the browser, on bytes the node serves, without
// trusting the node's own verdict: an audit entry's inclusion in the log
// (RFC 9162 §2.1.3.2), and that the log's root and the state root hash to the
// app hash (ledger.AppHash); and that an earlier log is a prefix of a later
// one (RFC 9162 §2.1.4.2). The app hash is then compared with the header the
// node serves for the next height, whose validators' signatures
// ./lightclient.ts checks (the pages do both).
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

/** verifyConsistency checks an RFC 9162 §2.1.4.2 consistency proof: the log
 * of size1 entries with root1 is a prefix of the log of size2 entries with
 * root2 (audit.VerifyConsistency). It throws saying what failed. */
export function verifyConsistency(size1: bigint, size2: bigint, proof: Uint8Array[], root1: Uint8Array, root2: Uint8Array): void {
  const eq = (a: Uint8Array, b: Uint8Array) => hex(a) === hex(b);
  if (proof.some((p) => p.length !== 32)) throw new Error("a proof hash is not 32 bytes");
  if (size2 < size1) throw new Error(`size ${size2} is smaller than ${size1}`);
  if (size1 === size2) {
    if (proof.length) throw new Error("a proof between equal sizes must be empty");
    if (!eq(root1, root2)) throw new Error("equal sizes with different roots");
    return;
  }
  if (size1 === 0n) {
    if (proof.length) throw new Error("a proof from the empty log must be empty");
    if (!eq(root1, sha256(new Uint8Array(0)))) throw new Error("the empty log's root is not the empty-tree root");
    return;
  }
  if (!proof.length) throw new Error("the proof is empty");
  // A first size that is a power of two is a complete subtree: its root
  // starts the path.
  const path = (size1 & (size1 - 1n)) === 0n ? [root1, ...proof] : proof;
  let fn = size1 - 1n, sn = size2 - 1n;
  while ((fn & 1n) === 1n) {
    fn >>= 1n;
    sn >>= 1n;
  }
  let fr = path[0], sr = path[0];
  for (const c of path.slice(1)) {
    if (sn === 0n) throw new Error("the proof is longer than the tree is deep");
    if ((fn & 1n) === 1n || fn === sn) {
      fr = nodeHash(c, fr);
      sr = nodeHash(c, sr);
      while ((fn & 1n) === 0n && fn !== 0n) {
        fn >>= 1n;
        sn >>= 1n;
      }
    } else {
      sr = nodeHash(sr, c);
    }
    fn >>= 1n;
    sn >>= 1n;
  }
  if (sn !== 0n) throw new Error("the proof is shorter than the tree is deep");
  if (!eq(fr, root1)) throw new Error(`the proof gives the earlier root ${hex(fr)}, the commitment has ${hex(root1)}`);
  if (!eq(sr, root2)) throw new Error(`the proof gives the later root ${hex(sr)}, the commitment has ${hex(root2)}`);
}
