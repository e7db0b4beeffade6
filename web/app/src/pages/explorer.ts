// The auditor's explorer: pick an audit entry, fetch its inclusion proof and
// check it here (see ../audit.ts for what is checked and what is trusted).
import { Node, type AuditInclusion } from "../api";
import { verifyInclusion } from "../audit";
import { fromBase64 } from "../canonical";
import { $, h, say } from "../ui";

/** tamper flips one bit of the first proof hash (or of the entry): the
 * "try a forged proof" button, so an auditor can see a check fail. */
function tamper(inc: AuditInclusion): AuditInclusion {
  if (inc.proof.length) {
    const p = inc.proof[0];
    const flipped = (parseInt(p[0], 16) ^ 1).toString(16) + p.slice(1);
    return { ...inc, proof: [flipped, ...inc.proof.slice(1)] };
  }
  const raw = fromBase64(inc.raw);
  raw[0] ^= 1;
  return { ...inc, raw: btoa(String.fromCharCode(...raw)) };
}

async function check(node: Node, forged: boolean) {
  const out = $("verify-out");
  const msg = $("verify-msg");
  const idx = ($("verify-index") as HTMLInputElement).value.trim();
  try {
    // Prove against the commitment one block back: the header that signs
    // it (the next one) exists already.
    const status = await node.status();
    const at = Math.max(1, status.height - 1);
    let inc = await node.auditInclusion(idx, at);
    if (forged) inc = tamper(inc);
    const checks = verifyInclusion(inc);
    // The header for the next height carries this app hash (CometBFT signs a
    // block's app hash in the next header).
    try {
      const hdr = await node.header(inc.height + 1);
      const got = (hdr.signed_header?.header?.app_hash ?? "").toLowerCase();
      checks.push({ what: `header ${inc.height + 1} carries the app hash (its validator signatures are trusted to the node here)`, ok: got === inc.commitment.app_hash, detail: got || "no app hash in header" });
    } catch (e) {
      checks.push({ what: `header ${inc.height + 1}`, ok: false, detail: `not available yet: ${(e as Error).message}` });
    }
    out.replaceChildren(...checks.map((c) => h("li", { class: c.ok ? "ok" : "bad" }, `${c.ok ? "✓" : "✗"} ${c.what}: `, h("code", {}, c.detail))));
    const ok = checks.every((c) => c.ok);
    say(msg, ok ? `Entry ${idx} (${inc.entry.type}, height ${inc.entry.height}) is in the log the validators committed to.` :
      `Entry ${idx}: verification FAILED${forged ? " (forged proof, as intended)" : ""}.`, ok);
    msg.dataset.result = ok ? "verified" : "failed";
  } catch (e) {
    say(msg, (e as Error).message, false);
    msg.dataset.result = "error";
  }
}

export function wireExplorer(node: Node) {
  $("verify-form").addEventListener("submit", (e) => {
    e.preventDefault();
    check(node, false);
  });
  $("verify-forged").addEventListener("click", () => check(node, true));
}
