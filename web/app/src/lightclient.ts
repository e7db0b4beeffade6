// Checking a block header's validator signatures in the browser: what
// CometBFT's light client does for one commit (types.VerifyCommitLight-
// AllSignatures plus SignedHeader.ValidateBasic), on the JSON the node
// serves on its header route (api.ts routes.header; CometBFT's own JSON of a
// types.SignedHeader and types.ValidatorSet).
//
//   - the header's hash (a Merkle tree, crypto/merkle, of its fields each
//     protobuf-encoded as types.Header.Hash does) is the block id the
//     commit signs;
//   - the validator set's hash (Merkle of each validator's SimpleValidator
//     protobuf) is the header's validators_hash, and each validator's
//     address is its key's (SHA-256, first 20 bytes);
//   - every commit signature is an ed25519 signature (@noble/curves) over
//     the canonical precommit's sign bytes (a varint-length-delimited
//     CanonicalVote protobuf: type, height, round, block id, timestamp,
//     chain id), by the validator at the same index;
//   - the signers hold more than two thirds of the set's voting power.
//
// The set itself must be trusted from somewhere: see pinnedAnchor below.
// Byte-for-byte agreement with CometBFT is held by web/lightclient_test.go.
import { ed25519 } from "@noble/curves/ed25519.js";
import { sha256 } from "@noble/hashes/sha2.js";
import { fromBase64, fromHex, hex } from "./canonical";

// ---- CometBFT's JSON (libs/json) of the types involved ----------------

type Int64 = string | number; // libs/json writes 64-bit integers as strings
export interface PartSetHeaderJSON { total: number; hash: string }
export interface BlockIDJSON { hash: string; parts: PartSetHeaderJSON }
export interface HeaderJSON {
  version: { block: Int64; app?: Int64 }; chain_id: string; height: Int64; time: string; last_block_id: BlockIDJSON;
  last_commit_hash: string; data_hash: string; validators_hash: string; next_validators_hash: string; consensus_hash: string;
  app_hash: string; last_results_hash: string; evidence_hash: string; proposer_address: string;
}
export interface CommitSigJSON { block_id_flag: number; validator_address: string; timestamp: string; signature: string | null }
export interface CommitJSON { height: Int64; round: number; block_id: BlockIDJSON; signatures: CommitSigJSON[] }
export interface SignedHeaderJSON { header: HeaderJSON; commit: CommitJSON }
export interface ValidatorJSON { address: string; pub_key: { type: string; value: string }; voting_power: Int64; proposer_priority?: Int64 }
export interface ValidatorSetJSON { validators: ValidatorJSON[] }
/** The header route's answer (api.ts routes.header). */
export interface ServedHeader { height: number; signed_header: SignedHeaderJSON; validators: ValidatorSetJSON }

const flagAbsent = 1, flagCommit = 2, flagNil = 3;
const precommitType = 2;

// ---- protobuf (proto3) encoding, only what these messages need ---------

function varint(v: bigint): number[] {
  if (v < 0n) v = BigInt.asUintN(64, v); // proto3 int64: two's complement, 10 bytes
  const out: number[] = [];
  while (v >= 0x80n) {
    out.push(Number(v & 0x7fn) | 0x80);
    v >>= 7n;
  }
  out.push(Number(v));
  return out;
}

class PB {
  private b: number[] = [];
  private key(field: number, wire: number) { this.b.push(...varint(BigInt((field << 3) | wire))); }
  /** uvarint writes a varint field (int64 and uint64 alike: a negative
   * int64 is its two's complement), omitted when zero (proto3). */
  uvarint(field: number, v: bigint) {
    if (v === 0n) return this;
    this.key(field, 0);
    this.b.push(...varint(v));
    return this;
  }
  /** sfixed64 writes a fixed 8-byte little-endian field, omitted when zero. */
  sfixed64(field: number, v: bigint) {
    if (v === 0n) return this;
    this.key(field, 1);
    let u = BigInt.asUintN(64, v);
    for (let i = 0; i < 8; i++, u >>= 8n) this.b.push(Number(u & 0xffn));
    return this;
  }
  /** bytes writes a length-delimited field; omitEmpty for proto3 scalars,
   * not for a non-nullable embedded message (gogoproto writes those always). */
  bytes(field: number, v: Uint8Array, omitEmpty = true) {
    if (omitEmpty && v.length === 0) return this;
    this.key(field, 2);
    this.b.push(...varint(BigInt(v.length)), ...v);
    return this;
  }
  out() { return Uint8Array.from(this.b); }
}

