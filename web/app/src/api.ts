// The node's /v1 API, typed. Every route the app calls is in `routes`, and
// every interface tagged `@schema NAME` names only properties of that schema
// of the OpenAPI document (api/openapi.json, served at /v1/openapi.json):
// web/apiclient_test.go fails when either drifts from the document.
import { JSONNumber, parseExact } from "./json";
import { authorize } from "./reqsig";
import type { ServedHeader } from "./lightclient";

/** The routes the app calls, as the OpenAPI document writes them. */
export const routes = {
  status: "GET /v1/status",
  orgs: "GET /v1/orgs",
  datasets: "GET /v1/datasets",
  dataset: "GET /v1/datasets/{id}",
  policy: "GET /v1/datasets/{id}/policy",
  budget: "GET /v1/datasets/{id}/budget",
  consents: "GET /v1/patients/{address}/consents",
  account: "GET /v1/accounts/{address}",
  submit: "POST /v1/txs",
  worker: "GET /v1/workers/{address}",
  jobs: "GET /v1/jobs",
  job: "GET /v1/jobs/{id}",
  study: "GET /v1/jobs/{id}/study",
  validate: "POST /v1/jobs/validate",
  analyses: "GET /v1/analyses",
  result: "GET /v1/results/{job}/{dataset}",
  auditEntry: "GET /v1/audit/entries/{index}",
  auditInclusion: "GET /v1/audit/inclusion",
  auditConsistency: "GET /v1/audit/consistency",
  header: "GET /v1/headers/{height}",
  stateProof: "GET /v1/state/proof",
  events: "GET /v1/events",
  datasetVersion: "GET /v1/datasets/{id}/versions/{version}",
  workers: "GET /v1/workers",
  devices: "GET /v1/devices",
  orgVault: "GET /v1/orgs/{id}/vault",
  models: "GET /v1/models",
  model: "GET /v1/models/{id}",
  predictions: "GET /v1/models/{id}/predictions",
  verifyPrediction: "POST /v1/models/{id}/verify",
  receipts: "GET /v1/receipts",
  rewards: "POST /v1/rewards",
  rewardOrgs: "GET /v1/rewards",
  deals: "GET /v1/deals",
  patientDeals: "GET /v1/patients/{address}/deals",
  recordServer: "GET /v1/records/server",
  recordRequest: "POST /v1/records/request",
  shares: "GET /v1/patients/{address}/shares",
  shareUpload: "POST /v1/shares",
} as const;
export type Route = keyof typeof routes;

/** An error answer: the ledger's code name, and for bad params where they went wrong. */
export class APIError extends Error {
  constructor(public status: number, public code: string, message: string, public param?: string, public reason?: string, public column?: string) {
    super(message);
    this.name = "APIError";
  }
}

