// My record and its shares. The institution's node answers a record
// request signed here with the patient's originals encrypted to the
// wallet's key (age, X25519); the page decrypts them in memory and offers
// them as files saved locally. A share encrypts that copy here — to a
// clinician's registered key, or to a one-time key that goes only into a
// link, with a passcode whose argon2id check the node keeps — commits to it
// on the ledger (share_record, signed here) and uploads only the
// ciphertext. The decrypted record, the one-time key and the passcode are
// never sent anywhere.
import { x25519 } from "@noble/curves/ed25519.js";
import { Node, type Org, type RecordCopy, type ShareView } from "../api";
import { base64, fromBase64, hex } from "../canonical";
import type { UnlockedKey } from "../keystore";
import { signRecordRequest } from "../patientreq";
import { linkText, passcodeVerifier, shareHash } from "../sharehash";
import { send } from "../txflow";
import { $, fill, failRow, h, say, short } from "../ui";
import { cell } from "./patient";
import { catalogue, haveIdentity, myWallets, registered, walletAtOrg } from "./patient-wallets";

/** The decrypted copy, in this page's memory only. */
let copy: { plain: Uint8Array; org: string; server: string } | null = null;

async function age() {
  const [{ Decrypter, Encrypter }, { bech32 }] = await Promise.all([import("age-encryption"), import("@scure/base")]);
  return {
    decrypt: async (ct: Uint8Array, xpriv: Uint8Array) => {
      const d = new Decrypter();
      d.addIdentity(bech32.encode("age-secret-key-", bech32.toWords(xpriv), false).toUpperCase());
      return d.decrypt(ct);
    },
    identity: (xpriv: Uint8Array) => bech32.encode("age-secret-key-", bech32.toWords(xpriv), false).toUpperCase(),
    encrypt: async (plain: Uint8Array, xpub: Uint8Array) => {
      const e = new Encrypter();
      e.addRecipient(bech32.encode("age", bech32.toWords(xpub), false));
      return e.encrypt(plain);
    },
  };
}

function showCopy() {
  const box = $("my-record");
  if (!copy) return box.replaceChildren();
  let c: { org?: string; made?: number; originals?: { dataset: string; version: number; media_type: string; data: string }[] };
  try {
    c = JSON.parse(new TextDecoder().decode(copy.plain));
  } catch {
    return box.replaceChildren(h("p", { class: "bad" }, "The copy does not parse."));
  }
  const list = h("ul", {}, ...(c.originals ?? []).map((o) => {
    const data = fromBase64(o.data);
    const ext = o.media_type.includes("csv") ? "csv" : "json";
    const url = URL.createObjectURL(new Blob([data as BlobPart], { type: o.media_type }));
    return h("li", {}, `${o.dataset} version ${o.version} (${o.media_type}, ${data.length} bytes) `,
      h("a", { href: url, download: `${o.dataset}-v${o.version}.${ext}` }, "save to this device"));
  }));
  box.replaceChildren(h("p", { class: "ok", id: "record-summary" }, `Your record from ${c.org}: ${(c.originals ?? []).length} original record${(c.originals ?? []).length === 1 ? "" : "s"}, opened in this browser.`), list);
}

export async function renderRecord(node: Node, orgs: Org[]) {
  showCopy();
  const tb = $("my-shares");
  if (!haveIdentity()) return fill(tb, [], 5, "sign in to see your shares");
  try {
    const ws = await registered(node, myWallets(orgs.map((o) => o.id)));
    const lists = await Promise.all(ws.map((w) => node.shares(w.key.address).then((ss) => ss.map((s) => ({ s, k: w.key })))));
    fill(tb, lists.flat().map(({ s, k }) => shareRow(node, s, k)), 5, "You have shared nothing.");
  } catch (e) {
    failRow(tb, 5, e);
  }
}

const stateWords: Record<string, string> = {
  active: "waiting to be opened", opened: "opened", revoked: "revoked by you", locked: "locked (too many wrong passcodes)", expired: "expired unopened",
};

function shareRow(node: Node, s: ShareView, k: UnlockedKey) {
  const act = cell("", "");
  if (s.state === "active")
    act.append(h("button", { type: "button", class: "secondary", "data-revoke-share": s.hash, onclick: async () => {
      try {
        const r = await send(node, k, "revoke_share", { hash: s.hash });
        say($("record-msg"), `Share ${s.hash.slice(0, 8)}… revoked at height ${r.height}: it can no longer be opened.`, true);
        renderRecord(node, (await catalogue(node)).orgs);
      } catch (e) {
        say($("record-msg"), `Not revoked: ${(e as Error).message}`, false);
      }
    } }, "Revoke"));
  const when = s.closed_time ? ` on ${new Date(s.closed_time * 1000).toLocaleString()}` : "";
  return [cell("share", short(s.hash)), cell("to", s.recipient === "link" ? "a link with a passcode" : short(s.recipient)),
    cell("expires", new Date(s.expiry * 1000).toLocaleString()), cell("state", (stateWords[s.state] ?? s.state) + when, s.state === "opened" ? "ok" : ""), act];
}