const int64 = (v: Int64, what: string): bigint => {
  if (typeof v === "number" ? !Number.isSafeInteger(v) : !/^-?[0-9]+$/.test(v)) throw new Error(`${what}: not an integer: ${v}`);
  return BigInt(v);
};
const hexField = (s: string | undefined | null, what: string): Uint8Array => {
  if (s === undefined || s === null || s === "") return new Uint8Array(0);
  if (!/^([0-9a-fA-F]{2})*$/.test(s)) throw new Error(`${what}: not hex`);
  return fromHex(s.toLowerCase());
};

/** timestamp is google.protobuf.Timestamp of an RFC 3339 time, to the
 * nanosecond (Date keeps only milliseconds, so the fraction is read apart). */
export function timestamp(t: string): Uint8Array {
  const m = /^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)(?:\.(\d{1,9}))?(Z|[+-]\d\d:\d\d)$/.exec(t);
  if (!m) throw new Error(`time ${t}: not RFC 3339`);
  const ms = Date.parse(m[1] + (m[3] === "Z" ? "Z" : m[3]));
  if (Number.isNaN(ms)) throw new Error(`time ${t}: not a date`);
  const seconds = BigInt(Math.floor(ms / 1000));
  const nanos = BigInt((m[2] ?? "").padEnd(9, "0") || "0");
  return new PB().uvarint(1, seconds).uvarint(2, nanos).out();
}

function partSetHeader(p: PartSetHeaderJSON, what: string): Uint8Array {
  return new PB().uvarint(1, BigInt(p.total)).bytes(2, hexField(p.hash, what + ".parts.hash")).out();
}

/** blockID is the BlockID protobuf (the header's last_block_id field). */
function blockID(b: BlockIDJSON, what: string): Uint8Array {
  return new PB().bytes(1, hexField(b.hash, what + ".hash")).bytes(2, partSetHeader(b.parts, what), false).out();
}

const isZeroBlockID = (b: BlockIDJSON) => !b.hash && !b.parts.hash && !b.parts.total;

// ---- crypto/merkle ----------------------------------------------------

function cat(...parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
}

/** merkleRoot is merkle.HashFromByteSlices (RFC 6962 hashing, split at the
 * largest power of two below n). */
export function merkleRoot(items: Uint8Array[]): Uint8Array {
  if (items.length === 0) return sha256(new Uint8Array(0));
  if (items.length === 1) return sha256(cat(new Uint8Array([0]), items[0]));
  let k = 1;
  while (k * 2 < items.length) k *= 2;
  return sha256(cat(new Uint8Array([1]), merkleRoot(items.slice(0, k)), merkleRoot(items.slice(k))));
}

// ---- the hashes and the sign bytes -------------------------------------

/** cdc is types.cdcEncode: a gogo wrapper message (StringValue, Int64Value,
 * BytesValue) with the value in field 1, or nothing for an empty value. */
const cdcBytes = (v: Uint8Array) => new PB().bytes(1, v).out();

/** headerHash is types.Header.Hash. */
export function headerHash(h: HeaderJSON): Uint8Array {
  const vh = hexField(h.validators_hash, "header.validators_hash");
  if (vh.length === 0) throw new Error("header has no validators hash");
  const version = new PB().uvarint(1, int64(h.version.block, "version.block")).uvarint(2, int64(h.version.app ?? 0, "version.app")).out();
  const height = int64(h.height, "header.height");
  const fields = [
    version,
    cdcBytes(new TextEncoder().encode(h.chain_id)),
    new PB().uvarint(1, height).out(),
    timestamp(h.time),
    blockID(h.last_block_id, "header.last_block_id"),
    ...(["last_commit_hash", "data_hash", "validators_hash", "next_validators_hash", "consensus_hash", "app_hash",
      "last_results_hash", "evidence_hash", "proposer_address"] as const).map((k) => cdcBytes(hexField(h[k], "header." + k))),
  ];
  return merkleRoot(fields);
}

const ed25519KeyType = "tendermint/PubKeyEd25519";

function validatorKey(v: ValidatorJSON, i: number): Uint8Array {
  if (v.pub_key?.type !== ed25519KeyType) throw new Error(`validator ${i}: key type ${v.pub_key?.type}, only ed25519 is checked here`);
  const pk = fromBase64(v.pub_key.value);
  if (pk.length !== 32) throw new Error(`validator ${i}: ed25519 key is ${pk.length} bytes`);
  return pk;
}

/** validatorSetHash is types.ValidatorSet.Hash: Merkle of each validator's
 * SimpleValidator protobuf (pub_key {ed25519}, voting_power), in set order. */
export function validatorSetHash(vs: ValidatorSetJSON): Uint8Array {
  return merkleRoot(vs.validators.map((v, i) => {
    const pk = new PB().bytes(1, validatorKey(v, i)).out(); // crypto.PublicKey, oneof ed25519 = 1
    return new PB().bytes(1, pk, false).uvarint(2, int64(v.voting_power, `validator ${i} voting_power`)).out();
  }));
}

