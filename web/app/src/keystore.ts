// Keys stay in the browser. A key is kept in localStorage only encrypted
// under a passphrase (scrypt → AES-256-GCM); unlocked, its seed lives in
// this page's memory and is used to sign here. Nothing in this module sends
// anything anywhere.
import { ed25519, x25519 } from "@noble/curves/ed25519.js";
import { scrypt } from "@noble/hashes/scrypt.js";
import { base64, fromBase64 } from "./canonical";
import { address } from "./tx";

export interface UnlockedKey {
  name: string;
  address: string;
  seed: Uint8Array; // ed25519 seed: signs transactions
  x25519: Uint8Array; // X25519 private key: opens results encrypted to this account
  dev: boolean; // a dev network's published demo key: never for real data
}

interface StoredKey {
  name: string;
  address: string;
  dev: boolean;
  kdf: { alg: "scrypt"; N: number; r: number; p: number; salt: string };
  iv: string;
  ciphertext: string; // AES-GCM of JSON {seed, x25519} (base64 fields)
}

const storageKey = "medchain.keys.v1";
// scrypt N=2^15, r=8, p=1: ~0.1–0.3 s in a browser, the interactive cost
// the age format uses as its floor.
const KDF = { N: 1 << 15, r: 8, p: 1 };

export class KeyError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "KeyError";
  }
}

function stored(): StoredKey[] {
  try {
    return JSON.parse(localStorage.getItem(storageKey) ?? "[]");
  } catch {
    return [];
  }
}

/** listKeys names the keys kept in this browser (never their secrets). */
export function listKeys(): { name: string; address: string; dev: boolean }[] {
  return stored().map(({ name, address, dev }) => ({ name, address, dev }));
}

async function aesKey(pass: string, salt: Uint8Array, kdf = KDF): Promise<CryptoKey> {
  if (pass.length < 8) throw new KeyError("the passphrase must have at least 8 characters");
  const raw = scrypt(new TextEncoder().encode(pass), salt, { N: kdf.N, r: kdf.r, p: kdf.p, dkLen: 32 });
  return crypto.subtle.importKey("raw", raw as BufferSource, "AES-GCM", false, ["encrypt", "decrypt"]);
}

/** fromSeed makes the key a CLI key file describes. */
export function fromSeed(name: string, seed: Uint8Array, xpriv: Uint8Array, dev = false): UnlockedKey {
  if (seed.length !== 32) throw new KeyError("ed25519_seed must be 32 bytes");
  if (xpriv.length !== 32) throw new KeyError("x25519_private must be 32 bytes");
  return { name, address: address(ed25519.getPublicKey(seed)), seed, x25519: xpriv, dev };
}

/** generate makes a new key from the browser's random source. */
export function generate(name: string): UnlockedKey {
  return fromSeed(name, crypto.getRandomValues(new Uint8Array(32)), x25519.utils.randomSecretKey());
}

/** parseKeyFile reads a plaintext key file written by `medchain key new`
 * in a dev keystore (keys.Key.Save). */
export function parseKeyFile(text: string, dev = false): UnlockedKey {
  const f = keyFileJSON(text);
  if (typeof f.age_scrypt === "string") throw new KeyError("this key file is encrypted: give its passphrase");
  return fromFile(f, f.ed25519_seed, f.x25519_private, dev);
}

/** isEncryptedKeyFile says whether a key file needs its passphrase. */
export function isEncryptedKeyFile(text: string): boolean {
  try {
    return typeof JSON.parse(text)?.age_scrypt === "string";
  } catch {
    return false;
  }
}

/** readKeyFile reads any key file `medchain key new` writes: plaintext, or
 * (outside a dev keystore) its secrets encrypted with age to the keystore
 * passphrase (scrypt recipient, ASCII armor; package keys). The passphrase
 * opens the file here; neither it nor the key goes anywhere. */
