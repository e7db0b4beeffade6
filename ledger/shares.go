package ledger

import (
	"strconv"

	"github.com/medchain/medchain/store"
)

// Record shares: a patient's copy of their own record, shared with a
// clinician for a second opinion. The record itself never comes near the
// ledger: the institution's node that serves the share holds it, encrypted
// either to the clinician's registered key or under a one-time key that
// only the link carries. What the ledger records is that a share exists
// and what became of it — enough for the patient to see every share and
// every opening, and for the serving node to be held to the patient's
// revocation — and nothing that identifies anyone's record:
//
//   - share_record (signed by the patient): the share's hash (a SHA-256
//     commitment to the share's id, ciphertext and passcode verifier, made
//     by package recordshare), the recipient (an account address, or
//     "link"), the institution account whose node serves it, the expiry.
//   - revoke_share (signed by the patient): the share will not open.
//   - close_share (signed by the serving institution account): the share
//     was opened, or locked after too many wrong passcodes. A share opens
//     once; the serving node releases the ciphertext only after this
//     transaction commits, so a revocation that committed first wins.
//
// The hash is of random and encrypted bytes only: it cannot be computed
// from, or checked against, a patient's record.

// Share is a record share as the ledger keeps it.
type Share struct {
	Hash      string `json:"hash"`
	Owner     string `json:"owner"`     // the patient who shared
	Recipient string `json:"recipient"` // an account address, or ShareLink
	Server    string `json:"server"`    // the institution account serving it
	Expiry    int64  `json:"expiry"`    // unix seconds; the share does not open at or after it
	Status    string `json:"status"`
	Created   int64  `json:"created_height"`
	CreatedAt int64  `json:"created_time"`
	Closed    int64  `json:"closed_height,omitempty"` // height it was opened, revoked or locked
	ClosedAt  int64  `json:"closed_time,omitempty"`
}

// ShareLink is the recipient of a share anyone holding its link (and
// passcode) may open.
const ShareLink = "link"

// Share statuses. An active share past its expiry is expired: that is
// read from the block time, not stored (ShareState).
const (
	ShareActive  = "active"
	ShareOpened  = "opened"
	ShareRevoked = "revoked"
	ShareLocked  = "locked"
	ShareExpired = "expired" // never stored: see ShareState
)

// ShareOutcomes are what close_share may record.
var ShareOutcomes = []string{ShareOpened, ShareLocked}

// MaxShareSeconds bounds how far ahead a share may expire: 90 days. A
// second opinion needs days, not years; a forgotten link should die.
const MaxShareSeconds = 90 * 24 * 3600

// ShareState is the share's status at block time now: ShareExpired for
// an active share at or past its expiry.
func (s *Share) ShareState(now int64) string {
	if s.Status == ShareActive && now >= s.Expiry {
		return ShareExpired
	}
	return s.Status
}

// ShareRecord announces a share of the signer's record.
type ShareRecord struct {
	Hash      string `json:"hash"`
	Recipient string `json:"recipient"`
	Server    string `json:"server"`
	Expiry    int64  `json:"expiry"`
}

// RevokeShare withdraws a share before it is opened.
type RevokeShare struct {
	Hash string `json:"hash"`
}

// CloseShare records, by the serving institution account, that a share
// was opened or locked.
type CloseShare struct {
	Hash    string `json:"hash"`
	Outcome string `json:"outcome"`
}

// Transaction types of record shares.
const (
	TxShareRecord TxType = "share_record"
	TxRevokeShare TxType = "revoke_share"
	TxCloseShare  TxType = "close_share"
)

func (*ShareRecord) Type() TxType { return TxShareRecord }
func (*RevokeShare) Type() TxType { return TxRevokeShare }
func (*CloseShare) Type() TxType  { return TxCloseShare }

// KeyShare is a share by its hash.
func KeyShare(hash string) []byte { return []byte("s/share/" + hash) }

// KeySharesOf is a patient's copy of a share, under the patient, so that
// the patient's shares list with one prefix scan (ListSharesOf).
func KeySharesOf(owner, hash string) []byte { return []byte("s/shareof/" + owner + "/" + hash) }

// GetShare reads a share.
func GetShare(r store.Reader, hash string) (*Share, error) { return getOne[Share](r, KeyShare(hash)) }

// ListSharesOf lists a patient's shares, by hash.
func ListSharesOf(it Iterator, owner string) ([]Share, error) {
	return list[Share](it, KeySharesOf(owner, ""), nil)
}

func putShare(w store.Writer, s *Share) error {
	if err := putState(w, KeyShare(s.Hash), s); err != nil {
		return err
	}
	return putState(w, KeySharesOf(s.Owner, s.Hash), s)
}

