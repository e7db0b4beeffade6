package ledger

import (
	"bytes"
	"fmt"
	"slices"
	"strings"

	"github.com/medchain/medchain/store"
)

// Transaction types of this feature.
const (
	TxGiveConsent   TxType = "give_consent"
	TxNarrowConsent TxType = "narrow_consent"
	TxRevokeConsent TxType = "revoke_consent"
)

// ConsentQuery asks whether one patient's record may be used.
type ConsentQuery struct {
	Dataset string // dataset id
	Org     string // the organisation holding the dataset
	Purpose string
	Height  int64  // the job's admission height: consents are read as of then
	Time    int64  // block time (unix seconds) at admission, for expiry
	Model   string // the dataset's consent model, ConsentOptIn or ConsentOptOut
}

// ConsentAllows decides, as a pure function of a patient's consents, whether
// a record may be used. A consent counts if it existed at q.Height, was not
// revoked at or before it, has not expired at q.Time, covers the dataset
// (by dataset, institution or "all" scope) and lists the purpose. Any
// counting deny wins; otherwise any counting permit allows; otherwise the
// dataset's consent model decides (opt-out allows, opt-in refuses).
func ConsentAllows(consents []Consent, q ConsentQuery) bool {
	permit := false
	for _, c := range consents {
		if !consentCounts(c, q) {
			continue
		}
		if c.Provision == Deny {
			return false
		}
		permit = true
	}
	if permit {
		return true
	}
	return q.Model == ConsentOptOut
}

// NobodyConsents says whether consents (every patient's, grouped by
// patient as ListConsents lists them) leave a dataset no patient for q:
// its model refuses a patient without consents (opt-in), and no patient's
// consents permit the purpose. It reads consents only, so a worker's
// refusal on this (fail_job no_consent) says nothing about its data; a
// requester asks the node for this one bit before submitting (POST
// /v1/jobs/validate), as consents are listed only to their patients and
// the institutions they concern.
func NobodyConsents(all []Consent, q ConsentQuery) bool {
	if ConsentAllows(nil, q) {
		return false
	}
	for len(all) > 0 {
		n := 1
		for n < len(all) && all[n].Patient == all[0].Patient {
			n++
		}
		if ConsentAllows(all[:n], q) {
			return false
		}
		all = all[n:]
	}
	return true
}

func consentCounts(c Consent, q ConsentQuery) bool {
	if c.Created > q.Height {
		return false
	}
	if c.Revoked != 0 && c.Revoked <= q.Height {
		return false
	}
	if c.Expiry != 0 && c.Expiry <= q.Time {
		return false
	}
	switch c.Scope.Kind {
	case ScopeDataset:
		if c.Scope.ID != q.Dataset {
			return false
		}
	case ScopeInstitution:
		if c.Scope.ID != q.Org {
			return false
		}
	case ScopeAll:
	default:
		return false
	}
	return slices.Contains(c.Purposes, q.Purpose)
}

// GiveConsent records a new patient decision.
type GiveConsent struct {
	Scope     Scope    `json:"scope"`
	Provision string   `json:"provision"`
	Purposes  []string `json:"purposes"`
	Expiry    int64    `json:"expiry,omitempty"`
}

// NarrowConsent removes purposes from, or brings forward the expiry of, an
// active consent. It can never widen one.
type NarrowConsent struct {
	Seq      uint64   `json:"seq"`
	Purposes []string `json:"purposes"`
	Expiry   int64    `json:"expiry,omitempty"`
}

// RevokeConsent ends a consent for every job admitted afterwards.
type RevokeConsent struct {
	Seq uint64 `json:"seq"`
}

func (*GiveConsent) Type() TxType { return TxGiveConsent }

func (*NarrowConsent) Type() TxType { return TxNarrowConsent }

func (*RevokeConsent) Type() TxType { return TxRevokeConsent }

// Consent scopes.
const (
	ScopeDataset     = "dataset"
	ScopeInstitution = "institution"
	ScopeAll         = "all"
)

// Scope is what a consent covers.
type Scope struct {
	_    struct{} `cbor:",toarray"` // stored as an array of its fields (state.go)
	Kind string   `json:"kind"`
	ID   string   `json:"id,omitempty"` // dataset or organisation id; empty for all
}

// Consent provisions.
const (
	Permit = "permit"
	Deny   = "deny"
)

