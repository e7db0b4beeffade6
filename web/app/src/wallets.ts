// A patient's wallets: one secret, a separate wallet at each institution
// (docs/patients.md, "One secret, a separate wallet at each institution").
// The browser derives exactly the keys `medchain patient keys` derives in Go
// (keys.PatientWallet), so a wallet exported by the CLI and one derived
// here are the same account; web/patient_test.go holds this module to
// keys/testdata/patient-wallets.json. The secret stays in this page's
// memory: nothing here sends anything anywhere.
import { hkdf } from "@noble/hashes/hkdf.js";
import { sha256 } from "@noble/hashes/sha2.js";
import { fromBase64 } from "./canonical";
import { fromSeed, KeyError, type UnlockedKey } from "./keystore";

const walletSalt = new TextEncoder().encode("medchain/patient-wallet/v1");
const idSyntax = /^[a-z0-9][a-z0-9._-]{1,63}$/; // vocab.IsID

/** walletAt derives the patient's wallet at institution org from secret. */
export function walletAt(secret: Uint8Array, org: string, name = `${org} wallet`): UnlockedKey {
  if (secret.length !== 32) throw new KeyError(`patient secret: want 32 bytes, got ${secret.length}`);
  if (!idSyntax.test(org)) throw new KeyError(`institution "${org}" is not an organisation id`);
  const info = (label: string) => new TextEncoder().encode(`${label}\0${org}`);
  const seed = hkdf(sha256, secret, walletSalt, info("ed25519-seed"), 32);
  const xpriv = hkdf(sha256, secret, walletSalt, info("x25519-key"), 32);
  return fromSeed(name, seed, xpriv);
}

/** readSecretFile reads a patient secret file (keys.SavePatientSecret):
 * plaintext in a dev keystore, otherwise age-encrypted under the keystore
 * passphrase, which opens it here. */
export async function readSecretFile(text: string, filePass: string): Promise<{ name: string; secret: Uint8Array }> {
  let f: any;
  try {
    f = JSON.parse(text);
  } catch (e) {
    throw new KeyError(`not a patient secret file: ${(e as Error).message}`);
  }
  if (f?.kind !== "medchain-patient-secret") throw new KeyError("not a patient secret file (kind is not medchain-patient-secret)");
  let b64: unknown = f.patient_secret;
  if (typeof f.age_scrypt === "string") {
    if (!filePass) throw new KeyError("this secret file is encrypted: give the passphrase it was saved with");
    try {
      const { Decrypter, armor } = await import("age-encryption");
      const d = new Decrypter();
      d.addPassphrase(filePass);
      b64 = JSON.parse(await d.decrypt(armor.decode(f.age_scrypt), "text")).patient_secret;
    } catch (e) {
      throw new KeyError(/identity|decrypt|auth|tag/i.test((e as Error).message) ? "wrong passphrase for the secret file" : `age_scrypt: ${(e as Error).message}`);
    }
  }
  if (typeof b64 !== "string") throw new KeyError("patient secret file: no patient_secret");
  const secret = fromBase64(b64);
  if (secret.length !== 32) throw new KeyError(`patient_secret: want 32 bytes, got ${secret.length}`);
  return { name: String(f.name ?? "patient"), secret };
}
