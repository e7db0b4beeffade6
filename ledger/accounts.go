package ledger

import (
	"crypto/ed25519"
	"math/bits"
	"slices"
	"strconv"

	cmted "github.com/cometbft/cometbft/crypto/ed25519"

	"github.com/medchain/medchain/store"
)

// Transaction types of this feature.
const (
	TxRegisterAccount TxType = "register_account"
	TxTransfer        TxType = "transfer"
)

// RegisterAccount registers a key. A patient registers their own wallet key
// (PubKey equals the signer); every other kind is registered by an admin of
// the organisation it belongs to, with a proof of possession made by the
// key being registered (ProvePossession), so that no admin can take a key
// that is not theirs — a patient's, say, whose own registration would then
// fail.
type RegisterAccount struct {
	PubKey []byte      `json:"pub_key"`
	EncKey []byte      `json:"enc_key"`
	Kind   AccountKind `json:"kind"`
	Org    string      `json:"org,omitempty"`
	// Possession is the registered key's signature of PossessionBytes
	// (chain, org, address); absent for a self-registration, whose
	// transaction signature proves as much.
	Possession []byte `json:"possession,omitempty"`
}

// possessionDomain separates proofs of possession from transaction
// signatures made by the same key.
const possessionDomain = "medchain/possession/v1"

// PossessionBytes is what a proof of possession signs: a domain tag, the
// chain, the organisation the key is registered into and the key's
// address. The proof is good for that one registration only: not on
// another chain, not into another organisation, not for another key.
func PossessionBytes(chainID, org, addr string) []byte {
	b := make([]byte, 0, len(possessionDomain)+len(chainID)+len(org)+len(addr)+3)
	b = append(b, possessionDomain...)
	b = append(b, 0)
	b = append(b, chainID...)
	b = append(b, 0)
	b = append(b, org...)
	b = append(b, 0)
	return append(b, addr...)
}

// ProvePossession is the proof of possession of key for its registration
// into org on chainID (RegisterAccount.Possession, CreateOrg.AdminPossession).
func ProvePossession(key ed25519.PrivateKey, chainID, org string) []byte {
	return ed25519.Sign(key, PossessionBytes(chainID, org, Address(key.Public().(ed25519.PublicKey))))
}

// checkPossession verifies a proof of possession of pub for org, by the
// rules transaction signatures are verified by (tx.go).
func checkPossession(field, chainID, org string, pub, sig []byte) error {
	if len(sig) != ed25519.SignatureSize {
		return errf(CodeInvalidField, "%s: want the registered key's %d-byte signature of its registration (a proof of possession), got %d bytes", field, ed25519.SignatureSize, len(sig))
	}
	if !cmted.PubKey(pub).VerifySignature(PossessionBytes(chainID, org, Address(pub)), sig) {
		return errf(CodeUnauthorized, "%s: not a signature of key %s for its registration into %q on this chain", field, Address(pub), org)
	}
	return nil
}

// Transfer moves tokens between accounts.
type Transfer struct {
	To     string `json:"to"`
	Amount uint64 `json:"amount"`
}

func (*RegisterAccount) Type() TxType { return TxRegisterAccount }

func (*Transfer) Type() TxType { return TxTransfer }

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
	_          struct{}    `cbor:",toarray"` // stored as an array of its fields (state.go)
	Address    string      `json:"address"`
	PubKey     []byte      `json:"pub_key"` // ed25519 public key (32 bytes)
	EncKey     []byte      `json:"enc_key"` // X25519 public key (32 bytes) results are encrypted to
	Kind       AccountKind `json:"kind"`
	Org        string      `json:"org,omitempty"`
	Nonce      uint64      `json:"nonce"` // next nonce this account must sign with
	Balance    uint64      `json:"balance"`
	Registered int64       `json:"registered_height"`
}

func (c *txCtx) requireKind(kinds ...AccountKind) error {
	if !slices.Contains(kinds, c.signer.Kind) {
		return errf(CodeUnauthorized, "%s accounts may not sign %s (allowed: %v)", c.signer.Kind, c.tx.Payload.Type, kinds)
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
	return a, putState(c.s, KeyAccount(a.Address), a)
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
		if len(m.Possession) != 0 {
			return nil, errf(CodeInvalidField, "msg.possession: a self-registration carries no proof of possession; its signature is one")
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
		if err := checkPossession("msg.possession", c.chainID, m.Org, m.PubKey, m.Possession); err != nil {
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
		if err := putState(c.s, KeyAccount(a.Address), a); err != nil {
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
	if err := putState(c.s, KeyAccount(c.addr), c.signer); err != nil {
		return nil, err
	}
	return ev("transfer", "from", c.addr, "to", m.To, "amount", strconv.FormatUint(m.Amount, 10)), putState(c.s, KeyAccount(m.To), to)
}

// KeyAccount is an account by address.
func KeyAccount(addr string) []byte { return []byte("s/acct/" + addr) }

// KeySupply is the total token supply, fixed at genesis.
func KeySupply() []byte { return []byte("s/supply") }

func getAccount(r store.Reader, addr string) (*Account, error) {
	var a Account
	found, err := getState(r, KeyAccount(addr), &a)
	if err != nil || !found {
		return nil, err
	}
	return &a, nil
}

// GetAccount reads an account.
func GetAccount(r store.Reader, addr string) (*Account, error) { return getAccount(r, addr) }

// GetSupply reads the total token supply.
func GetSupply(r store.Reader) (uint64, error) {
	var s uint64
	_, err := getState(r, KeySupply(), &s)
	return s, err
}