/** voteSignBytes is types.Commit.VoteSignBytes(chainID, idx): the
 * precommit the validator at idx signed, canonicalised (types.Canonicalize-
 * Vote) and varint-length-delimited (protoio.MarshalDelimited). */
export function voteSignBytes(chainID: string, c: CommitJSON, idx: number): Uint8Array {
  const s = c.signatures[idx];
  if (!s) throw new Error(`commit has no signature ${idx}`);
  // A CommitSig for the block signs the commit's block id; a nil vote an
  // empty one, which canonicalises to no block id at all.
  const bid = s.block_id_flag === flagCommit ? c.block_id : { hash: "", parts: { total: 0, hash: "" } };
  const pb = new PB()
    .uvarint(1, BigInt(precommitType))
    .sfixed64(2, int64(c.height, "commit.height"))
    .sfixed64(3, BigInt(c.round));
  if (!isZeroBlockID(bid)) {
    const cbid = new PB().bytes(1, hexField(bid.hash, "commit.block_id.hash"))
      .bytes(2, new PB().uvarint(1, BigInt(bid.parts.total)).bytes(2, hexField(bid.parts.hash, "commit.block_id.parts.hash")).out(), false).out();
    pb.bytes(4, cbid, false);
  }
  pb.bytes(5, timestamp(s.timestamp), false).bytes(6, new TextEncoder().encode(chainID));
  const body = pb.out();
  return cat(Uint8Array.from(varint(BigInt(body.length))), body);
}

// ---- the check ----------------------------------------------------------

/** HeaderCheck is what verifySignedHeader established (client.HeaderCheck). */
export interface HeaderCheck {
  height: number; time: string; appHash: string; validatorsHash: string; blockHash: string;
  signers: number; validators: number; signedPower: bigint; totalPower: bigint;
}

const eqHex = (a: string, b: Uint8Array) => a.toLowerCase() === hex(b);

/** verifySignedHeader checks a served header for chainID, signed by the
 * validator set whose hash is trustedValidatorsHash (hex), and returns what
 * it established; any failure throws, saying which check and where. */
export function verifySignedHeader(sh: ServedHeader, chainID: string, trustedValidatorsHash: string): HeaderCheck {
  const h = sh.signed_header?.header, c = sh.signed_header?.commit, vs = sh.validators;
  if (!h || !c || !vs?.validators?.length) throw new Error(`header ${sh.height}: header, commit or validator set missing`);
  const height = int64(h.height, "header.height");
  if (height !== BigInt(sh.height)) throw new Error(`asked for header ${sh.height}, got header ${height}`);
  if (h.chain_id !== chainID) throw new Error(`header ${height} is for chain ${h.chain_id}, not ${chainID}`);
  // The validator set: the one the header names, and the trusted one.
  const setHash = validatorSetHash(vs);
  if (!eqHex(h.validators_hash, setHash)) throw new Error(`header ${height} names validator set ${h.validators_hash.toLowerCase()}, the served set hashes to ${hex(setHash)}`);
  if (!eqHex(trustedValidatorsHash, setHash)) throw new Error(`header ${height} is signed by validator set ${hex(setHash)}, not the trusted set ${trustedValidatorsHash.toLowerCase()}`);
  // The commit is for this header.
  const blockHash = headerHash(h);
  if (!eqHex(c.block_id.hash, blockHash)) throw new Error(`the commit signs block ${c.block_id.hash.toLowerCase()}, the header hashes to ${hex(blockHash)}`);
  if (int64(c.height, "commit.height") !== height) throw new Error(`the commit is for height ${c.height}, the header ${height}`);
  if (c.signatures.length !== vs.validators.length) throw new Error(`the commit has ${c.signatures.length} signatures for ${vs.validators.length} validators`);
  // Every signature for the block, by the validator at its index.
  let total = 0n, signed = 0n, signers = 0;
  const powers = vs.validators.map((v, i) => {
    const p = int64(v.voting_power, `validator ${i} voting_power`);
    if (p <= 0n) throw new Error(`validator ${i} has voting power ${p}`);
    total += p;
    return p;
  });
  c.signatures.forEach((s, i) => {
    if (![flagAbsent, flagCommit, flagNil].includes(s.block_id_flag)) throw new Error(`signature ${i}: unknown block id flag ${s.block_id_flag}`);
    if (s.block_id_flag !== flagCommit) return;
    const v = vs.validators[i];
    const pk = validatorKey(v, i);
    const addr = hex(sha256(pk).slice(0, 20));
    if (v.address.toLowerCase() !== addr) throw new Error(`validator ${i}: address ${v.address.toLowerCase()} is not its key's (${addr})`);
    if (s.validator_address.toLowerCase() !== addr) throw new Error(`signature ${i} is by ${s.validator_address.toLowerCase()}, validator ${i} is ${addr}`);
    const sig = fromBase64(s.signature ?? "");
    if (sig.length !== 64) throw new Error(`signature ${i} is ${sig.length} bytes`);
    let ok = false;
    try {
      ok = ed25519.verify(sig, voteSignBytes(chainID, c, i), pk, { zip215: true });
    } catch {
      ok = false;
    }
    if (!ok) throw new Error(`signature ${i} (validator ${addr}) does not verify over block ${hex(blockHash)}`);
    signers++;
    signed += powers[i];
  });
  // More than two thirds, in CometBFT's integer arithmetic.
  const needed = (total * 2n) / 3n;
  if (!(signed > needed)) throw new Error(`header ${height}: signers hold voting power ${signed} of ${total}, not more than two thirds`);
  return {
    height: Number(height), time: h.time, appHash: h.app_hash.toLowerCase(), validatorsHash: hex(setHash), blockHash: hex(blockHash),
    signers, validators: vs.validators.length, signedPower: signed, totalPower: total,
  };
}

