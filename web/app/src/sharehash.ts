// A record share's commitment, as the ledger records it (share_record):
// Go recordshare.Share.Hash — SHA-256 over length-prefixed fields: the
// domain, the serving account, the share's random id, the recipient, the
// expiry (big-endian 64-bit), the SHA-256 of the ciphertext, the salt and
// the passcode verifier. Held to the Go code by web/patient_test.go.
import { sha256 } from "@noble/hashes/sha2.js";
import { hex } from "./canonical";

const utf8 = new TextEncoder();

export interface ShareParts { id: string; recipient: string; expiry: number; ciphertext: Uint8Array; salt?: Uint8Array; verifier?: Uint8Array }

export function shareHash(server: string, s: ShareParts): string {
  const h = sha256.create();
  const field = (b: Uint8Array) => {
    const n = new Uint8Array(4);
    new DataView(n.buffer).setUint32(0, b.length);
    h.update(n);
    h.update(b);
  };
  const exp = new Uint8Array(8);
  new DataView(exp.buffer).setBigUint64(0, BigInt(s.expiry));
  field(utf8.encode("medchain/record-share/v1"));
  field(utf8.encode(server));
  field(utf8.encode(s.id));
  field(utf8.encode(s.recipient));
  field(exp);
  field(sha256(s.ciphertext));
  field(s.salt ?? new Uint8Array());
  field(s.verifier ?? new Uint8Array());
  return hex(h.digest());
}

/** passcodeVerifier is recordshare's verifier: argon2id(passcode, salt),
 * 2 passes over 19 MiB, one lane, 32 bytes — what the serving node keeps
 * to check a link's passcode. */
export async function passcodeVerifier(passcode: string, salt: Uint8Array): Promise<Uint8Array> {
  const { argon2idAsync } = await import("@noble/hashes/argon2.js");
  return argon2idAsync(utf8.encode(passcode), salt, { t: 2, m: 19 * 1024, p: 1, dkLen: 32 });
}

/** A share link (recordshare.Link): where the share is, its hash, its
 * secret id, the one-time age key and the expiry. */
export interface ShareLink { url: string; share: string; id: string; key: string; exp: number; flag: "P" }

/** linkText is Link.String: the prefix and base64url of the link's JSON. */
export function linkText(l: ShareLink): string {
  const json = JSON.stringify({ url: l.url, share: l.share, id: l.id, key: l.key, exp: l.exp, flag: l.flag });
  let bin = "";
  for (const b of utf8.encode(json)) bin += String.fromCharCode(b);
  return "medchain-share:/" + btoa(bin).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
}