/** @schema Commitment */
export interface Commitment { height: number; state_root: string; audit_size: number; audit_root: string; app_hash: string }
/** @schema NodeStatus */
export interface Status {
  chain_id: string; height: number; app_hash: string; block_time: string; catching_up: boolean;
  validators: number; peers: number; moniker: string; node_id: string; commitment?: Commitment;
}
/** @schema Org */
export interface Org { id: string; name: string; kind: string; admins: string[] }
/** @schema Field */
export interface Field { name: string; type: string; system?: string; code?: string; unit?: string }
/** @schema DatasetVersion */
export interface DatasetVersion { dataset: string; version: number; title: string; description?: string; record_band: string; schema: Field[]; content_root: string }
/** @schema RewardSplit */
export interface RewardSplit { institution_bps: number; patient_pool_bps: number; worker_bps: number }
/** @schema Policy */
export interface Policy {
  purposes: string[]; price: number; consent_model: string; min_cohort: number;
  analyses: { builtins?: string[]; code_hashes?: string[] }; attestation: string;
  epsilon_per_job_milli: number; epsilon_total_milli: number; min_epsilon_per_job_milli?: number;
  min_study_sites?: number; exact_regression?: boolean; reward_split: RewardSplit;
  requesters: { anyone?: boolean; kinds?: string[]; orgs?: string[] };
}
/** @schema DatasetInfo */
export interface DatasetView { id: string; org: string; latest?: DatasetVersion; policy?: Policy }
/** @schema Scope */
export interface Scope { kind: string; id?: string }
/** @schema Consent */
export interface Consent {
  patient: string; seq: number; scope: Scope; provision: string; purposes: string[];
  created_height: number; revoked_height?: number;
}
/** @schema LedgerAuditEntry */
export interface AuditEntry { height: number; type?: string; signer?: string; code: number; log?: string; changes?: { key: string }[] }
/** @schema AuditInclusion */
export interface AuditInclusion {
  index: number; leaf_hash: string; raw: string; entry: AuditEntry;
  height: number; size: number; proof: string[]; commitment: Commitment;
}
/** @schema AuditConsistency */
export interface AuditConsistency { from: Commitment; to: Commitment; proof: string[] }
/** @schema Attribute */
export interface Attribute { key: string; value: string }
/** @schema Event */
export interface Event { type: string; attributes: Attribute[] }
/** @schema TxRecord */
export interface TxResult { code: number; log?: string; height: number; events?: Event[] }
/** @schema DatasetBudget */
export interface DatasetBudget { dataset: string; spent_milli: number; total_milli: number; remaining_milli: number; per_job_milli: number; patient_pool: number }
/** @schema Refusal */
export interface Refusal { code: string; param?: string; column?: string }
/** @schema JobResult */
export interface JobResult { worker: string; result_hash: string; locator: string; measurement: string; posted_height: number }
/** @schema JobSite */
export interface JobSite {
  dataset: string; version: number; content_root: string; org: string; payee: string; price: number;
  epsilon_milli: number; reward_split: RewardSplit; min_cohort: number; consent_model: string;
  excluded?: string; result?: JobResult; refusal?: Refusal; touched_by?: string; study_worker?: string;
}
export interface StudyRound { round: number; participants: string[]; first_iteration: number; started_height: number; ended_height?: number; end_reason?: string }
export interface StudyExclusion { dataset: string; kind: string; round: number; iteration: number; height: number; reason: string; evidence?: string }
export interface Study {
  spec: { columns: number; link: string; private?: { rounds: number } }; min_sites: number; iteration_blocks: number;
  round: number; iteration: number; participants: string[]; iteration_deadline: number; done: boolean;
  rounds: StudyRound[]; excluded?: StudyExclusion[];
}
/** @schema Job */
export interface Job {
  id: number; requester: string; purpose: string; analysis: string; params: unknown; escrow: number; sites: JobSite[];
  status: string; admitted_height: number; deadline_height: number; closed_height?: number; reason?: string; study?: Study;
}
/** @schema StudyView */
export interface StudyView { job: number; status: string; study: Study; sums: { iteration: number; round: number; phase: string; height: number; participants: string[] }[]; posted: string[] }
/** @schema Worker */
export interface Worker { address: string; org: string; attestation: string; measurement: string; registered_height: number; attested_height?: number; evidence_not_after?: number }
/** @schema AnalysisParam */
export interface AnalysisParam { path: string; type: string; required: boolean; doc: string }
/** @schema AnalysisExample */
export interface AnalysisExample { doc: string; params: string }
/** @schema AnalysisSpec */
export interface AnalysisSpec { name: string; summary: string; params: AnalysisParam[]; examples: AnalysisExample[] }
/** @schema ValidateRequest */
export interface ValidateRequest { datasets: string[]; analysis: string; params: unknown; purpose?: string }
/** @schema CheckedVersion */
export interface CheckedVersion { dataset: string; version: number }
/** @schema Validation */
export interface Validation { valid: boolean; checked: CheckedVersion[]; price: number; study?: Record<string, unknown> }
/** @schema ResultBlob */
export interface ResultBlob { job: number; dataset: string; result_hash: string; locator: string; worker: string; ciphertext: string }

