package ledger

import (
	"fmt"
	"math/bits"
	"slices"

	"github.com/medchain/medchain/store"
)

// txCtx is what a handler sees: the transaction, its signer's account (nil
// only for a self-registering patient) and a private overlay of the state.
type txCtx struct {
	chainID string
	s       store.ReadWriter
	height  int64
	now     int64
	tx      *Tx
	signer  *Account
	addr    string
}

func ev(typ string, kv ...string) []Event {
	e := Event{Type: typ}
	for i := 0; i+1 < len(kv); i += 2 {
		e.Attrs = append(e.Attrs, Attribute{kv[i], kv[i+1]})
	}
	return []Event{e}
}

func (c *txCtx) params() (Params, error) {
	var p Params
	found, err := getJSON(c.s, KeyParams(), &p)
	if err == nil && !found {
		err = errf(CodeInternal, "chain parameters missing")
	}
	return p, err
}

func (c *txCtx) org(id string) (*Org, error) {
	var o Org
	found, err := getJSON(c.s, KeyOrg(id), &o)
	if err != nil {
		return nil, err
	}
	if !found {
		return nil, errf(CodeNotFound, "organisation %q does not exist", id)
	}
	return &o, nil
}

func (c *txCtx) requireKind(kinds ...AccountKind) error {
	if !slices.Contains(kinds, c.signer.Kind) {
		return errf(CodeUnauthorized, "%s accounts may not sign %s (allowed: %v)", c.signer.Kind, c.tx.Payload.Type, kinds)
	}
	return nil
}

// requireAdmin checks the signer administers org.
func (c *txCtx) requireAdmin(org *Org) error {
	if !slices.Contains(org.Admins, c.addr) {
		return errf(CodeUnauthorized, "%s is not an admin of organisation %q", c.addr, org.ID)
	}
	return nil
}

// requireMember checks the signer is an institution account of org.
func (c *txCtx) requireMember(orgID string) error {
	if c.signer.Kind != KindInstitution || c.signer.Org != orgID {
		return errf(CodeUnauthorized, "only institution accounts of organisation %q may do this; signer is a %s account of %q", orgID, c.signer.Kind, c.signer.Org)
	}
	return nil
}

func (c *txCtx) newAccount(pub, enc []byte, kind AccountKind, org string) (*Account, error) {
	a := &Account{Address: Address(pub), PubKey: pub, EncKey: enc, Kind: kind, Org: org, Registered: c.height}
	existing, err := getAccount(c.s, a.Address)
	if err != nil {
		return nil, err
	}
	if existing != nil {
		return nil, errf(CodeAlreadyExists, "account %s is already registered", a.Address)
	}
	return a, putJSON(c.s, KeyAccount(a.Address), a)
}

func (c *txCtx) createOrg(m *CreateOrg) ([]Event, error) {
	p, err := c.params()
	if err != nil {
		return nil, err
	}
	if !slices.Contains(p.Authorities, c.addr) {
		return nil, errf(CodeUnauthorized, "only consortium authorities may admit organisations; %s is not one", c.addr)
	}
	if err := validID("msg.id", m.ID); err != nil {
		return nil, err
	}
	if err := validText("msg.name", m.Name, 200, true); err != nil {
		return nil, err
	}
	if err := oneOf("msg.kind", m.Kind, OrgKinds); err != nil {
		return nil, err
	}
	if err := validKeyBytes("msg.admin_pub_key", m.Admin); err != nil {
		return nil, err
	}
	if err := validEncKey("msg.admin_enc_key", m.EncKey); err != nil {
		return nil, err
	}
	if b, err := c.s.Get(KeyOrg(m.ID)); err != nil {
		return nil, errf(CodeInternal, "read org: %v", err)
	} else if b != nil {
		return nil, errf(CodeAlreadyExists, "organisation %q already exists", m.ID)
	}
	admin, err := c.newAccount(m.Admin, m.EncKey, KindInstitution, m.ID)
	if err != nil {
		return nil, err
	}
	o := Org{ID: m.ID, Name: m.Name, Kind: m.Kind, Admins: []string{admin.Address}, Created: c.height}
	return ev("create_org", "org", m.ID, "admin", admin.Address), putJSON(c.s, KeyOrg(m.ID), o)
}