// ShareRefusal is why a share cannot open or change at time now (nil if
// it is active): one code per reason, so the serving node and the
// patient's client can say which.
func ShareRefusal(s *Share, now int64) error {
	switch s.ShareState(now) {
	case ShareActive:
		return nil
	case ShareRevoked:
		return errf(CodeShareRevoked, "share %s was revoked by the patient", s.Hash)
	case ShareOpened:
		return errf(CodeShareClosed, "share %s was opened already (a share opens once)", s.Hash)
	case ShareLocked:
		return errf(CodeShareLocked, "share %s is locked after too many wrong passcodes", s.Hash)
	default:
		return errf(CodeExpired, "share %s expired at %d", s.Hash, s.Expiry)
	}
}

func (c *txCtx) shareRecord(m *ShareRecord) ([]Event, error) {
	if err := c.requireKind(KindPatient); err != nil {
		return nil, err
	}
	if err := validHash("msg.hash", m.Hash, true); err != nil {
		return nil, err
	}
	if m.Recipient != ShareLink {
		if err := validAddress("msg.recipient", m.Recipient); err != nil {
			return nil, errf(CodeInvalidField, "msg.recipient: want an account address or %q, got %q", ShareLink, m.Recipient)
		}
		if m.Recipient == c.addr {
			return nil, errf(CodeInvalidField, "msg.recipient: the signer's own account; share with a clinician's account or as a link")
		}
		r, err := getAccount(c.s, m.Recipient)
		if err != nil {
			return nil, err
		}
		if r == nil {
			return nil, errf(CodeUnknownAccount, "msg.recipient: no account %s", m.Recipient)
		}
		// Devices and workers are machines: nobody there reads a record.
		if r.Kind == KindDevice || r.Kind == KindWorker {
			return nil, errf(CodeInvalidField, "msg.recipient: %s is a %s account; share with a person's account", m.Recipient, r.Kind)
		}
	}
	if err := validAddress("msg.server", m.Server); err != nil {
		return nil, err
	}
	srv, err := getAccount(c.s, m.Server)
	if err != nil {
		return nil, err
	}
	if srv == nil {
		return nil, errf(CodeUnknownAccount, "msg.server: no account %s", m.Server)
	}
	if srv.Kind != KindInstitution {
		return nil, errf(CodeInvalidField, "msg.server: %s is a %s account; a share is served by an institution account's node", m.Server, srv.Kind)
	}
	if m.Expiry <= c.now {
		return nil, errf(CodeInvalidField, "msg.expiry: %d is not after the block time %d", m.Expiry, c.now)
	}
	if m.Expiry-c.now > MaxShareSeconds {
		return nil, errf(CodeInvalidField, "msg.expiry: %d is more than %d days after the block time %d", m.Expiry, MaxShareSeconds/86400, c.now)
	}
	prev, err := GetShare(c.s, m.Hash)
	if err != nil {
		return nil, err
	}
	if prev != nil {
		return nil, errf(CodeAlreadyExists, "msg.hash: share %s is recorded already", m.Hash)
	}
	s := &Share{Hash: m.Hash, Owner: c.addr, Recipient: m.Recipient, Server: m.Server, Expiry: m.Expiry,
		Status: ShareActive, Created: c.height, CreatedAt: c.now}
	return ev("share_record", "share", s.Hash, "recipient", s.Recipient, "expiry", strconv.FormatInt(s.Expiry, 10)), putShare(c.s, s)
}

// share reads the share a message names.
func (c *txCtx) share(hash string) (*Share, error) {
	if err := validHash("msg.hash", hash, true); err != nil {
		return nil, err
	}
	s, err := GetShare(c.s, hash)
	if err != nil {
		return nil, err
	}
	if s == nil {
		return nil, errf(CodeNotFound, "msg.hash: no share %s", hash)
	}
	return s, nil
}

func (c *txCtx) revokeShare(m *RevokeShare) ([]Event, error) {
	s, err := c.share(m.Hash)
	if err != nil {
		return nil, err
	}
	if s.Owner != c.addr {
		return nil, errf(CodeUnauthorized, "share %s is not the signer's: only the patient who shared it may revoke it", s.Hash)
	}
	if err := ShareRefusal(s, c.now); err != nil {
		return nil, err
	}
	s.Status, s.Closed, s.ClosedAt = ShareRevoked, c.height, c.now
	return ev("revoke_share", "share", s.Hash), putShare(c.s, s)
}

func (c *txCtx) closeShare(m *CloseShare) ([]Event, error) {
	s, err := c.share(m.Hash)
	if err != nil {
		return nil, err
	}
	if err := oneOf("msg.outcome", m.Outcome, ShareOutcomes); err != nil {
		return nil, err
	}
	if s.Server != c.addr {
		return nil, errf(CodeUnauthorized, "share %s is served by %s, not the signer", s.Hash, s.Server)
	}
	if err := ShareRefusal(s, c.now); err != nil {
		return nil, err
	}
	s.Status, s.Closed, s.ClosedAt = m.Outcome, c.height, c.now
	return ev("close_share", "share", s.Hash, "outcome", m.Outcome), putShare(c.s, s)
}