// ---- the trust anchor ------------------------------------------------

/** TrustAnchor is what the browser trusts: a chain id and the hash of the
 * validator set that signs its headers. */
export interface TrustAnchor { chain_id: string; validators_hash: string; pinned_at: string; from_height: number }

interface AnchorSource {
  status(): Promise<{ chain_id: string }>;
  signedHeader(height: number): Promise<ServedHeader>;
}

const anchorKey = () => `medchain/trust-anchor/${location.origin}`;

/** pinnedAnchor returns the anchor this browser pinned for this node, or
 * pins one on first use: the chain id the node reports and the validator set
 * of block 1 (the genesis set), after checking that block 1's header is
 * signed by more than two thirds of it. Medchain has no validator-set
 * updates, so every later header must name the same set; a header naming
 * another set is refused (the light client's skipping verification across
 * set changes is not implemented). Trust on first use: a node that lies at
 * the first visit is believed, which is why the page shows the anchor for
 * comparison with the genesis file out of band. */
export async function pinnedAnchor(src: AnchorSource): Promise<TrustAnchor> {
  const kept = localStorage.getItem(anchorKey());
  if (kept) {
    const a = JSON.parse(kept) as TrustAnchor;
    if (typeof a.chain_id === "string" && /^[0-9a-f]{64}$/.test(a.validators_hash)) return a;
  }
  const st = await src.status();
  const first = await src.signedHeader(1);
  const hc = verifySignedHeader(first, st.chain_id, hex(validatorSetHash(first.validators)));
  const a: TrustAnchor = { chain_id: st.chain_id, validators_hash: hc.validatorsHash, pinned_at: new Date().toISOString(), from_height: 1 };
  localStorage.setItem(anchorKey(), JSON.stringify(a));
  return a;
}

/** forgetAnchor drops the pinned anchor (the next check pins again). */
export const forgetAnchor = () => localStorage.removeItem(anchorKey());

/** verifyHeaderAt fetches the header at height (waiting a little for the
 * block, which may be one away) and verifies it against the pinned anchor. */
export async function verifyHeaderAt(src: AnchorSource, height: number, tamper?: (sh: ServedHeader) => ServedHeader): Promise<HeaderCheck> {
  const anchor = await pinnedAnchor(src);
  let sh: ServedHeader | undefined;
  for (let tries = 0; !sh; tries++) {
    try {
      sh = await src.signedHeader(height);
    } catch (e) {
      if (tries >= 10) throw e;
      await new Promise((r) => setTimeout(r, 500));
    }
  }
  try {
    return verifySignedHeader(tamper ? tamper(sh) : sh, anchor.chain_id, anchor.validators_hash);
  } catch (e) {
    // A dev network started afresh at the same address has new validators:
    // say how to trust it, rather than leave a bare mismatch.
    const m = (e as Error).message;
    if (m.includes("not the trusted set") || m.includes(`not ${anchor.chain_id}`)) {
      throw new Error(`${m} (pinned on ${anchor.pinned_at}; if this node's chain was started afresh, forget the trust anchor in the audit explorer and check again)`);
    }
    throw e;
  }
}

/** describe says what a header check established, for the page. */
export const describeHeader = (hc: HeaderCheck) =>
  `block ${hc.blockHash.slice(0, 16)}… signed by ${hc.signers}/${hc.validators} validators (power ${hc.signedPower}/${hc.totalPower}), app hash ${hc.appHash}`;
