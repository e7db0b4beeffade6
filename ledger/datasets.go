package ledger

import (
	"fmt"

	"github.com/medchain/medchain/store"
	"github.com/medchain/medchain/vocab"
)

// Transaction types of this feature.
const (
	TxRegisterDataset TxType = "register_dataset"
	TxSetPolicy       TxType = "set_policy"
)

// RegisterDataset publishes a dataset version (version 1 creates the dataset).
type RegisterDataset struct {
	ID          string  `json:"id"`
	Version     uint64  `json:"version"`
	Title       string  `json:"title"`
	Description string  `json:"description,omitempty"`
	Schema      []Field `json:"schema"`
	RecordBand  string  `json:"record_band"`
	ContentRoot string  `json:"content_root"`
	Locator     string  `json:"locator"`
	DeidProfile string  `json:"deid_profile,omitempty"`
}

// SetPolicy sets a dataset's terms of use.
type SetPolicy struct {
	Dataset string `json:"dataset"`
	Policy  Policy `json:"policy"`
}

func (*RegisterDataset) Type() TxType { return TxRegisterDataset }

func (*SetPolicy) Type() TxType { return TxSetPolicy }

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
	_             struct{} `cbor:",toarray"` // stored as an array of its fields (state.go)
	ID            string   `json:"id"`
	Org           string   `json:"org"`
	LatestVersion uint64   `json:"latest_version"`
	Created       int64    `json:"created_height"`
	HasPolicy     bool     `json:"has_policy"`
}

// DatasetVersion is the immutable metadata of one published version.
type DatasetVersion struct {
	_           struct{} `cbor:",toarray"` // stored as an array of its fields (state.go)
	Dataset     string   `json:"dataset"`
	Version     uint64   `json:"version"`
	Title       string   `json:"title"`
	Description string   `json:"description,omitempty"`
	Schema      []Field  `json:"schema"`
	RecordBand  string   `json:"record_band"`
	ContentRoot string   `json:"content_root"`           // hex Merkle root over the encrypted chunks
	Locator     string   `json:"locator"`                // where the node keeps the blobs
	DeidProfile string   `json:"deid_profile,omitempty"` // hex hash of the de-identification rule set
	Published   int64    `json:"published_height"`
	PublishedBy string   `json:"published_by"`
}

// Purposes is the purpose-of-use vocabulary, after HL7 PurposeOfUse
// (vocab.Purposes).
var Purposes = vocab.Purposes

// BuiltinAnalyses are the analyses a policy may name without a code hash.
var BuiltinAnalyses = []string{"cohort_count", "crosstab", "descriptive", "logistic_regression", "linear_regression", "survival", "boosted_trees"}

// Requesters says who may use a dataset.
type Requesters struct {
	_      struct{}      `cbor:",toarray"` // stored as an array of its fields (state.go)
	Anyone bool          `json:"anyone,omitempty"`
	Orgs   []string      `json:"orgs,omitempty"`
	Kinds  []AccountKind `json:"kinds,omitempty"`
}