export async function readKeyFile(text: string, filePass: string): Promise<UnlockedKey> {
  const f = keyFileJSON(text);
  if (typeof f.age_scrypt !== "string") return parseKeyFile(text);
  if (f.ed25519_seed || f.x25519_private) throw new KeyError("the key file holds both an encrypted and a plaintext key");
  if (!filePass) throw new KeyError("this key file is encrypted: give the passphrase it was saved with");
  let plain: string;
  try {
    // age is loaded on demand: only an encrypted key file needs it.
    const { Decrypter, armor } = await import("age-encryption");
    const d = new Decrypter();
    d.addPassphrase(filePass);
    plain = await d.decrypt(armor.decode(f.age_scrypt), "text");
  } catch (e) {
    const m = (e as Error).message;
    // age reports a passphrase that opens no stanza as "no identity matched".
    throw new KeyError(/identity|decrypt|auth|tag/i.test(m) ? "wrong passphrase for the key file (or the file was modified)" : `age_scrypt: ${m}`);
  }
  let sec: any;
  try {
    sec = JSON.parse(plain);
  } catch {
    throw new KeyError("age_scrypt: the decrypted key does not parse");
  }
  return fromFile(f, sec.ed25519_seed, sec.x25519_private, false);
}

function keyFileJSON(text: string): any {
  let f: any;
  try {
    f = JSON.parse(text);
  } catch (e) {
    throw new KeyError(`not a medchain key file: ${(e as Error).message}`);
  }
  if (typeof f?.name !== "string") throw new KeyError("not a medchain key file: no name");
  return f;
}

function fromFile(f: any, seed: unknown, xpriv: unknown, dev: boolean): UnlockedKey {
  if (typeof seed !== "string") throw new KeyError("not a medchain key file: no ed25519_seed");
  if (typeof xpriv !== "string") throw new KeyError("not a medchain key file: no x25519_private");
  const key = fromSeed(f.name, fromBase64(seed), fromBase64(xpriv), dev);
  if (f.address && f.address !== key.address) throw new KeyError(`key file says address ${f.address} but its key is ${key.address}`);
  if (f.ed25519_public && base64(ed25519.getPublicKey(key.seed)) !== f.ed25519_public) throw new KeyError("key file: ed25519_public is not the private key's");
  if (f.x25519_public && base64(x25519.getPublicKey(key.x25519)) !== f.x25519_public) throw new KeyError("key file: x25519_public is not the private key's");
  return key;
}

/** save keeps a key in this browser, encrypted under pass. */
export async function save(k: UnlockedKey, pass: string): Promise<void> {
  const salt = crypto.getRandomValues(new Uint8Array(16));
  const iv = crypto.getRandomValues(new Uint8Array(12));
  const plain = new TextEncoder().encode(JSON.stringify({ seed: base64(k.seed), x25519: base64(k.x25519) }));
  const ct = new Uint8Array(await crypto.subtle.encrypt({ name: "AES-GCM", iv, additionalData: new TextEncoder().encode(k.address) }, await aesKey(pass, salt), plain));
  const all = stored().filter((s) => s.address !== k.address);
  all.push({ name: k.name, address: k.address, dev: k.dev, kdf: { alg: "scrypt", ...KDF, salt: base64(salt) }, iv: base64(iv), ciphertext: base64(ct) });
  localStorage.setItem(storageKey, JSON.stringify(all));
}

/** unlock decrypts a kept key; a wrong passphrase is refused. */
export async function unlock(addr: string, pass: string): Promise<UnlockedKey> {
  const s = stored().find((k) => k.address === addr);
  if (!s) throw new KeyError(`no key for ${addr} in this browser`);
  let plain: ArrayBuffer;
  try {
    const key = await aesKey(pass, fromBase64(s.kdf.salt), s.kdf);
    plain = await crypto.subtle.decrypt({ name: "AES-GCM", iv: fromBase64(s.iv) as BufferSource, additionalData: new TextEncoder().encode(s.address) }, key, fromBase64(s.ciphertext) as BufferSource);
  } catch (e) {
    if (e instanceof KeyError) throw e;
    throw new KeyError("wrong passphrase");
  }
  const j = JSON.parse(new TextDecoder().decode(plain));
  const k = fromSeed(s.name, fromBase64(j.seed), fromBase64(j.x25519), s.dev);
  if (k.address !== s.address) throw new KeyError("stored key does not match its address");
  return k;
}

/** forget removes a kept key from this browser. */
export function forget(addr: string): void {
  localStorage.setItem(storageKey, JSON.stringify(stored().filter((s) => s.address !== addr)));
}
