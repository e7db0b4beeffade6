package ledger

import (
	"github.com/medchain/medchain/store"
)

// Account suspension. An admin of an organisation may suspend any account
// of it (a clinician who left, a compromised worker key) and reactivate it
// later. A suspended account signs nothing: every transaction it signs
// fails with account_suspended (its nonce consumed, nothing else
// changed), and whatever decides from the ledger who may see what — a
// device's live stream, say — treats it as no longer of the organisation.
// Patients belong to no organisation and are never suspended.
//
// The suspension is its own record, present only while it lasts, so the
// account record keeps its layout and reactivation deletes it.

// TxSetAccountStatus suspends or reactivates an account.
const TxSetAccountStatus TxType = "set_account_status"

// Account statuses.
const (
	AccountActive    = "active"
	AccountSuspended = "suspended"
)

// AccountStatuses lists the statuses set_account_status accepts.
var AccountStatuses = []string{AccountActive, AccountSuspended}

// SetAccountStatus sets the status of an account of the signer's
// organisation; the signer must be an admin of it.
type SetAccountStatus struct {
	Address string `json:"address"`
	Status  string `json:"status"`
}

func (*SetAccountStatus) Type() TxType { return TxSetAccountStatus }

// Suspension is the record of a suspended account.
type Suspension struct {
	_      struct{} `cbor:",toarray"`
	By     string   `json:"by"`     // the admin who suspended it
	Height int64    `json:"height"` // the block it was suspended in
}

// KeySuspension is the suspension of an account, present while it lasts.
func KeySuspension(addr string) []byte { return []byte("s/suspended/" + addr) }

// GetSuspension reads an account's suspension (nil if it is not suspended).
func GetSuspension(r store.Reader, addr string) (*Suspension, error) {
	return getOne[Suspension](r, KeySuspension(addr))
}

// Suspended reports whether an account is suspended.
func Suspended(r store.Reader, addr string) (bool, error) {
	s, err := GetSuspension(r, addr)
	return s != nil, err
}

// checkNotSuspended refuses a suspended signer.
func checkNotSuspended(r store.Reader, addr string) error {
	s, err := GetSuspension(r, addr)
	if err != nil {
		return err
	}
	if s != nil {
		return errf(CodeAccountSuspended, "payload.signer: account %s is suspended (since block %d)", addr, s.Height)
	}
	return nil
}

func (c *txCtx) setAccountStatus(m *SetAccountStatus) ([]Event, error) {
	if err := validAddress("msg.address", m.Address); err != nil {
		return nil, err
	}
	if err := oneOf("msg.status", m.Status, AccountStatuses); err != nil {
		return nil, err
	}
	target, err := getAccount(c.s, m.Address)
	if err != nil {
		return nil, err
	}
	if target == nil {
		return nil, errf(CodeUnknownAccount, "msg.address: no account %s", m.Address)
	}
	if target.Org == "" {
		return nil, errf(CodeInvalidField, "msg.address: %s accounts belong to no organisation and cannot be suspended", target.Kind)
	}
	o, err := c.org(target.Org)
	if err != nil {
		return nil, err
	}
	if err := c.requireAdmin(o); err != nil {
		return nil, err
	}
	if m.Address == c.addr {
		// An admin suspended by itself could not undo it; another admin can.
		return nil, errf(CodeInvalidField, "msg.address: an admin cannot suspend or reactivate itself")
	}
	cur, err := GetSuspension(c.s, m.Address)
	if err != nil {
		return nil, err
	}
	switch {
	case m.Status == AccountSuspended && cur != nil:
		return nil, errf(CodeInvalidState, "%s is already suspended", m.Address)
	case m.Status == AccountActive && cur == nil:
		return nil, errf(CodeInvalidState, "%s is already active", m.Address)
	case m.Status == AccountSuspended:
		err = putState(c.s, KeySuspension(m.Address), Suspension{By: c.addr, Height: c.height})
	default:
		err = c.s.Delete(KeySuspension(m.Address))
	}
	return ev("set_account_status", "address", m.Address, "org", o.ID, "status", m.Status), err
}