// Consent is one patient decision, modelled on a FHIR Consent provision.
// Once revoked it never becomes active again; a new decision is a new consent.
type Consent struct {
	_         struct{} `cbor:",toarray"` // stored as an array of its fields (state.go)
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

func (c *txCtx) validScope(s Scope) error {
	switch s.Kind {
	case ScopeDataset:
		if err := validID("msg.scope.id", s.ID); err != nil {
			return err
		}
		_, err := c.dataset(s.ID)
		return err
	case ScopeInstitution:
		if err := validID("msg.scope.id", s.ID); err != nil {
			return err
		}
		_, err := c.org(s.ID)
		return err
	case ScopeAll:
		if s.ID != "" {
			return errf(CodeInvalidField, "msg.scope.id: must be empty for scope all")
		}
		return nil
	}
	return errf(CodeInvalidField, "msg.scope.kind: %q is not one of dataset, institution, all", s.Kind)
}

func (c *txCtx) giveConsent(m *GiveConsent) ([]Event, error) {
	if err := c.requireKind(KindPatient); err != nil {
		return nil, err
	}
	if err := c.validScope(m.Scope); err != nil {
		return nil, err
	}
	if err := oneOf("msg.provision", m.Provision, []string{Permit, Deny}); err != nil {
		return nil, err
	}
	if err := validPurposes("msg.purposes", m.Purposes); err != nil {
		return nil, err
	}
	if m.Expiry != 0 && m.Expiry <= c.now {
		return nil, errf(CodeExpired, "msg.expiry: %d is not after the block time %d", m.Expiry, c.now)
	}
	var seq uint64
	if _, err := getState(c.s, KeyConsentCount(c.addr), &seq); err != nil {
		return nil, err
	}
	con := Consent{Patient: c.addr, Seq: seq, Scope: m.Scope, Provision: m.Provision, Purposes: m.Purposes, Expiry: m.Expiry, Created: c.height}
	if err := putState(c.s, KeyConsentCount(c.addr), seq+1); err != nil {
		return nil, err
	}
	return ev("give_consent", "patient", c.addr, "seq", fmt.Sprint(seq)), putState(c.s, KeyConsent(c.addr, seq), con)
}

// activeConsent loads one of the signer's consents that is still in force.
func (c *txCtx) activeConsent(seq uint64) (*Consent, error) {
	if err := c.requireKind(KindPatient); err != nil {
		return nil, err
	}
	var con Consent
	found, err := getState(c.s, KeyConsent(c.addr, seq), &con)
	if err != nil {
		return nil, err
	}
	if !found {
		return nil, errf(CodeNotFound, "msg.seq: %s has no consent %d", c.addr, seq)
	}
	if con.Revoked != 0 {
		return nil, errf(CodeInvalidState, "msg.seq: consent %d was revoked at height %d; give a new consent instead", seq, con.Revoked)
	}
	if con.Expiry != 0 && con.Expiry <= c.now {
		return nil, errf(CodeExpired, "msg.seq: consent %d expired at %d", seq, con.Expiry)
	}
	return &con, nil
}

func (c *txCtx) narrowConsent(m *NarrowConsent) ([]Event, error) {
	con, err := c.activeConsent(m.Seq)
	if err != nil {
		return nil, err
	}
	// Consents are stored as they are now, so narrowing rewrites how jobs
	// admitted earlier read them. For a permit that only ever takes use
	// away; for a deny it would hand use back retroactively. A deny is
	// therefore ended by revocation (which keeps its effect on earlier
	// jobs) and replaced by a new consent.
	if con.Provision == Deny {
		return nil, errf(CodeInvalidState, "msg.seq: consent %d is a deny; narrowing it would widen use for jobs already admitted — revoke it and give a new consent", m.Seq)
	}
	if err := validPurposes("msg.purposes", m.Purposes); err != nil {
		return nil, err
	}
	for i, p := range m.Purposes {
		if !slices.Contains(con.Purposes, p) {
			return nil, errf(CodeInvalidField, "msg.purposes[%d]: %q is not in consent %d; narrowing cannot add purposes", i, p, m.Seq)
		}
	}
	before := con.Expiry
	if m.Expiry != 0 {
		if m.Expiry <= c.now {
			return nil, errf(CodeExpired, "msg.expiry: %d is not after the block time %d (revoke instead)", m.Expiry, c.now)
		}
		if con.Expiry != 0 && m.Expiry > con.Expiry {
			return nil, errf(CodeInvalidField, "msg.expiry: %d is later than the consent's expiry %d; narrowing cannot extend", m.Expiry, con.Expiry)
		}
		con.Expiry = m.Expiry
	}
	if len(m.Purposes) == len(con.Purposes) && con.Expiry == before {
		return nil, errf(CodeInvalidField, "msg: narrows nothing (same purposes, no new expiry)")
	}
	con.Purposes = m.Purposes
	con.Narrowed = c.height
	return ev("narrow_consent", "patient", c.addr, "seq", fmt.Sprint(m.Seq)), putState(c.s, KeyConsent(c.addr, m.Seq), con)
}

func (c *txCtx) revokeConsent(m *RevokeConsent) ([]Event, error) {
	con, err := c.activeConsent(m.Seq)
	if err != nil {
		return nil, err
	}
	con.Revoked = c.height
	return ev("revoke_consent", "patient", c.addr, "seq", fmt.Sprint(m.Seq)), putState(c.s, KeyConsent(c.addr, m.Seq), con)
}

// KeyConsentCount counts a patient's consents (the next sequence number).
func KeyConsentCount(patient string) []byte { return []byte("s/ccount/" + patient) }

// KeyConsent is one of a patient's consents.
func KeyConsent(patient string, seq uint64) []byte {
	return []byte("s/consent/" + patient + "/" + num(seq))
}

// ConsentKeyPatient says whether key is a state key of the consent
// feature (one of a patient's consents, or their consent count) and whose:
// what readers that answer without authentication must not serve.
func ConsentKeyPatient(key []byte) (patient string, ok bool) {
	for _, p := range [][]byte{prefixConsent, KeyConsentCount("")} {
		if rest, found := bytes.CutPrefix(key, p); found { // both end in "/"
			patient, _, _ = strings.Cut(string(rest), "/")
			return patient, true
		}
	}
	return "", false
}

// prefixConsent lists every consent of every patient.
var prefixConsent = []byte(strings.TrimSuffix(string(KeyConsent("", 0)), "/"+num(0)))

// GetConsent reads one consent.
func GetConsent(r store.Reader, patient string, seq uint64) (*Consent, error) {
	return getOne[Consent](r, KeyConsent(patient, seq))
}

// GetConsents reads all of a patient's consents, oldest first.
func GetConsents(r store.Reader, patient string) ([]Consent, error) {
	var n uint64
	if _, err := getState(r, KeyConsentCount(patient), &n); err != nil {
		return nil, err
	}
	out := make([]Consent, 0, n)
	for i := uint64(0); i < n; i++ {
		c, err := GetConsent(r, patient, i)
		if err != nil {
			return nil, err
		}
		if c == nil {
			return nil, &Error{Code: CodeInternal, Msg: fmt.Sprintf("consent %d of %s missing", i, patient)}
		}
		out = append(out, *c)
	}
	return out, nil
}

// ErrBadCursor: a consent page's after value is not a consent key.
var ErrBadCursor = fmt.Errorf("ledger: not a consent cursor")

// ListConsents lists up to limit consents after the cursor after (""
// for the first page), in state key order (by patient address, each
// patient's oldest first). next is the cursor of the following page, ""
// when there is none.
func ListConsents(it Iterator, after string, limit int) (consents []Consent, next string, err error) {
	return ListConsentsWhere(it, after, limit, nil)
}

// ListConsentsWhere is ListConsents over the consents keep accepts (nil:
// all): a page holds up to limit of those. It is how a listing is limited
// to what its reader may see (the API's signed consent routes).
func ListConsentsWhere(it Iterator, after string, limit int, keep func(*Consent) bool) (consents []Consent, next string, err error) {
	if after != "" && !strings.HasPrefix(after, string(prefixConsent)) {
		return nil, "", ErrBadCursor
	}
	consents = []Consent{}
	var last []byte
	var derr error
	// Iterator has no start key: a later page skips the keys before it
	// (cheap: no decoding), O(consents) per page.
	err = it.Iterate(prefixConsent, func(k, v []byte) bool {
		if after != "" && string(k) <= after {
			return true
		}
		if len(consents) == limit {
			next = string(last)
			return false
		}
		var c Consent
		if derr = DecodeState(v, &c); derr != nil {
			derr = fmt.Errorf("ledger: decode %s: %w", k, derr)
			return false
		}
		if keep != nil && !keep(&c) {
			return true
		}
		consents = append(consents, c)
		last = append(last[:0], k...)
		return true
	})
	if err == nil {
		err = derr
	}
	return consents, next, err
}
