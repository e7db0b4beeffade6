// Signing transactions in the browser. The private key never leaves this
// page: the bytes signed and sent are exactly those the Go client's
// ledger.SignTx writes (checked against ledger/testdata/vectors/tx.json by
// web/sign_test.go).
import { ed25519 } from "@noble/curves/ed25519.js";
import { sha256 } from "@noble/hashes/sha2.js";
import { base64, encodeMsg, goString, hex } from "./canonical";

const signDomain = "medchain/tx/v1";
const utf8 = new TextEncoder();

/** address is the account address of an ed25519 public key (vocab.Address). */
export function address(pub: Uint8Array): string {
  return hex(sha256(pub).slice(0, 20));
}

/** signBytes is ledger.SignBytes: domain, chain id and type bound into the signature. */
export function signBytes(chainID: string, type: string, payload: string): Uint8Array {
  const head = utf8.encode(`${signDomain}\0${chainID}\0${type}\0`);
  const body = utf8.encode(payload);
  const out = new Uint8Array(head.length + body.length);
  out.set(head);
  out.set(body, head.length);
  return out;
}

export type SignedTx = { bytes: string; hash: string };

/** signTx is ledger.SignTx: the canonical envelope of msg signed by seed. */
export function signTx(seed: Uint8Array, chainID: string, nonce: bigint | number, type: string, msg: unknown): SignedTx {
  const pub = ed25519.getPublicKey(seed);
  const payload =
    "{" +
    `"chain_id":${goString(chainID)},` +
    `"type":${goString(type)},` +
    `"signer":${goString(base64(pub))},` +
    `"nonce":${BigInt(nonce).toString()},` +
    `"msg":${encodeMsg(type, msg)}` +
    "}";
  const sig = ed25519.sign(signBytes(chainID, type, payload), seed);
  const bytes = `{"payload":${payload},"signature":${goString(base64(sig))}}`;
  return { bytes, hash: hex(sha256(utf8.encode(bytes))) };
}
