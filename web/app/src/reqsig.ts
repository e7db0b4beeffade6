// Signed API requests (Go package reqsig, docs/patients.md): the routes
// that answer only to a particular account — a patient's own consents —
// take an Authorization header signed with the account's key in this
// page. The signed message binds the chain, the method, the host, the
// path and query, the time and a fresh nonce, so the node serves it once,
// for this question only. Checked against reqsig/testdata/vectors.json by
// web/reqsig_test.go.
import { ed25519 } from "@noble/curves/ed25519.js";
import { sha256 } from "@noble/hashes/sha2.js";
import { base64, hex } from "./canonical";

const domain = "medchain/request/v1";
const utf8 = new TextEncoder();

export interface SignedRequest {
  chainID: string; method: string; host: string; target: string;
  time: number; nonce: string; body?: Uint8Array;
}

/** requestMessage is reqsig.Message: the bytes a request signature covers. */
export function requestMessage(r: SignedRequest): Uint8Array {
  for (const [name, v] of [["chain id", r.chainID], ["method", r.method], ["host", r.host], ["target", r.target], ["nonce", r.nonce]])
    if (!v || /[\r\n]/.test(v)) throw new Error(`request signature: the ${name} is empty or holds a line break`);
  if (!/^[0-9a-f]{32}$/.test(r.nonce)) throw new Error("request signature: nonce: want 32 lower-case hex digits");
  const body = sha256(r.body ?? new Uint8Array());
  return utf8.encode([domain, r.chainID, r.method, r.host, r.target, String(r.time), r.nonce, hex(body)].join("\n"));
}

/** signRequest is reqsig.Sign: the Authorization header's value. */
export function signRequest(seed: Uint8Array, r: SignedRequest): string {
  const sig = ed25519.sign(requestMessage(r), seed);
  return `MedchainSig key=${base64(ed25519.getPublicKey(seed))},time=${r.time},nonce=${r.nonce},sig=${base64(sig)}`;
}

/** authorize signs a GET of url (absolute, or relative to this page) now,
 * with a fresh nonce: what reqsig.SignHTTP does in Go. */
export function authorize(seed: Uint8Array, chainID: string, method: string, url: string): string {
  const u = new URL(url, location.href);
  return signRequest(seed, {
    chainID, method, host: u.host, target: u.pathname + u.search,
    time: Math.floor(Date.now() / 1000), nonce: hex(crypto.getRandomValues(new Uint8Array(16))),
  });
}