// Analyses says which analyses may run on a dataset.
type Analyses struct {
	_          struct{} `cbor:",toarray"` // stored as an array of its fields (state.go)
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
	_                  struct{}    `cbor:",toarray"` // stored as an array of its fields (state.go)
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

func validSchema(fields []Field) error {
	if len(fields) == 0 {
		return errf(CodeInvalidField, "msg.schema: at least one field is required")
	}
	if len(fields) > 512 {
		return errf(CodeInvalidField, "msg.schema: %d fields, limit 512", len(fields))
	}
	for i, f := range fields {
		at := fmt.Sprintf("msg.schema[%d]", i)
		if err := validText(at+".name", f.Name, 64, true); err != nil {
			return err
		}
		for _, g := range fields[:i] {
			if g.Name == f.Name {
				return errf(CodeInvalidField, "%s.name: duplicate field %q", at, f.Name)
			}
		}
		if err := oneOf(at+".type", f.Type, FieldTypes); err != nil {
			return err
		}
		for _, kv := range [][2]string{{".system", f.System}, {".code", f.Code}, {".unit", f.Unit}} {
			if err := validText(at+kv[0], kv[1], 128, false); err != nil {
				return err
			}
		}
	}
	return nil
}

func (c *txCtx) registerDataset(m *RegisterDataset) ([]Event, error) {
	if err := c.requireKind(KindInstitution); err != nil {
		return nil, err
	}
	if err := validID("msg.id", m.ID); err != nil {
		return nil, err
	}
	if err := validText("msg.title", m.Title, 200, true); err != nil {
		return nil, err
	}
	if err := validText("msg.description", m.Description, 4000, false); err != nil {
		return nil, err
	}
	if err := validSchema(m.Schema); err != nil {
		return nil, err
	}
	if err := oneOf("msg.record_band", m.RecordBand, RecordBands); err != nil {
		return nil, err
	}
	if err := validHash("msg.content_root", m.ContentRoot, true); err != nil {
		return nil, err
	}
	if err := validHash("msg.deid_profile", m.DeidProfile, false); err != nil {
		return nil, err
	}
	if err := validText("msg.locator", m.Locator, 512, true); err != nil {
		return nil, err
	}
	var ds Dataset
	found, err := getState(c.s, KeyDataset(m.ID), &ds)
	if err != nil {
		return nil, err
	}
	if !found {
		if m.Version != 1 {
			return nil, errf(CodeInvalidField, "msg.version: a new dataset starts at version 1, got %d", m.Version)
		}
		ds = Dataset{ID: m.ID, Org: c.signer.Org, Created: c.height}
	} else {
		if err := c.requireMember(ds.Org); err != nil {
			return nil, err
		}
		if m.Version != ds.LatestVersion+1 {
			return nil, errf(CodeInvalidField, "msg.version: dataset %q is at version %d, next must be %d, got %d", m.ID, ds.LatestVersion, ds.LatestVersion+1, m.Version)
		}
	}
	ds.LatestVersion = m.Version
	v := DatasetVersion{Dataset: m.ID, Version: m.Version, Title: m.Title, Description: m.Description, Schema: m.Schema,
		RecordBand: m.RecordBand, ContentRoot: m.ContentRoot, Locator: m.Locator, DeidProfile: m.DeidProfile,
		Published: c.height, PublishedBy: c.addr}
	if err := putState(c.s, KeyDatasetVersion(m.ID, m.Version), v); err != nil {
		return nil, err
	}
	return ev("register_dataset", "dataset", m.ID, "version", fmt.Sprint(m.Version), "org", ds.Org),
		putState(c.s, KeyDataset(m.ID), ds)
}

func (c *txCtx) dataset(id string) (*Dataset, error) {
	var ds Dataset
	found, err := getState(c.s, KeyDataset(id), &ds)
	if err != nil {
		return nil, err
	}
	if !found {
		return nil, errf(CodeNotFound, "dataset %q does not exist", id)
	}
	return &ds, nil
}

// ValidatePolicy checks a policy on its own (the ledger also checks the
// referenced organisations exist).
func ValidatePolicy(p *Policy) error {
	if err := validPurposes("msg.policy.purposes", p.Purposes); err != nil {
		return err
	}
	r := p.Requesters
	if !r.Anyone && len(r.Orgs) == 0 && len(r.Kinds) == 0 {
		return errf(CodeInvalidField, "msg.policy.requesters: name orgs, kinds, or anyone")
	}
	for i, o := range r.Orgs {
		if err := validID(fmt.Sprintf("msg.policy.requesters.orgs[%d]", i), o); err != nil {
			return err
		}
	}
	for i, k := range r.Kinds {
		if err := oneOf(fmt.Sprintf("msg.policy.requesters.kinds[%d]", i), k, AccountKinds); err != nil {
			return err
		}
	}
	a := p.Analyses
	if len(a.Builtins) == 0 && len(a.CodeHashes) == 0 {
		return errf(CodeInvalidField, "msg.policy.analyses: allow at least one analysis")
	}
	for i, b := range a.Builtins {
		if err := oneOf(fmt.Sprintf("msg.policy.analyses.builtins[%d]", i), b, BuiltinAnalyses); err != nil {
			return err
		}
	}
	for i, h := range a.CodeHashes {
		if err := validHash(fmt.Sprintf("msg.policy.analyses.code_hashes[%d]", i), h, true); err != nil {
			return err
		}
	}
	if p.MinCohort < MinCohortFloor {
		return errf(CodeInvalidField, "msg.policy.min_cohort: %d is below the floor of %d", p.MinCohort, MinCohortFloor)
	}
	if p.EpsilonPerJobMilli == 0 || p.EpsilonTotalMilli == 0 {
		return errf(CodeInvalidField, "msg.policy: epsilon_per_job_milli and epsilon_total_milli must be positive")
	}
	if p.MinEpsilonPerJobMilli > p.EpsilonPerJobMilli {
		return errf(CodeInvalidField, "msg.policy.min_epsilon_per_job_milli: %d exceeds epsilon_per_job_milli %d", p.MinEpsilonPerJobMilli, p.EpsilonPerJobMilli)
	}
	if p.MinStudySites > 64 {
		return errf(CodeInvalidField, "msg.policy.min_study_sites: %d, at most 64", p.MinStudySites)
	}
	if p.EpsilonPerJobMilli > p.EpsilonTotalMilli {
		return errf(CodeInvalidField, "msg.policy.epsilon_per_job_milli: %d exceeds the total budget %d", p.EpsilonPerJobMilli, p.EpsilonTotalMilli)
	}
	s := p.Split
	if uint64(s.InstitutionBps)+uint64(s.PatientPoolBps)+uint64(s.WorkerBps) != 10000 {
		return errf(CodeInvalidField, "msg.policy.reward_split: shares sum to %d basis points, must be 10000",
			uint64(s.InstitutionBps)+uint64(s.PatientPoolBps)+uint64(s.WorkerBps))
	}
	if err := oneOf("msg.policy.attestation", p.Attestation, AttestationDemands); err != nil {
		return err
	}
	if err := oneOf("msg.policy.consent_model", p.ConsentModel, []string{ConsentOptIn, ConsentOptOut}); err != nil {
		return err
	}
	if p.Expiry < 0 {
		return errf(CodeInvalidField, "msg.policy.expiry: negative")
	}
	return nil
}

func (c *txCtx) setPolicy(m *SetPolicy) ([]Event, error) {
	ds, err := c.dataset(m.Dataset)
	if err != nil {
		return nil, err
	}
	if err := c.requireMember(ds.Org); err != nil {
		return nil, err
	}
	p := m.Policy
	if p.SetHeight != 0 {
		return nil, errf(CodeInvalidField, "msg.policy.set_height: set by the ledger, leave it out")
	}
	if err := ValidatePolicy(&p); err != nil {
		return nil, err
	}
	if p.Expiry != 0 && p.Expiry <= c.now {
		return nil, errf(CodeExpired, "msg.policy.expiry: %d is not after the block time %d", p.Expiry, c.now)
	}
	for i, o := range p.Requesters.Orgs {
		if _, err := c.org(o); err != nil {
			return nil, errf(CodeNotFound, "msg.policy.requesters.orgs[%d]: organisation %q does not exist", i, o)
		}
	}
	p.SetHeight = c.height
	ds.HasPolicy = true
	if err := putState(c.s, KeyDataset(ds.ID), ds); err != nil {
		return nil, err
	}
	return ev("set_policy", "dataset", ds.ID), putState(c.s, KeyPolicy(ds.ID), p)
}

// KeyDataset is a dataset by id.
func KeyDataset(id string) []byte { return []byte("s/ds/" + id) }

// KeyDatasetVersion is one version of a dataset.
func KeyDatasetVersion(id string, v uint64) []byte { return []byte("s/dsv/" + id + "/" + num(v)) }

// KeyPolicy is a dataset's policy.
func KeyPolicy(id string) []byte { return []byte("s/pol/" + id) }

// GetDataset reads a dataset's head record.
func GetDataset(r store.Reader, id string) (*Dataset, error) {
	return getOne[Dataset](r, KeyDataset(id))
}

// GetDatasetVersion reads one published version.
func GetDatasetVersion(r store.Reader, id string, v uint64) (*DatasetVersion, error) {
	return getOne[DatasetVersion](r, KeyDatasetVersion(id, v))
}

// GetPolicy reads a dataset's policy.
func GetPolicy(r store.Reader, id string) (*Policy, error) { return getOne[Policy](r, KeyPolicy(id)) }

// ListDatasets lists dataset head records in id order.
func ListDatasets(it Iterator) ([]Dataset, error) { return list[Dataset](it, KeyDataset(""), nil) }
