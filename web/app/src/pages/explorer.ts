// The auditor's explorer: pick an audit entry, fetch its inclusion proof and
// check it here (see ../audit.ts for what is checked and what is trusted).
import { Node, type AuditInclusion, type Commitment } from "../api";
import { appHash, verifyConsistency, verifyInclusion, type Check } from "../audit";
import { fromBase64, fromHex, hex } from "../canonical";
import { describeHeader, forgetAnchor, pinnedAnchor, verifyHeaderAt, type ServedHeader } from "../lightclient";
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

/** forgeSignature flips one bit of the first validator signature in the
 * served header: the "try a forged signature" button. */
function forgeSignature(sh: ServedHeader): ServedHeader {
  const sigs = sh.signed_header.commit.signatures.map((s) => ({ ...s }));
  const i = sigs.findIndex((s) => s.signature);
  if (i >= 0) {
    const b = fromBase64(sigs[i].signature!);
    b[7] ^= 1;
    sigs[i].signature = btoa(String.fromCharCode(...b));
  }
  return { ...sh, signed_header: { ...sh.signed_header, commit: { ...sh.signed_header.commit, signatures: sigs } } };
}

async function showAnchor(node: Node) {
  const el = $("trust-anchor");
  try {
    const a = await pinnedAnchor(node);
    el.textContent = `Trusted here: chain ${a.chain_id}, validator set ${a.validators_hash} (pinned from block ${a.from_height} on ${a.pinned_at}).`;
  } catch (e) {
    el.textContent = `No trust anchor pinned: ${(e as Error).message}`;
  }
}

async function check(node: Node, forged: false | "proof" | "signature") {
  const out = $("verify-out");
  const msg = $("verify-msg");
  const idx = ($("verify-index") as HTMLInputElement).value.trim();
  try {
    // Prove against the commitment one block back: the header that signs
    // it (the next one) exists already.
    const status = await node.status();
    const at = Math.max(1, status.height - 1);
    let inc = await node.auditInclusion(idx, at);
    if (forged === "proof") inc = tamper(inc);
    const checks = verifyInclusion(inc);
    // The header for the next height carries this app hash (CometBFT signs a
    // block's app hash in the next header), and the validators the browser
    // trusts signed that header (../lightclient.ts).
    try {
      const hc = await verifyHeaderAt(node, inc.height + 1, forged === "signature" ? forgeSignature : undefined);
      checks.push({ what: `header ${hc.height} is signed by more than two thirds of the trusted validators`, ok: true, detail: describeHeader(hc) });
      checks.push({ what: `header ${hc.height} carries the app hash`, ok: hc.appHash === inc.commitment.app_hash, detail: hc.appHash || "no app hash in header" });
    } catch (e) {
      checks.push({ what: `header ${inc.height + 1} is signed by the trusted validators`, ok: false, detail: (e as Error).message });
    }
    showAnchor(node);
    out.replaceChildren(...checks.map((c) => h("li", { class: c.ok ? "ok" : "bad" }, `${c.ok ? "✓" : "✗"} ${c.what}: `, h("code", {}, c.detail))));
    const ok = checks.every((c) => c.ok);
    say(msg, ok ? `Entry ${idx} (${inc.entry.type}, height ${inc.entry.height}) is in the log the validators committed to (their signatures checked here).` :
      `Entry ${idx}: verification FAILED${forged ? ` (forged ${forged}, as intended)` : ""}.`, ok);
    msg.dataset.result = ok ? "verified" : "failed";
  } catch (e) {
    say(msg, (e as Error).message, false);
    msg.dataset.result = "error";
  }
}

/** commitmentChecks checks a commitment's parts against its app hash and
 * that app hash against the next header, signed by the trusted validators. */
async function commitmentChecks(node: Node, c: Commitment): Promise<Check[]> {
  const checks: Check[] = [];
  const got = hex(appHash(fromHex(c.state_root), BigInt(c.audit_size), fromHex(c.audit_root)));
  checks.push({ what: `commitment ${c.height}: state root and log root give the app hash`, ok: got === c.app_hash, detail: got });
  try {
    const hc = await verifyHeaderAt(node, c.height + 1);
    checks.push({ what: `header ${hc.height} is signed by more than two thirds of the trusted validators and carries that app hash`, ok: hc.appHash === c.app_hash, detail: describeHeader(hc) });
  } catch (e) {
    checks.push({ what: `header ${c.height + 1} is signed by the trusted validators`, ok: false, detail: (e as Error).message });
  }
  return checks;
}

/** checkConsistency: the log committed at one height is a prefix of the log
 * committed at a later one, both commitments signed. */
async function checkConsistency(node: Node, forged: boolean) {
  const out = $("consistency-out"), msg = $("consistency-msg");
  const from = Number(($("consistency-from") as HTMLInputElement).value), to = Number(($("consistency-to") as HTMLInputElement).value);
  try {
    const p = await node.auditConsistency(from, to);
    const proof = p.proof.map(fromHex);
    // The forged proof flips a bit of its first hash (or, for a proof from
    // the empty log, which has none, of the earlier log's root).
    if (forged && proof.length) proof[0][0] ^= 1;
    else if (forged) p.from.audit_root = (parseInt(p.from.audit_root[0], 16) ^ 1).toString(16) + p.from.audit_root.slice(1);
    const checks: Check[] = [];
    try {
      verifyConsistency(BigInt(p.from.audit_size), BigInt(p.to.audit_size), proof, fromHex(p.from.audit_root), fromHex(p.to.audit_root));
      checks.push({ what: `the log of ${p.from.audit_size} entries (height ${p.from.height}) is a prefix of the log of ${p.to.audit_size} (height ${p.to.height})`, ok: true, detail: `${p.proof.length} proof hashes` });
    } catch (e) {
      checks.push({ what: "consistency proof", ok: false, detail: (e as Error).message });
    }
    checks.push(...(await commitmentChecks(node, p.from)), ...(await commitmentChecks(node, p.to)));
    out.replaceChildren(...checks.map((c) => h("li", { class: c.ok ? "ok" : "bad" }, `${c.ok ? "✓" : "✗"} ${c.what}: `, h("code", {}, c.detail))));
    const ok = checks.every((c) => c.ok);
    say(msg, ok ? `The log at height ${p.to.height} extends the log at height ${p.from.height}: nothing was removed or rewritten.` :
      `Consistency ${from} → ${to}: verification FAILED${forged ? " (forged proof, as intended)" : ""}.`, ok);
    msg.dataset.result = ok ? "verified" : "failed";
  } catch (e) {
    say(msg, (e as Error).message, false);
    msg.dataset.result = "error";
  }
}

export function wireExplorer(node: Node) {
  $("consistency-form").addEventListener("submit", (e) => {
    e.preventDefault();
    checkConsistency(node, false);
  });
  $("consistency-forged").addEventListener("click", () => checkConsistency(node, true));
  $("verify-form").addEventListener("submit", (e) => {
    e.preventDefault();
    check(node, false);
  });
  $("verify-forged").addEventListener("click", () => check(node, "proof"));
  $("verify-forged-sig").addEventListener("click", () => check(node, "signature"));
  $("trust-forget").addEventListener("click", () => {
    forgetAnchor();
    showAnchor(node);
  });
}
