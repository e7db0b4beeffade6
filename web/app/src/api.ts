// The node's /v1 API, typed. The shapes here are the ones the OpenAPI
// document (/v1/openapi.json) declares; web/api_types_test.go checks every
// field named here against it.
import { JSONNumber, parseExact } from "./json";
import { authorize } from "./reqsig";

export class APIError extends Error {
  constructor(public status: number, public code: string, message: string) {
    super(message);
    this.name = "APIError";
  }
}

export interface Commitment { height: number; state_root: string; audit_size: number; audit_root: string; app_hash: string }
export interface Status {
  chain_id: string; height: number; app_hash: string; block_time: string; catching_up: boolean;
  validators: number; peers: number; moniker: string; node_id: string; commitment?: Commitment;
}
export interface Org { id: string; name: string; kind: string; admins: string[] }
export interface Field { name: string; type: string; system?: string; code?: string; unit?: string }
export interface DatasetVersion { version: number; title: string; record_band: string; schema: Field[] }
export interface Policy {
  purposes: string[]; price: number; consent_model: string; min_cohort: number;
  analyses: { builtins?: string[]; code_hashes?: string[] }; attestation: string;
}
export interface DatasetView { id: string; org: string; latest?: DatasetVersion; policy?: Policy }
export interface Scope { kind: string; id?: string }
export interface Consent {
  patient: string; seq: number; scope: Scope; provision: string; purposes: string[];
  created_height: number; revoked_height?: number;
}
export interface AuditEntry { height: number; type: string; signer: string; code: number; log?: string; changes?: { key: string }[] }
export interface TxResult { code: number; log?: string }

/** A node at base ("" = the page's own origin). */
export class Node {
  constructor(private base = "") {}

  async get<T>(path: string, signer?: { seed: Uint8Array; chainID: string }): Promise<T> {
    const url = `${this.base}/v1/${path}`;
    const headers: Record<string, string> = { Accept: "application/json" };
    if (signer) headers.Authorization = authorize(signer.seed, signer.chainID, "GET", url);
    const r = await fetch(url, { headers });
    const text = await r.text();
    let body: any;
    try {
      body = JSON.parse(text);
    } catch {
      throw new APIError(r.status, "bad_response", `${path}: not JSON (${r.status})`);
    }
    if (!r.ok) throw new APIError(r.status, body?.error?.code ?? String(r.status), body?.error?.message ?? r.statusText);
    return body as T;
  }

  /** getExact reads a response keeping 64-bit numbers exact (balances, nonces). */
  async getExact(path: string): Promise<unknown> {
    const r = await fetch(`${this.base}/v1/${path}`);
    const text = await r.text();
    if (!r.ok) {
      let msg = r.statusText;
      try {
        msg = JSON.parse(text)?.error?.message ?? msg;
      } catch {}
      throw new APIError(r.status, String(r.status), msg);
    }
    return parseExact(text);
  }

  status() { return this.get<Status>("status"); }
  orgs() { return this.get<Org[] | { orgs: Org[] }>("orgs").then((r) => (Array.isArray(r) ? r : r.orgs ?? [])); }
  datasets() { return this.get<DatasetView[] | { datasets: DatasetView[] }>("datasets").then((r) => (Array.isArray(r) ? r : r.datasets ?? [])); }
  /** consents lists a patient's own consents, on a request signed with
   * the patient's key (the node lists them to nobody else). */
  async consents(addr: string, seed: Uint8Array) {
    const chainID = (await this.status()).chain_id;
    return this.get<{ consents: Consent[] }>(`patients/${encodeURIComponent(addr)}/consents`, { seed, chainID }).then((r) => r.consents ?? []);
  }

  /** account reads an account with its 64-bit fields exact, or null if none. */
  async account(addr: string): Promise<{ nonce: bigint; balance: bigint; kind: string; org?: string } | null> {
    try {
      const a = (await this.getExact(`accounts/${addr}`)) as Map<string, unknown>;
      const big = (k: string) => (a.get(k) instanceof JSONNumber ? (a.get(k) as JSONNumber).toBigInt() : 0n);
      return { nonce: big("nonce"), balance: big("balance"), kind: String(a.get("kind")), org: a.get("org") as string | undefined };
    } catch (e) {
      if (e instanceof APIError && e.status === 404) return null;
      throw e;
    }
  }

  /** submit sends signed bytes exactly as signed and waits for the block. */
  async submit(bytes: string): Promise<{ hash: string; result?: TxResult & { height: number } }> {
    const r = await fetch(`${this.base}/v1/txs?wait=commit`, { method: "POST", headers: { "Content-Type": "application/json" }, body: bytes });
    const body = await r.json();
    if (!r.ok) throw new APIError(r.status, body?.error?.code ?? String(r.status), body?.error?.message ?? r.statusText);
    return body;
  }
}

export interface AuditInclusion {
  index: number; leaf_hash: string; raw: string; entry: AuditEntry;
  height: number; size: number; proof: string[]; commitment: Commitment;
}
