package ledger

import (
	"fmt"
	"slices"
	"strings"

	"github.com/medchain/medchain/store"
)

// Transaction types of this feature.
const (
	TxRequestAccess TxType = "request_access"
	TxDecideAccess  TxType = "decide_access"
)

// RequestAccess asks a dataset's owner for access for one purpose.
type RequestAccess struct {
	Dataset string `json:"dataset"`
	Purpose string `json:"purpose"`
}

// DecideAccess grants or denies a pending request.
type DecideAccess struct {
	Request uint64 `json:"request"`
	Grant   bool   `json:"grant"`
	Expiry  int64  `json:"expiry,omitempty"`
}

func (*RequestAccess) Type() TxType { return TxRequestAccess }

func (*DecideAccess) Type() TxType { return TxDecideAccess }

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

// KeyAccessCount counts access requests (the next request id).
func KeyAccessCount() []byte { return []byte("s/acount") }

// KeyAccess is an access request by id.
func KeyAccess(id uint64) []byte { return []byte("s/access/" + num(id)) }

// prefixAccess lists every access request.
var prefixAccess = []byte(strings.TrimSuffix(string(KeyAccess(0)), num(0)))

// KeyAccessGrant indexes the request that granted an account access to a
// dataset for a purpose (purposes are vocabulary words, without '/').
func KeyAccessGrant(dataset, requester, purpose string) []byte {
	return []byte("s/agrant/" + dataset + "/" + requester + "/" + purpose)
}

// GetAccessRequest reads an access request.
func GetAccessRequest(r store.Reader, id uint64) (*AccessRequest, error) {
	return getOne[AccessRequest](r, KeyAccess(id))
}

// ListAccessRequests lists access requests in id order.
func ListAccessRequests(it Iterator, keep func(*AccessRequest) bool) ([]AccessRequest, error) {
	return list(it, prefixAccess, keep)
}
