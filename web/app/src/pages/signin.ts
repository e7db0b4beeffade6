// Sign-in: create, import or unlock a key kept in this browser. On a dev
// network the node also offers its demo keys (plaintext by design, marked
// DEV ONLY); a real network never serves keys.
import * as ks from "../keystore";
import { setKey, signedIn } from "../session";
import { $, h, say, short } from "../ui";

async function devKeys(): Promise<{ name: string; address: string; text: string }[]> {
  const r = await fetch("/dev-keys.json");
  if (!r.ok) return [];
  const list = (await r.json()) as Record<string, unknown>[];
  return list.map((k) => ({ name: String(k.name), address: String(k.address), text: JSON.stringify(k) }));
}

export async function renderSignIn() {
  const msg = $("signin-msg");
  const kept = $("kept-keys");
  kept.replaceChildren();
  for (const k of ks.listKeys()) {
    const pass = h("input", { type: "password", "aria-label": `passphrase for ${k.name}`, autocomplete: "current-password", class: "pass" });
    const form = h("form", { class: "row", onsubmit: async (e: Event) => {
      e.preventDefault();
      try {
        setKey(await ks.unlock(k.address, pass.value));
        say(msg, `Signed in as ${k.name} (${short(k.address)}).`, true);
      } catch (err) {
        say(msg, (err as Error).message, false);
      }
    } }, h("span", {}, `${k.name} `, h("code", {}, short(k.address)), k.dev ? h("span", { class: "dev" }, " DEV ONLY") : ""), pass, h("button", {}, "Unlock"),
      h("button", { type: "button", class: "secondary", onclick: () => { ks.forget(k.address); renderSignIn(); } }, "Forget"));
    kept.append(form);
  }
  if (!kept.childElementCount) kept.append(h("p", { class: "note" }, "No key is kept in this browser yet."));

  const dev = $("dev-keys");
  dev.replaceChildren();
  const list = await devKeys();
  if (list.length) {
    dev.append(h("p", { class: "dev" }, "DEV ONLY — this is a development network; its demo keys are public. Never use them for real data."));
    for (const k of list) {
      dev.append(h("button", { type: "button", class: "secondary devkey", "data-name": k.name, onclick: () => {
        try {
          setKey(ks.parseKeyFile(k.text, true));
          say(msg, `Signed in as ${k.name} (${short(k.address)}) with a DEV ONLY key.`, true);
        } catch (err) {
          say(msg, (err as Error).message, false);
        }
      } }, k.name));
    }
  }
}

export function wireSignIn() {
  const msg = $("signin-msg");
  $("import-form").addEventListener("submit", async (e) => {
    e.preventDefault();
    const file = ($("import-file") as HTMLInputElement).files?.[0];
    const text = file ? await file.text() : ($("import-text") as HTMLTextAreaElement).value;
    const pass = ($("import-pass") as HTMLInputElement).value;
    const filePass = ($("import-file-pass") as HTMLInputElement).value;
    try {
      if (ks.isEncryptedKeyFile(text)) say(msg, "Opening the encrypted key file (scrypt: a few seconds)…", true);
      const k = await ks.readKeyFile(text, filePass);
      await ks.save(k, pass);
      setKey(k);
      say(msg, `Imported and signed in as ${k.name} (${short(k.address)}); the key is kept here encrypted under your passphrase.`, true);
      renderSignIn();
    } catch (err) {
      say(msg, (err as Error).message, false);
    }
  });
  $("create-form").addEventListener("submit", async (e) => {
    e.preventDefault();
    const name = ($("create-name") as HTMLInputElement).value.trim();
    const pass = ($("create-pass") as HTMLInputElement).value;
    try {
      const k = ks.generate(name || "me");
      await ks.save(k, pass);
      setKey(k);
      say(msg, `Created ${k.name} (${k.address}). Register it before use (a patient registers itself on first consent).`, true);
      renderSignIn();
    } catch (err) {
      say(msg, (err as Error).message, false);
    }
  });
  $("signout").addEventListener("click", () => {
    setKey(null);
    say(msg, "Signed out.", true);
  });
  void signedIn;
}