/** @schema BlockEvent */
export interface BlockEvent { height: number; app_hash: string; audit_size: number }
/** @schema JobEvent */
export interface JobEvent { id: number; status: string; height: number }
/** @schema Measurement */
export interface Measurement { system: string; code: string; unit: string }
/** @schema Device */
export interface Device { id: string; org: string; kind: string; measurements: Measurement[]; status: string; registered: number; changed: number }
/** @schema ReasonCount */
export interface ReasonCount { field?: string; reason: string; count: number }
/** @schema RuleApplied */
export interface RuleApplied { field: string; method: string; n: number }
/** @schema IngestSummary */
export interface IngestSummary {
  format: string; files: number; ref_date: string; rows_read: number; rows_kept: number; rows_quarantined: number;
  quarantined_by_reason: ReasonCount[]; deid_profile: string; rules: RuleApplied[]; originals_kept: number; workers: { registered: boolean; keys: number };
}
/** @schema QuarantineProblem */
export interface QuarantineProblem { file?: string; where: string; field?: string; reason: string }
/** @schema QuarantineView */
export interface QuarantineView { rows: number; problems: QuarantineProblem[]; more?: number }
/** @schema VersionVault */
export interface VersionVault { dataset: string; version: number; held: boolean; rows?: number; report?: IngestSummary; quarantine?: QuarantineView; problem?: string }
/** @schema InstitutionVault */
export interface InstitutionVault { org: string; patient_links: string; versions: VersionVault[] }
/** @schema ModelFeature */
export interface ModelFeature { name: string; system?: string; code?: string; unit?: string }
/** @schema Model */
export interface Model {
  id: string; owner: string; org?: string; commitment: string; features: ModelFeature[]; scale: number;
  bucket_edges: number[]; bucket_labels: string[]; job?: number; description?: string; registered_height: number; predictions: number;
}
/** @schema Prediction */
export interface Prediction { model: string; seq: number; mode: string; x_hash: string; bucket: number; label: string; proof_hash: string; request?: string; recorder: string; height: number }
/** @schema VerifyRequest */
export interface VerifyRequest { x: number[]; bucket: number; request: string; proof: string }
/** @schema VerifyResult */
export interface VerifyResult { model: string; commitment: string; height: number; valid: boolean; bucket: number; label?: string; proof_hash: string; reason?: string }
/** @schema ReceiptView */
export interface ReceiptView {
  job?: number; dataset?: string; requester?: string; purpose?: string; analysis?: string; admitted_height?: number; admitted_time?: number;
  released_height?: number; worker?: string; worker_enc_key?: string; size?: number; parts?: number; posted?: number; complete_height?: number; tags?: string;
}
/** @schema ReceiptList */
export interface ReceiptList { receipts?: ReceiptView[]; next?: number; more?: boolean }
/** @schema Voucher */
export interface Voucher { org?: string; amount?: number; recipient?: string; nullifier?: string; issuer?: string; signature?: string }
/** @schema RewardOrgs */
export interface RewardOrgs { orgs: string[] }
/** @schema RewardAnswer */
export interface RewardAnswer { org?: string; wallet?: string; balance?: number; uses?: { job?: number; dataset?: string; settled?: boolean }[]; vouchers?: Voucher[]; outstanding?: Voucher[] }
/** @schema Deal */
export interface Deal {
  id: number; buyer: string; purpose: string; datasets?: string[]; org?: string; fields: string[]; price_per_record: number; budget: number;
  max_records: number; buyer_key: string; escrow: number; pending: number; delivered: number; paid_patients: number; paid_institutions: number;
  paid_workers: number; refunded: number; status: string; posted_height: number; expires_height: number; closed_height?: number;
}
/** @schema Acceptance */
export interface Acceptance {
  deal: number; patient: string; dataset: string; version: number; org: string; payee: string; reward_split: RewardSplit;
  attestation: string; status: string; accepted_height: number; changed_height: number; delivery?: Record<string, unknown>;
}
/** @schema RecordServerInfo */
export interface RecordServerInfo { server: string; org: string }
/** @schema RecordCopy */
export interface RecordCopy { server: string; share?: string; ciphertext: string }
/** @schema ShareView */
export interface ShareView {
  hash: string; owner: string; recipient: string; server: string; expiry: number; status: string;
  created_height: number; created_time: number; closed_height?: number; closed_time?: number; state: string;
}
/** @schema ShareUpload */
export interface ShareUpload { id: string; recipient: string; expiry: number; ciphertext: string; salt?: string; verifier?: string }

/** A node at base ("" = the page's own origin). */
export class Node {
  constructor(private base = "") {}

