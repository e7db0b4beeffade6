// Which wallet the patient pages act with. A patient signed in with one key
// (a key file, or a dev network's demo key) uses it everywhere, as the CLI
// does with --from. A patient who opens their patient secret uses a
// separate wallet at each institution, derived here (wallets.ts); the
// secret is held in this module's memory only and forgotten on reload.
// Also here: the institutions a patient can have a wallet at (those that
// hold a dataset), and which of the wallets are registered on the ledger.
import type { UnlockedKey } from "../keystore";
import { signedIn } from "../session";
import { walletAt } from "../wallets";
import type { DatasetView, Node, Org } from "../api";

let secret: { name: string; secret: Uint8Array } | null = null;
// With a secret open, the pages act for one institution at a time: every
// request that names or is signed by a wallet goes for that institution's
// wallet only. Asking one node about all of them at once would tell it
// that they are one patient's (the CLI likewise sends a wallet's requests
// only to a node of its institution).
let focus: string | null = null;

export const focusOrg = () => focus;
export function setFocus(org: string) {
  focus = org;
}

export function openSecret(name: string, s: Uint8Array) {
  secret = { name, secret: s };
}

export const secretName = () => secret?.name;

/** walletAtOrg is the wallet the patient uses at institution org. */
export function walletAtOrg(org: string): UnlockedKey | null {
  if (secret) return walletAt(secret.secret, org, `${secret.name}.${org}`);
  return signedIn();
}

/** walletForDataset is the wallet of the institution that holds dataset. */
export function walletForDataset(dataset: string, datasets: DatasetView[]): UnlockedKey | null {
  const org = datasets.find((d) => d.id === dataset)?.org;
  if (secret) return org && org === focus ? walletAtOrg(org) : null;
  return signedIn();
}

/** myWallets lists the patient's wallets, with the institution each is
 * for (none: one key for every institution). */
export function myWallets(orgs: string[]): { org?: string; key: UnlockedKey }[] {
  if (secret) return orgs.filter((org) => org === focus).map((org) => ({ org, key: walletAtOrg(org)! }));
  const k = signedIn();
  return k ? [{ key: k }] : [];
}

export const haveIdentity = () => secret !== null || signedIn() !== null;

/** catalogue is what the patient pages name things with: the datasets,
 * and the institutions that hold them (where a patient has a wallet). */
export async function catalogue(node: Node) {
  const [datasets, all] = await Promise.all([node.datasets().catch(() => [] as DatasetView[]), node.orgs().catch(() => [] as Org[])]);
  const orgs = all.filter((o) => datasets.some((d) => d.org === o.id));
  return { datasets, orgs };
}

/** registered keeps the wallets that have an account on the ledger (a
 * wallet registers itself the first time it signs). */
export async function registered(node: Node, ws: { org?: string; key: UnlockedKey }[]) {
  const have = await Promise.all(ws.map((w) => node.account(w.key.address).catch(() => null)));
  return ws.filter((_, i) => have[i] !== null);
}
