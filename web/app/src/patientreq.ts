// Requests a patient signs for an institution's node, never for the
// ledger: a rewards request (Go rewards.Request) and a record request
// (Go recordshare.Sign). Both are signed with the wallet's key in this page;
// web/patient_test.go has the Go packages verify what this module signs.
import { ed25519 } from "@noble/curves/ed25519.js";
import { base64, hex } from "./canonical";
import { address } from "./tx";

const utf8 = new TextEncoder();

export interface RewardRequest {
  chain_id: string; org: string; action: "balance" | "vouchers"; recipient?: string; unit?: number; notes?: number;
  id: string; time: number; pub_key: string; signature: string;
}

/** rewardRequestBytes is what rewards.Request signs: the domain and the
 * strings each ended by a zero byte, then the unit (big-endian 64-bit), the
 * most notes wanted (32-bit) and the time (64-bit). */
export function rewardRequestBytes(r: Omit<RewardRequest, "pub_key" | "signature">): Uint8Array {
  const parts: number[] = [];
  for (const s of ["medchain/rewards-request/v2", r.chain_id, r.org, r.action, r.recipient ?? "", r.id]) parts.push(...utf8.encode(s), 0);
  const tail = new Uint8Array(20);
  const v = new DataView(tail.buffer);
  v.setBigUint64(0, BigInt(r.unit ?? 0));
  v.setUint32(8, r.notes ?? 0);
  v.setBigUint64(12, BigInt(r.time));
  return new Uint8Array([...parts, ...tail]);
}

/** signRewardRequest makes a request with a fresh id, signed now (or at time). */
export function signRewardRequest(seed: Uint8Array, chainID: string, org: string, action: "balance" | "vouchers",
  opts: { recipient?: string; unit?: number; notes?: number; id?: string; time?: number } = {}): RewardRequest {
  const r = {
    chain_id: chainID, org, action, id: opts.id ?? hex(crypto.getRandomValues(new Uint8Array(32))),
    time: opts.time ?? Math.floor(Date.now() / 1000),
    ...(opts.recipient ? { recipient: opts.recipient } : {}), ...(opts.unit && opts.unit > 1 ? { unit: opts.unit } : {}),
    ...(opts.notes ? { notes: opts.notes } : {}),
  };
  return { ...r, pub_key: base64(ed25519.getPublicKey(seed)), signature: base64(ed25519.sign(rewardRequestBytes(r), seed)) };
}

export interface RecordRequest { kind: string; chain: string; server: string; signer: string; share?: string; nonce: string; expires: number }
export interface SignedRecordRequest { request: RecordRequest; signature: string }

const plain = /^[0-9A-Za-z._:-]*$/;

/** recordRequestBytes is recordshare's signed bytes: the domain, a zero
 * byte, and the request as Go's encoding/json writes it (fields in order,
 * share left out when empty). The fields are ids, hex and numbers, which
 * JSON writes the same in both languages; anything else is refused. */
export function recordRequestBytes(r: RecordRequest): Uint8Array {
  for (const [k, v] of Object.entries(r)) if (typeof v === "string" && !plain.test(v)) throw new Error(`record request: ${k} holds characters it cannot`);
  const json = `{"kind":${JSON.stringify(r.kind)},"chain":${JSON.stringify(r.chain)},"server":${JSON.stringify(r.server)},"signer":${JSON.stringify(r.signer)},` +
    (r.share ? `"share":${JSON.stringify(r.share)},` : "") + `"nonce":${JSON.stringify(r.nonce)},"expires":${Math.trunc(r.expires)}}`;
  return utf8.encode("medchain/record-request/v1\0" + json);
}

/** signRecordRequest is recordshare.Sign: a fresh request of kind ("record",
 * or "open" a share) to the serving account server, valid five minutes. */
export function signRecordRequest(seed: Uint8Array, kind: string, chain: string, server: string, share = "",
  now = Math.floor(Date.now() / 1000), nonce = hex(crypto.getRandomValues(new Uint8Array(16)))): SignedRecordRequest {
  const request: RecordRequest = { kind, chain, server, signer: address(ed25519.getPublicKey(seed)), ...(share ? { share } : {}), nonce, expires: now + 300 };
  return { request, signature: base64(ed25519.sign(recordRequestBytes(request), seed)) };
}