export function wireRecord(node: Node) {
  const msg = $("record-msg");
  $("record-get").addEventListener("click", async () => {
    if (!haveIdentity()) return say(msg, "Sign in first.", false);
    try {
      const [status, srv] = await Promise.all([node.status(), node.recordServer()]);
      const k = walletAtOrg(srv.org)!;
      say(msg, "Asking your hospital for your record (a request signed here)…", true);
      const ans = await node.post<RecordCopy>("recordRequest", signRecordRequest(k.seed, "record", status.chain_id, srv.server));
      const plain = await (await age()).decrypt(fromBase64(ans.ciphertext), k.x25519);
      copy = { plain, org: srv.org, server: srv.server };
      say(msg, "Your record was decrypted in this browser; nothing of it was sent anywhere.", true);
      showCopy();
    } catch (e) {
      say(msg, `No record: ${(e as Error).message}`, false);
    }
  });
  const how = $("share-how") as HTMLSelectElement;
  how.addEventListener("change", () => {
    ($("share-to").parentElement as HTMLElement).hidden = how.value !== "account";
    ($("share-passcode").parentElement as HTMLElement).hidden = how.value !== "link";
  });
  $("share-form").addEventListener("submit", async (e) => {
    e.preventDefault();
    if (!copy) return say(msg, "Get a copy of your record first: the share is made from it, here.", false);
    const hours = Number(($("share-hours") as HTMLInputElement).value);
    const expiry = Math.floor(Date.now() / 1000) + hours * 3600;
    const linkBox = $("share-link") as HTMLTextAreaElement;
    linkBox.value = "";
    (linkBox.parentElement as HTMLElement).hidden = true;
    try {
      const a = await age();
      const k = walletAtOrg(copy.org)!;
      const id = hex(crypto.getRandomValues(new Uint8Array(16)));
      let share: { id: string; recipient: string; expiry: number; ciphertext: Uint8Array; salt?: Uint8Array; verifier?: Uint8Array };
      let oneTime = "";
      if (how.value === "link") {
        const passcode = ($("share-passcode") as HTMLInputElement).value;
        if (passcode.length < 6) return say(msg, "The passcode needs at least 6 characters.", false);
        say(msg, "Encrypting to a one-time key and deriving the passcode check (a few seconds)…", true);
        const xpriv = x25519.utils.randomSecretKey();
        oneTime = a.identity(xpriv);
        const salt = crypto.getRandomValues(new Uint8Array(16));
        share = { id, recipient: "link", expiry, ciphertext: await a.encrypt(copy.plain, x25519.getPublicKey(xpriv)), salt, verifier: await passcodeVerifier(passcode, salt) };
        ($("share-passcode") as HTMLInputElement).value = "";
      } else {
        const to = ($("share-to") as HTMLInputElement).value.trim();
        if (!/^[0-9a-f]{40}$/.test(to)) return say(msg, "The clinician's account address is 40 hex digits.", false);
        const acct = await node.get<{ enc_key: string; kind: string }>("account", { address: to });
        share = { id, recipient: to, expiry, ciphertext: await a.encrypt(copy.plain, fromBase64(acct.enc_key)) };
      }
      const hash = shareHash(copy.server, share);
      const r = await send(node, k, "share_record", { hash, recipient: share.recipient, server: copy.server, expiry });
      await node.post("shareUpload", { id, recipient: share.recipient, expiry, ciphertext: base64(share.ciphertext),
        ...(share.salt ? { salt: base64(share.salt), verifier: base64(share.verifier!) } : {}) });
      if (oneTime) {
        linkBox.value = linkText({ url: location.origin, share: hash, id, key: oneTime, exp: expiry, flag: "P" });
        (linkBox.parentElement as HTMLElement).hidden = false;
        say(msg, `Link share ${hash.slice(0, 8)}… recorded at height ${r.height}. Give the link and the passcode by different ways; it opens once, until it expires.`, true);
      } else say(msg, `Shared with ${short(share.recipient)} (share ${hash.slice(0, 8)}…, recorded at height ${r.height}); only their key opens it, once, until it expires.`, true);
      renderRecord(node, (await catalogue(node)).orgs);
    } catch (err) {
      say(msg, `Not shared: ${(err as Error).message}`, false);
    }
  });
}