  /** url fills a route's path parameters and query. */
  url(route: Route, params: Record<string, string | number> = {}, query: Record<string, string | number> = {}): string {
    let path = routes[route].split(" ")[1].replace(/\{(\w+)\}/g, (_, k) => {
      if (params[k] === undefined) throw new Error(`${route}: no value for {${k}}`);
      return encodeURIComponent(String(params[k]));
    });
    const q = new URLSearchParams(Object.entries(query).map(([k, v]) => [k, String(v)])).toString();
    return `${this.base}${path}${q ? "?" + q : ""}`;
  }

  private async answer<T>(r: Response, what: string): Promise<T> {
    const text = await r.text();
    let body: any;
    try {
      body = JSON.parse(text);
    } catch {
      throw new APIError(r.status, "bad_response", `${what}: not JSON (${r.status})`);
    }
    if (!r.ok) {
      const e = body?.error ?? {};
      throw new APIError(r.status, e.name ?? String(r.status), e.message ?? r.statusText, e.param, e.reason, e.column);
    }
    return body as T;
  }

  async get<T>(route: Route, params: Record<string, string | number> = {}, query: Record<string, string | number> = {}): Promise<T> {
    const u = this.url(route, params, query);
    return this.answer<T>(await fetch(u, { headers: { Accept: "application/json" } }), routes[route]);
  }