func (c *txCtx) setOrgAdmin(m *SetOrgAdmin) ([]Event, error) {
	o, err := c.org(m.Org)
	if err != nil {
		return nil, err
	}
	if err := c.requireAdmin(o); err != nil {
		return nil, err
	}
	if err := validAddress("msg.address", m.Address); err != nil {
		return nil, err
	}
	target, err := getAccount(c.s, m.Address)
	if err != nil {
		return nil, err
	}
	if target == nil {
		return nil, errf(CodeUnknownAccount, "msg.address: no account %s", m.Address)
	}
	if target.Org != o.ID || target.Kind != KindInstitution {
		return nil, errf(CodeInvalidField, "msg.address: admins must be institution accounts of %q", o.ID)
	}
	i := slices.Index(o.Admins, m.Address)
	switch {
	case m.Admin && i >= 0, !m.Admin && i < 0:
		if m.Admin {
			return nil, errf(CodeInvalidState, "%s is already an admin of %q", m.Address, o.ID)
		}
		return nil, errf(CodeInvalidState, "%s is not an admin of %q", m.Address, o.ID)
	case m.Admin:
		o.Admins = append(o.Admins, m.Address)
		slices.Sort(o.Admins)
	default:
		if len(o.Admins) == 1 {
			return nil, errf(CodeInvalidState, "cannot remove the last admin of %q", o.ID)
		}
		o.Admins = slices.Delete(o.Admins, i, i+1)
	}
	return ev("set_org_admin", "org", o.ID, "address", m.Address), putJSON(c.s, KeyOrg(o.ID), o)
}

func (c *txCtx) registerAccount(m *RegisterAccount) ([]Event, error) {
	if err := validKeyBytes("msg.pub_key", m.PubKey); err != nil {
		return nil, err
	}
	if err := validEncKey("msg.enc_key", m.EncKey); err != nil {
		return nil, err
	}
	if err := oneOf("msg.kind", m.Kind, AccountKinds); err != nil {
		return nil, err
	}
	self := equalBytes(m.PubKey, c.tx.Payload.Signer)
	if m.Kind == KindPatient {
		// A patient's wallet is theirs alone: no organisation registers it.
		if !self {
			return nil, errf(CodeUnauthorized, "patients register their own key: msg.pub_key must be the signer")
		}
		if m.Org != "" {
			return nil, errf(CodeInvalidField, "msg.org: patient accounts belong to no organisation")
		}
	} else {
		if self || c.signer == nil {
			return nil, errf(CodeUnauthorized, "%s accounts are registered by an admin of their organisation", m.Kind)
		}
		if err := validID("msg.org", m.Org); err != nil {
			return nil, err
		}
		o, err := c.org(m.Org)
		if err != nil {
			return nil, err
		}
		if err := c.requireAdmin(o); err != nil {
			return nil, err
		}
	}
	if self && c.signer != nil {
		return nil, errf(CodeAlreadyExists, "account %s is already registered", c.addr)
	}
	a, err := c.newAccount(m.PubKey, m.EncKey, m.Kind, m.Org)
	if err != nil {
		return nil, err
	}
	if self {
		a.Nonce = 1 // this transaction used nonce 0
		if err := putJSON(c.s, KeyAccount(a.Address), a); err != nil {
			return nil, err
		}
	}
	return ev("register_account", "address", a.Address, "kind", string(a.Kind), "org", a.Org), nil
}

func (c *txCtx) transfer(m *Transfer) ([]Event, error) {
	if err := validAddress("msg.to", m.To); err != nil {
		return nil, err
	}
	if m.Amount == 0 {
		return nil, errf(CodeInvalidField, "msg.amount: must be positive")
	}
	if m.To == c.addr {
		return nil, errf(CodeInvalidField, "msg.to: cannot transfer to yourself")
	}
	to, err := getAccount(c.s, m.To)
	if err != nil {
		return nil, err
	}
	if to == nil {
		return nil, errf(CodeUnknownAccount, "msg.to: no account %s", m.To)
	}
	if c.signer.Balance < m.Amount {
		return nil, errf(CodeInsufficientFund, "balance of %s is %d, transfer needs %d", c.addr, c.signer.Balance, m.Amount)
	}
	sum, carry := bits.Add64(to.Balance, m.Amount, 0)
	if carry != 0 {
		return nil, errf(CodeOverflow, "balance of %s would overflow", m.To)
	}
	c.signer.Balance -= m.Amount
	to.Balance = sum
	if err := putJSON(c.s, KeyAccount(c.addr), c.signer); err != nil {
		return nil, err
	}
	return ev("transfer", "from", c.addr, "to", m.To, "amount", fmt.Sprint(m.Amount)), putJSON(c.s, KeyAccount(m.To), to)
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
	found, err := getJSON(c.s, KeyDataset(m.ID), &ds)
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
	if err := putJSON(c.s, KeyDatasetVersion(m.ID, m.Version), v); err != nil {
		return nil, err
	}
	return ev("register_dataset", "dataset", m.ID, "version", fmt.Sprint(m.Version), "org", ds.Org),
		putJSON(c.s, KeyDataset(m.ID), ds)
}

