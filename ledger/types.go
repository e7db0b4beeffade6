package ledger

import (
	"slices"

	"github.com/medchain/medchain/vocab"
)

// AccountKind says what an account is for; it decides what it may sign.
type AccountKind string

// Account kinds.
const (
	KindInstitution AccountKind = "institution"
	KindResearcher  AccountKind = "researcher"
	KindPatient     AccountKind = "patient"
	KindDevice      AccountKind = "device"
	KindWorker      AccountKind = "worker"
	KindAuditor     AccountKind = "auditor"
)

// AccountKinds lists every kind.
var AccountKinds = []AccountKind{KindInstitution, KindResearcher, KindPatient, KindDevice, KindWorker, KindAuditor}

func validKind(k AccountKind) bool { return slices.Contains(AccountKinds, k) }

// Account is a registered key pair. Its address is derived from the signing
// key, so the ledger never needs names.
type Account struct {
	Address    string      `json:"address"`
	PubKey     []byte      `json:"pub_key"` // ed25519 public key (32 bytes)
	EncKey     []byte      `json:"enc_key"` // X25519 public key (32 bytes) results are encrypted to
	Kind       AccountKind `json:"kind"`
	Org        string      `json:"org,omitempty"`
	Nonce      uint64      `json:"nonce"` // next nonce this account must sign with
	Balance    uint64      `json:"balance"`
	Registered int64       `json:"registered_height"`
}

// OrgKind is the kind of a member organisation.
type OrgKind string

// Organisation kinds.
const (
	OrgHospital  OrgKind = "hospital"
	OrgLab       OrgKind = "lab"
	OrgInsurer   OrgKind = "insurer"
	OrgPharma    OrgKind = "pharma"
	OrgResearch  OrgKind = "research"
	OrgRegulator OrgKind = "regulator"
)

// OrgKinds lists every organisation kind.
var OrgKinds = []OrgKind{OrgHospital, OrgLab, OrgInsurer, OrgPharma, OrgResearch, OrgRegulator}

// Org is a member organisation. Admins are account addresses.
type Org struct {
	ID      string   `json:"id"`
	Name    string   `json:"name"`
	Kind    OrgKind  `json:"kind"`
	Admins  []string `json:"admins"`
	Created int64    `json:"created_height"`
}

// Field is one column of a dataset schema (vocab.Field).
type Field = vocab.Field

// FieldTypes are the schema column types (vocab.FieldTypes).
var FieldTypes = vocab.FieldTypes

// RecordBands are the allowed record-count bands (vocab.RecordBands). A
// dataset never publishes an exact count, so a small cohort cannot be
// singled out.
var RecordBands = vocab.RecordBands

// Dataset is the ledger entry for a published dataset; versions hang off it.
type Dataset struct {
	ID            string `json:"id"`
	Org           string `json:"org"`
	LatestVersion uint64 `json:"latest_version"`
	Created       int64  `json:"created_height"`
	HasPolicy     bool   `json:"has_policy"`
}

// DatasetVersion is the immutable metadata of one published version.
type DatasetVersion struct {
	Dataset     string  `json:"dataset"`
	Version     uint64  `json:"version"`
	Title       string  `json:"title"`
	Description string  `json:"description,omitempty"`
	Schema      []Field `json:"schema"`
	RecordBand  string  `json:"record_band"`
	ContentRoot string  `json:"content_root"`           // hex Merkle root over the encrypted chunks
	Locator     string  `json:"locator"`                // where the node keeps the blobs
	DeidProfile string  `json:"deid_profile,omitempty"` // hex hash of the de-identification rule set
	Published   int64   `json:"published_height"`
	PublishedBy string  `json:"published_by"`
}

// Purposes is the purpose-of-use vocabulary, after HL7 PurposeOfUse
// (vocab.Purposes).
var Purposes = vocab.Purposes

// BuiltinAnalyses are the analyses a policy may name without a code hash.
var BuiltinAnalyses = []string{"cohort_count", "crosstab", "descriptive", "logistic_regression", "linear_regression", "survival"}

// Requesters says who may use a dataset.
type Requesters struct {
	Anyone bool          `json:"anyone,omitempty"`
	Orgs   []string      `json:"orgs,omitempty"`
	Kinds  []AccountKind `json:"kinds,omitempty"`
}

// Analyses says which analyses may run on a dataset.
type Analyses struct {
	Builtins   []string `json:"builtins,omitempty"`
	CodeHashes []string `json:"code_hashes,omitempty"` // hex sha256 of approved analysis code
}