  /** getExact reads a response keeping 64-bit numbers exact (balances, nonces). */
  async getExact(route: Route, params: Record<string, string | number> = {}): Promise<unknown> {
    const r = await fetch(this.url(route, params));
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
  orgs() { return this.get<{ orgs: Org[] }>("orgs").then((r) => r.orgs ?? []); }
  datasets() { return this.get<{ datasets: DatasetView[] }>("datasets").then((r) => r.datasets ?? []); }
  /** rewardOrgs: the institutions whose reward tallies this node keeps. */
  rewardOrgs() { return this.get<RewardOrgs>("rewardOrgs").then((r) => r.orgs ?? []); }
  dataset(id: string) { return this.get<DatasetView>("dataset", { id }); }
  policy(id: string) { return this.get<Policy>("policy", { id }); }
  budget(id: string) { return this.get<DatasetBudget>("budget", { id }); }
  /** consents lists a patient's own consents, on a request signed with
   * the patient's key in the browser (the node lists them to nobody else). */
  async consents(addr: string, seed: Uint8Array) {
    const chainID = (await this.status()).chain_id;
    const u = this.url("consents", { address: addr });
    const r = await fetch(u, { headers: { Accept: "application/json", Authorization: authorize(seed, chainID, "GET", u) } });
    return this.answer<{ consents: Consent[] }>(r, routes.consents).then((x) => x.consents ?? []);
  }
  /** orgVault reads an institution's private console view (ingest reports,
   * quarantine, patient links), on a request signed in the browser by one of
   * its admins; only the institution's own node answers. */
  async orgVault(org: string, seed: Uint8Array) {
    const chainID = (await this.status()).chain_id;
    const u = this.url("orgVault", { id: org });
    const r = await fetch(u, { headers: { Accept: "application/json", Authorization: authorize(seed, chainID, "GET", u) } });
    return this.answer<InstitutionVault>(r, routes.orgVault);
  }
  datasetVersion(id: string, version: number) { return this.get<DatasetVersion>("datasetVersion", { id, version }); }
  /** jobsOn lists the jobs with a site on a dataset. */
  jobsOn(dataset: string) { return this.get<{ jobs: Job[] }>("jobs", {}, { dataset }).then((r) => r.jobs ?? []); }
  workers(org: string) { return this.get<{ workers: Worker[] }>("workers", {}, { org }).then((r) => r.workers ?? []); }
  devices(org: string) { return this.get<{ devices: Device[] }>("devices", {}, { org }).then((r) => r.devices ?? []); }
  /** eventsURL is the node's event stream (Server-Sent Events), with a job's changes if given. */
  eventsURL(job?: number) { return this.url("events", {}, job === undefined ? {} : { job }); }
  worker(addr: string) { return this.get<Worker>("worker", { address: addr }); }
  jobs(requester: string) { return this.get<{ jobs: Job[] }>("jobs", {}, { requester }).then((r) => r.jobs ?? []); }
  job(id: number) { return this.get<Job>("job", { id }); }
  study(id: number) { return this.get<StudyView>("study", { id }); }
  analyses() { return this.get<{ analyses: AnalysisSpec[] }>("analyses").then((r) => r.analyses ?? []); }
  result(job: number, dataset: string) { return this.get<ResultBlob>("result", { job, dataset }); }
  auditEntry(index: number) { return this.get<{ entry: AuditEntry }>("auditEntry", { index }); }
  auditConsistency(from: number, to: number) { return this.get<AuditConsistency>("auditConsistency", {}, { from, to }); }
  auditInclusion(index: string, height: number) { return this.get<AuditInclusion>("auditInclusion", {}, { index, height }); }
  header(height: number) { return this.get<{ signed_header?: { header?: { app_hash?: string } } }>("header", { height }); }
  /** signedHeader is a block's header, its commit (the validators'
   * signatures) and the validator set, as CometBFT writes them in JSON
   * (checked in the browser by ./lightclient.ts). */
  signedHeader(height: number) { return this.get<ServedHeader>("header", { height }); }

  models() { return this.get<{ models: Model[] }>("models").then((r) => r.models ?? []); }
  model(id: string) { return this.get<Model>("model", { id }); }
  predictions(id: string) { return this.get<{ model: string; predictions: Prediction[] }>("predictions", { id }).then((r) => r.predictions ?? []); }
  /** verifyPrediction asks the node to verify a prediction proof (zk.Verify
   * against the model's commitment on the ledger); nothing is recorded. */
  async verifyPrediction(id: string, req: VerifyRequest): Promise<VerifyResult> {
    const r = await fetch(this.url("verifyPrediction", { id }), { method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify(req) });
    return this.answer<VerifyResult>(r, routes.verifyPrediction);
  }

  /** receipts reads one page of complete receipt sets from job `from` on. */
  receipts(from = 0) { return this.get<ReceiptList>("receipts", {}, { from, limit: 200 }); }
  deals(status = "open") { return this.get<{ deals: Deal[] }>("deals", {}, { status }).then((r) => r.deals ?? []); }
  patientDeals(addr: string) { return this.get<{ acceptances: Acceptance[] }>("patientDeals", { address: addr }).then((r) => r.acceptances ?? []); }
  recordServer() { return this.get<RecordServerInfo>("recordServer"); }
  shares(addr: string) { return this.get<{ shares: ShareView[] }>("shares", { address: addr }).then((r) => r.shares ?? []); }
  /** post sends a JSON body to a POST route and reads the answer. */
  async post<T>(route: Route, body: unknown): Promise<T> {
    const r = await fetch(this.url(route), { method: "POST", headers: { "Content-Type": "application/json", Accept: "application/json" }, body: JSON.stringify(body) });
    return this.answer<T>(r, routes[route]);
  }

  /** validate checks a job's params against its datasets' schemas (nothing is signed or charged). */
  async validate(req: ValidateRequest): Promise<Validation> {
    const r = await fetch(this.url("validate"), { method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify(req) });
    return this.answer<Validation>(r, routes.validate);
  }

  /** account reads an account with its 64-bit fields exact, or null if none. */
  async account(addr: string): Promise<{ nonce: bigint; balance: bigint; kind: string; org?: string } | null> {
    try {
      const a = (await this.getExact("account", { address: addr })) as Map<string, unknown>;
      const big = (k: string) => (a.get(k) instanceof JSONNumber ? (a.get(k) as JSONNumber).toBigInt() : 0n);
      return { nonce: big("nonce"), balance: big("balance"), kind: String(a.get("kind")), org: a.get("org") as string | undefined };
    } catch (e) {
      if (e instanceof APIError && e.status === 404) return null;
      throw e;
    }
  }

  /** submit sends signed bytes exactly as signed and waits for the block. */
  async submit(bytes: string): Promise<{ hash: string; result?: TxResult }> {
    const r = await fetch(this.url("submit", {}, { wait: "commit" }), { method: "POST", headers: { "Content-Type": "application/json" }, body: bytes });
    return this.answer(r, routes.submit);
  }
}

/** eventAttr reads an attribute of a transaction's event (a new job's id, say). */
export function eventAttr(r: TxResult | undefined, type: string, key: string): string | undefined {
  return r?.events?.find((e) => e.type === type)?.attributes.find((a) => a.key === key)?.value;
}
