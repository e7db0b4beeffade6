package ledger

import (
	"slices"

	"github.com/medchain/medchain/store"
)

// Transaction types of this feature.
const (
	TxCreateOrg   TxType = "create_org"
	TxSetOrgAdmin TxType = "set_org_admin"
)

// CreateOrg admits an organisation and registers its first admin (an
// institution account). Signed by a consortium authority.
type CreateOrg struct {
	ID     string  `json:"id"`
	Name   string  `json:"name"`
	Kind   OrgKind `json:"kind"`
	Admin  []byte  `json:"admin_pub_key"`
	EncKey []byte  `json:"admin_enc_key"`
	// AdminPossession is the admin key's proof of possession for its
	// registration into the new organisation (ProvePossession).
	AdminPossession []byte `json:"admin_possession"`
}

// SetOrgAdmin adds or removes an admin. Signed by an admin of the org.
type SetOrgAdmin struct {
	Org     string `json:"org"`
	Address string `json:"address"`
	Admin   bool   `json:"admin"`
}

func (*CreateOrg) Type() TxType { return TxCreateOrg }

func (*SetOrgAdmin) Type() TxType { return TxSetOrgAdmin }

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
	_       struct{} `cbor:",toarray"` // stored as an array of its fields (state.go)
	ID      string   `json:"id"`
	Name    string   `json:"name"`
	Kind    OrgKind  `json:"kind"`
	Admins  []string `json:"admins"`
	Created int64    `json:"created_height"`
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
	if err := checkPossession("msg.admin_possession", c.chainID, m.ID, m.Admin, m.AdminPossession); err != nil {
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
	return ev("create_org", "org", m.ID, "admin", admin.Address), putState(c.s, KeyOrg(m.ID), o)
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
	return ev("set_org_admin", "org", o.ID, "address", m.Address), putState(c.s, KeyOrg(o.ID), o)
}

func (c *txCtx) org(id string) (*Org, error) {
	var o Org
	found, err := getState(c.s, KeyOrg(id), &o)
	if err != nil {
		return nil, err
	}
	if !found {
		return nil, errf(CodeNotFound, "organisation %q does not exist", id)
	}
	return &o, nil
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

// KeyOrg is an organisation by id.
func KeyOrg(id string) []byte { return []byte("s/org/" + id) }

// GetOrg reads an organisation.
func GetOrg(r store.Reader, id string) (*Org, error) { return getOne[Org](r, KeyOrg(id)) }

// ListOrgs lists organisations in id order.
func ListOrgs(it Iterator) ([]Org, error) { return list[Org](it, KeyOrg(""), nil) }