// RewardSplit divides a job's price, in basis points summing to 10000.
type RewardSplit struct {
	InstitutionBps uint32 `json:"institution_bps"`
	PatientPoolBps uint32 `json:"patient_pool_bps"`
	WorkerBps      uint32 `json:"worker_bps"`
}

// Attestation levels a policy can demand of workers.
const (
	AttestSoftware = "software"
	AttestHardware = "hardware"
)

// Consent models: under opt-in a patient's record is used only with a
// matching permit; under opt-out, unless a matching deny exists.
const (
	ConsentOptIn  = "opt_in"
	ConsentOptOut = "opt_out"
)

// MinCohortFloor is the smallest minimum cohort a policy may set: counts of
// 1–10 are never released.
const MinCohortFloor = 11

// Policy is a dataset's terms of use. Epsilon is in milli-units (fixed
// point) because consensus code has no floating point.
type Policy struct {
	Purposes           []string    `json:"purposes"`
	Requesters         Requesters  `json:"requesters"`
	Analyses           Analyses    `json:"analyses"`
	MinCohort          uint64      `json:"min_cohort"`
	EpsilonPerJobMilli uint64      `json:"epsilon_per_job_milli"`
	EpsilonTotalMilli  uint64      `json:"epsilon_total_milli"`
	Price              uint64      `json:"price"`
	Split              RewardSplit `json:"reward_split"`
	Attestation        string      `json:"attestation"`
	ConsentModel       string      `json:"consent_model"`
	Expiry             int64       `json:"expiry,omitempty"` // unix seconds of block time; 0 = none
	// ExactRegression lets workers release regression results exactly
	// ("safe statistics": coefficients and SEs without noise, under
	// outputctl's regression threshold rules) although the policy has an
	// epsilon. When false, regression jobs must request a private fit
	// (params "private"); workers refuse exact ones with analysis_error.
	// The ledger does not inspect analysis params: it only records the
	// switch, and the worker enforces it.
	ExactRegression bool `json:"exact_regression,omitempty"`
	// MinEpsilonPerJobMilli is the least epsilon a job may be charged, so
	// that no one can run thousands of nearly free queries (0 = the
	// per-job epsilon itself: a job cannot ask for less).
	MinEpsilonPerJobMilli uint64 `json:"min_epsilon_per_job_milli,omitempty"`
	// MinStudySites is the fewest sites a pooled study over this dataset
	// may finish with (0 = 2).
	MinStudySites uint32 `json:"min_study_sites,omitempty"`
	SetHeight     int64  `json:"set_height"`
}

// Consent scopes.
const (
	ScopeDataset     = "dataset"
	ScopeInstitution = "institution"
	ScopeAll         = "all"
)

// Scope is what a consent covers.
type Scope struct {
	Kind string `json:"kind"`
	ID   string `json:"id,omitempty"` // dataset or organisation id; empty for all
}

// Consent provisions.
const (
	Permit = "permit"
	Deny   = "deny"
)

// Consent is one patient decision, modelled on a FHIR Consent provision.
// Once revoked it never becomes active again; a new decision is a new consent.
type Consent struct {
	Patient   string   `json:"patient"`
	Seq       uint64   `json:"seq"`
	Scope     Scope    `json:"scope"`
	Provision string   `json:"provision"`
	Purposes  []string `json:"purposes"`
	Expiry    int64    `json:"expiry,omitempty"` // unix seconds; 0 = none
	Created   int64    `json:"created_height"`
	Narrowed  int64    `json:"narrowed_height,omitempty"`
	Revoked   int64    `json:"revoked_height,omitempty"` // 0 = not revoked
}

// Access request states.
const (
	AccessPending = "pending"
	AccessGranted = "granted"
	AccessDenied  = "denied"
)

// AccessRequest is a requester's application to use a dataset.
type AccessRequest struct {
	ID        uint64 `json:"id"`
	Dataset   string `json:"dataset"`
	Requester string `json:"requester"`
	Purpose   string `json:"purpose"`
	Status    string `json:"status"`
	Expiry    int64  `json:"expiry,omitempty"`
	Created   int64  `json:"created_height"`
	DecidedBy string `json:"decided_by,omitempty"`
	Decided   int64  `json:"decided_height,omitempty"`
}

// Params are chain-wide settings fixed at genesis.
type Params struct {
	ChainID     string   `json:"chain_id"`
	Authorities []string `json:"authorities"` // addresses allowed to admit organisations
	// JobTimeoutBlocks is how long an admitted job may wait for its results
	// before anyone may expire it (refunding the requester); 0 = default.
	JobTimeoutBlocks int64 `json:"job_timeout_blocks,omitempty"`
}

// DefaultJobTimeoutBlocks applies when genesis sets no job timeout.
const DefaultJobTimeoutBlocks = 600
