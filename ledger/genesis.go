package ledger

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math/bits"
	"slices"

	"github.com/medchain/medchain/store"
)

// Genesis is medchain's part of the CometBFT genesis document (app_state).
type Genesis struct {
	// Authorities are addresses of accounts (listed below) that may admit
	// new organisations.
	Authorities []string `json:"authorities"`
	// JobTimeoutBlocks: see Params (0 = DefaultJobTimeoutBlocks).
	JobTimeoutBlocks int64 `json:"job_timeout_blocks,omitempty"`
	// MaxTxsPerAccountPerBlock, MaxSelfRegistrationsPerBlock: see Params
	// (0 = the defaults in admission.go).
	MaxTxsPerAccountPerBlock     uint32           `json:"max_txs_per_account_per_block,omitempty"`
	MaxSelfRegistrationsPerBlock uint32           `json:"max_self_registrations_per_block,omitempty"`
	Orgs                         []GenesisOrg     `json:"orgs"`
	Accounts                     []GenesisAccount `json:"accounts"`
}

// GenesisOrg is an organisation present from the start.
type GenesisOrg struct {
	ID     string   `json:"id"`
	Name   string   `json:"name"`
	Kind   OrgKind  `json:"kind"`
	Admins []string `json:"admins"`
}

// GenesisAccount is an account present from the start, with its allocation.
type GenesisAccount struct {
	PubKey  []byte      `json:"pub_key"`
	EncKey  []byte      `json:"enc_key"`
	Kind    AccountKind `json:"kind"`
	Org     string      `json:"org,omitempty"`
	Balance uint64      `json:"balance"`
}

// ParseGenesis decodes app_state strictly.
func ParseGenesis(b []byte) (Genesis, error) {
	var g Genesis
	if len(bytes.TrimSpace(b)) == 0 {
		return g, errf(CodeInvalidField, "genesis app_state: empty")
	}
	if err := strictUnmarshal(b, &g); err != nil {
		return g, errf(CodeMalformed, "genesis app_state: %v", err)
	}
	return g, nil
}

// apply validates the genesis and stages its state.
func (g Genesis) apply(w store.ReadWriter, chainID string) error {
	if err := validText("chain_id", chainID, 50, true); err != nil {
		return err
	}
	orgs := map[string]bool{}
	for i, o := range g.Orgs {
		at := fmt.Sprintf("genesis.orgs[%d]", i)
		if err := validID(at+".id", o.ID); err != nil {
			return err
		}
		if orgs[o.ID] {
			return errf(CodeAlreadyExists, "%s.id: duplicate organisation %q", at, o.ID)
		}
		orgs[o.ID] = true
		if err := oneOf(at+".kind", o.Kind, OrgKinds); err != nil {
			return err
		}
		if err := validText(at+".name", o.Name, 200, true); err != nil {
			return err
		}
	}
	accts := map[string]GenesisAccount{}
	var supply uint64
	for i, a := range g.Accounts {
		at := fmt.Sprintf("genesis.accounts[%d]", i)
		if err := validKeyBytes(at+".pub_key", a.PubKey); err != nil {
			return err
		}
		if err := validEncKey(at+".enc_key", a.EncKey); err != nil {
			return err
		}
		if err := oneOf(at+".kind", a.Kind, AccountKinds); err != nil {
			return err
		}
		if a.Kind == KindPatient && a.Org != "" {
			return errf(CodeInvalidField, "%s.org: patient accounts belong to no organisation", at)
		}
		if a.Kind != KindPatient && !orgs[a.Org] {
			return errf(CodeNotFound, "%s.org: organisation %q is not in genesis", at, a.Org)
		}
		addr := Address(a.PubKey)
		if _, dup := accts[addr]; dup {
			return errf(CodeAlreadyExists, "%s: duplicate account %s", at, addr)
		}
		accts[addr] = a
		var carry uint64
		supply, carry = bits.Add64(supply, a.Balance, 0)
		if carry != 0 {
			return errf(CodeOverflow, "%s.balance: total supply overflows", at)
		}
		acct := Account{Address: addr, PubKey: a.PubKey, EncKey: a.EncKey, Kind: a.Kind, Org: a.Org, Balance: a.Balance}
		if err := putState(w, KeyAccount(addr), acct); err != nil {
			return err
		}
	}
	for i, o := range g.Orgs {
		at := fmt.Sprintf("genesis.orgs[%d]", i)
		if len(o.Admins) == 0 {
			return errf(CodeInvalidField, "%s.admins: an organisation needs at least one admin", at)
		}
		for j, ad := range o.Admins {
			if slices.Contains(o.Admins[:j], ad) {
				return errf(CodeInvalidField, "%s.admins[%d]: duplicate admin %s", at, j, ad)
			}
			a, ok := accts[ad]
			if !ok || a.Org != o.ID || a.Kind != KindInstitution {
				return errf(CodeInvalidField, "%s.admins[%d]: %s must be an institution account of %q in genesis", at, j, ad, o.ID)
			}
		}
		admins := slices.Clone(o.Admins)
		slices.Sort(admins)
		if err := putState(w, KeyOrg(o.ID), Org{ID: o.ID, Name: o.Name, Kind: o.Kind, Admins: admins}); err != nil {
			return err
		}
	}
	for i, a := range g.Authorities {
		if _, ok := accts[a]; !ok {
			return errf(CodeInvalidField, "genesis.authorities[%d]: %s is not a genesis account", i, a)
		}
	}
	if err := putState(w, KeySupply(), supply); err != nil {
		return err
	}
	if g.JobTimeoutBlocks < 0 {
		return errf(CodeInvalidField, "genesis.job_timeout_blocks: negative")
	}
	return putState(w, KeyParams(), Params{ChainID: chainID, Authorities: g.Authorities, JobTimeoutBlocks: g.JobTimeoutBlocks,
		MaxTxsPerAccountPerBlock: g.MaxTxsPerAccountPerBlock, MaxSelfRegistrationsPerBlock: g.MaxSelfRegistrationsPerBlock})
}

// MarshalGenesis encodes a genesis for a CometBFT genesis document.
func MarshalGenesis(g Genesis) (json.RawMessage, error) {
	return json.MarshalIndent(g, "", "  ")
}

// Params are chain-wide settings fixed at genesis.
type Params struct {
	_           struct{} `cbor:",toarray"` // stored as an array of its fields (state.go)
	ChainID     string   `json:"chain_id"`
	Authorities []string `json:"authorities"` // addresses allowed to admit organisations
	// JobTimeoutBlocks is how long an admitted job may wait for its results
	// before anyone may expire it (refunding the requester); 0 = default.
	JobTimeoutBlocks int64 `json:"job_timeout_blocks,omitempty"`
	// MaxTxsPerAccountPerBlock caps one signer's transactions in a block,
	// failed ones included (admission.go); 0 = the default.
	MaxTxsPerAccountPerBlock uint32 `json:"max_txs_per_account_per_block,omitempty"`
	// MaxSelfRegistrationsPerBlock caps the new patient keys registering
	// themselves in a block; 0 = the default.
	MaxSelfRegistrationsPerBlock uint32 `json:"max_self_registrations_per_block,omitempty"`
}

// DefaultJobTimeoutBlocks applies when genesis sets no job timeout.
const DefaultJobTimeoutBlocks = 600

// KeyParams is the chain parameters key.
func KeyParams() []byte { return []byte("s/params") }

// GetParams reads the chain parameters.
func GetParams(r store.Reader) (*Params, error) { return getOne[Params](r, KeyParams()) }