func (c *txCtx) dataset(id string) (*Dataset, error) {
	var ds Dataset
	found, err := getJSON(c.s, KeyDataset(id), &ds)
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
	if err := oneOf("msg.policy.attestation", p.Attestation, []string{AttestSoftware, AttestHardware}); err != nil {
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
	if err := putJSON(c.s, KeyDataset(ds.ID), ds); err != nil {
		return nil, err
	}
	return ev("set_policy", "dataset", ds.ID), putJSON(c.s, KeyPolicy(ds.ID), p)
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
	if _, err := getJSON(c.s, KeyConsentCount(c.addr), &seq); err != nil {
		return nil, err
	}
	con := Consent{Patient: c.addr, Seq: seq, Scope: m.Scope, Provision: m.Provision, Purposes: m.Purposes, Expiry: m.Expiry, Created: c.height}
	if err := putJSON(c.s, KeyConsentCount(c.addr), seq+1); err != nil {
		return nil, err
	}
	return ev("give_consent", "patient", c.addr, "seq", fmt.Sprint(seq)), putJSON(c.s, KeyConsent(c.addr, seq), con)
}

// activeConsent loads one of the signer's consents that is still in force.
func (c *txCtx) activeConsent(seq uint64) (*Consent, error) {
	if err := c.requireKind(KindPatient); err != nil {
		return nil, err
	}
	var con Consent
	found, err := getJSON(c.s, KeyConsent(c.addr, seq), &con)
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
	return ev("narrow_consent", "patient", c.addr, "seq", fmt.Sprint(m.Seq)), putJSON(c.s, KeyConsent(c.addr, m.Seq), con)
}

func (c *txCtx) revokeConsent(m *RevokeConsent) ([]Event, error) {
	con, err := c.activeConsent(m.Seq)
	if err != nil {
		return nil, err
	}
	con.Revoked = c.height
	return ev("revoke_consent", "patient", c.addr, "seq", fmt.Sprint(m.Seq)), putJSON(c.s, KeyConsent(c.addr, m.Seq), con)
}

func (c *txCtx) requestAccess(m *RequestAccess) ([]Event, error) {
	if err := c.requireKind(KindResearcher, KindInstitution); err != nil {
		return nil, err
	}
	ds, err := c.dataset(m.Dataset)
	if err != nil {
		return nil, err
	}
	if err := oneOf("msg.purpose", m.Purpose, Purposes); err != nil {
		return nil, err
	}
	if !ds.HasPolicy {
		return nil, errf(CodeInvalidState, "dataset %q has no policy yet", ds.ID)
	}
	var p Policy
	if _, err := getJSON(c.s, KeyPolicy(ds.ID), &p); err != nil {
		return nil, err
	}
	if p.Expiry != 0 && p.Expiry <= c.now {
		return nil, errf(CodeExpired, "the policy of dataset %q expired at %d", ds.ID, p.Expiry)
	}
	if !slices.Contains(p.Purposes, m.Purpose) {
		return nil, errf(CodeUnauthorized, "msg.purpose: dataset %q does not allow purpose %q", ds.ID, m.Purpose)
	}
	// Anyone the policy does not already admit may ask; the dataset's
	// institution decides. A grant admits its holder's jobs for that
	// dataset and purpose (see admitSite).
	var id uint64
	if _, err := getJSON(c.s, KeyAccessCount(), &id); err != nil {
		return nil, err
	}
	r := AccessRequest{ID: id, Dataset: ds.ID, Requester: c.addr, Purpose: m.Purpose, Status: AccessPending, Created: c.height}
	if err := putJSON(c.s, KeyAccessCount(), id+1); err != nil {
		return nil, err
	}
	return ev("request_access", "request", fmt.Sprint(id), "dataset", ds.ID), putJSON(c.s, KeyAccess(id), r)
}

// RequesterAllowed reports whether a policy's requester clause admits an account.
func RequesterAllowed(r Requesters, a *Account) bool {
	return r.Anyone || (a.Org != "" && slices.Contains(r.Orgs, a.Org)) || slices.Contains(r.Kinds, a.Kind)
}

func (c *txCtx) decideAccess(m *DecideAccess) ([]Event, error) {
	var r AccessRequest
	found, err := getJSON(c.s, KeyAccess(m.Request), &r)
	if err != nil {
		return nil, err
	}
	if !found {
		return nil, errf(CodeNotFound, "msg.request: no access request %d", m.Request)
	}
	ds, err := c.dataset(r.Dataset)
	if err != nil {
		return nil, err
	}
	if err := c.requireMember(ds.Org); err != nil {
		return nil, err
	}
	if r.Status != AccessPending {
		return nil, errf(CodeInvalidState, "msg.request: request %d is already %s", r.ID, r.Status)
	}
	if m.Expiry != 0 && (!m.Grant || m.Expiry <= c.now) {
		return nil, errf(CodeInvalidField, "msg.expiry: only a grant has an expiry, and it must be after the block time %d", c.now)
	}
	r.Status, r.Expiry, r.DecidedBy, r.Decided = AccessDenied, m.Expiry, c.addr, c.height
	if m.Grant {
		r.Status = AccessGranted
		if err := putJSON(c.s, KeyAccessGrant(r.Dataset, r.Requester, r.Purpose), r.ID); err != nil {
			return nil, err
		}
	}
	return ev("decide_access", "request", fmt.Sprint(r.ID), "status", r.Status), putJSON(c.s, KeyAccess(r.ID), r)
}
