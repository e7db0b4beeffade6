// Private usage receipts, recognised in this browser (Go package receipts,
// docs/patients.md "Receipts"). A worker that released a result published
// a set of tags; the patient's tag for that job's site is an HMAC under a
// key only the patient and the worker can derive (X25519 between their
// keys, HKDF bound to both public keys). The page downloads every set — the
// same bytes for everyone, so the node does not learn whose receipts are
// looked for — and looks its own tag up. web/patient_test.go holds this
// module to vectors the Go package computes.
import { x25519 } from "@noble/curves/ed25519.js";
import { hkdf } from "@noble/hashes/hkdf.js";
import { hmac } from "@noble/hashes/hmac.js";
import { sha256 } from "@noble/hashes/sha2.js";

const utf8 = new TextEncoder();
const domain = "medchain/receipts/v1"; // + "/key", "/tag"
export const tagSize = 16;

function concat(...parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

/** patientKey is receipts.PatientKey: the PRF key the patient (X25519
 * private key xpriv) shares with the worker whose key is workerEnc. */
export function patientKey(xpriv: Uint8Array, workerEnc: Uint8Array): Uint8Array {
  if (workerEnc.length !== 32) throw new Error(`worker encryption key: want 32 bytes, got ${workerEnc.length}`);
  const shared = x25519.getSharedSecret(xpriv, workerEnc); // throws on a small-order key, as Go's ecdh does
  const info = concat(utf8.encode(domain + "/key"), workerEnc, x25519.getPublicKey(xpriv));
  return hkdf(sha256, shared, undefined, info, 32);
}

/** tagFor is receipts.TagFor: the tag of the patient's records in a job's site. */
export function tagFor(key: Uint8Array, chainID: string, job: number | bigint, dataset: string): Uint8Array {
  const be = new Uint8Array(8);
  new DataView(be.buffer).setBigUint64(0, BigInt(job));
  const msg = concat(utf8.encode(domain + "/tag"), new Uint8Array([0]), utf8.encode(chainID), new Uint8Array([0]), be, utf8.encode(dataset));
  return hmac(sha256, key, msg).slice(0, tagSize);
}

function compare(set: Uint8Array, i: number, t: Uint8Array): number {
  for (let j = 0; j < tagSize; j++) {
    const d = set[i * tagSize + j] - t[j];
    if (d) return d;
  }
  return 0;
}

/** contains is receipts.Contains: binary search of a sorted set. */
export function contains(set: Uint8Array, t: Uint8Array): boolean {
  let lo = 0;
  let hi = Math.floor(set.length / tagSize);
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    const c = compare(set, mid, t);
    if (c === 0) return true;
    if (c < 0) lo = mid + 1;
    else hi = mid;
  }
  return false;
}

/** Scanner is receipts.Scanner: one agreement per worker, then one HMAC
 * and one search per job site. */
export class Scanner {
  private keys = new Map<string, Uint8Array>();
  constructor(private xpriv: Uint8Array, private chainID: string) {}

  recognises(workerEnc: Uint8Array, job: number, dataset: string, set: Uint8Array): boolean {
    const id = Array.from(workerEnc).join(",");
    let k = this.keys.get(id);
    if (!k) {
      k = patientKey(this.xpriv, workerEnc);
      this.keys.set(id, k);
    }
    return contains(set, tagFor(k, this.chainID, job, dataset));
  }
}
