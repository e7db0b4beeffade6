// Signing and sending a transaction from the page, with the account's next
// nonce read from the ledger.
import { ed25519, x25519 } from "@noble/curves/ed25519.js";
import { Node } from "./api";
import type { UnlockedKey } from "./keystore";
import { signTx } from "./tx";

/** send signs msg with k and submits it. A key with no account yet registers
 * itself first as a patient when registerPatient is set (patients
 * self-register; every other kind is registered by its institution). */
export async function send(node: Node, k: UnlockedKey, type: string, msg: unknown, registerPatient = true) {
  const status = await node.status();
  let acct = await node.account(k.address);
  if (!acct && !registerPatient) throw new Error(`no account ${k.address} on this network: your institution registers it`);
  if (!acct) {
    const reg = signTx(k.seed, status.chain_id, 0, "register_account", {
      pub_key: ed25519.getPublicKey(k.seed), enc_key: x25519.getPublicKey(k.x25519), kind: "patient",
    });
    const r = await node.submit(reg.bytes);
    if (r.result && r.result.code !== 0) throw new Error(`registering your account: ${r.result.log}`);
    acct = await node.account(k.address);
    if (!acct) throw new Error("your account was not registered yet; try again in a moment");
  }
  const tx = signTx(k.seed, status.chain_id, acct.nonce, type, msg);
  const r = await node.submit(tx.bytes);
  if (!r.result) throw new Error(`sent (${tx.hash}), not yet in a block`);
  if (r.result.code !== 0) throw new Error(r.result.log ?? `refused with code ${r.result.code}`);
  return { hash: tx.hash, height: r.result.height, result: r.result };
}

