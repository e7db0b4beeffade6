// Package patientlink records, on an institution's side, which wallet a
// source patient belongs to, so that its compute worker applies that
// wallet's consents to the patient's de-identified row.
//
// The patient's pseudonym is computed from the source patient id exactly as
// ingest computed it (package deid, keyed with the vault's secret, under
// the de-identification profile the dataset was ingested with), and the
// pair pseudonym → wallet goes into the organisation's link table in the
// vault. Neither the patient id nor the pseudonym leaves this machine, and
// neither is in any error or result of this package.
package patientlink

import (
	"context"
	"errors"
	"fmt"

	"github.com/medchain/medchain/api"
	"github.com/medchain/medchain/deid"
	"github.com/medchain/medchain/ledger"
	"github.com/medchain/medchain/vault"
)

// Ledger is what linking needs to read of the ledger. *client.Client
// implements it.
type Ledger interface {
	Dataset(ctx context.Context, id string) (*api.DatasetInfo, error)
	Account(ctx context.Context, addr string) (*ledger.Account, error)
}

// Request says which patient to link to which wallet.
type Request struct {
	// Institution is the address of the institution account linking: it
	// must belong to the organisation that holds Dataset.
	Institution string
	// Dataset is a dataset of the organisation; its latest version names
	// the de-identification profile the pseudonyms were made under.
	Dataset   string
	PatientID string      // the patient's id in the source system
	Wallet    string      // the patient's account address
	Rules     *deid.Rules // the profile the dataset was ingested with; nil means Safe Harbor
	// Node is the institution's node key (vault.NodeIdentity of its
	// account key): the link table's key is wrapped to it, and it must
	// open an existing table's key.
	Node *vault.Identity
	// Share are further keys that may read the table — the organisation's
	// compute workers, which apply the linked wallets' consents. They are
	// added to the table key's recipients, never removed.
	Share []vault.Recipient
}

// Result is a link recorded.
type Result struct {
	Org    string `json:"org"`
	Wallet string `json:"wallet"`
	// Replaced is the wallet the patient was linked to before, if any.
	Replaced string `json:"replaced"`
}

// ErrWrongOrg is returned for an institution account of another
// organisation than the dataset's.
var ErrWrongOrg = errors.New("the account is not of the dataset's organisation")

// ErrWrongProfile is returned when the rules are not the profile the
// dataset's latest version was ingested with: the pseudonym would not be
// the row's.
var ErrWrongProfile = errors.New("not the de-identification profile of the dataset")

// Link records that r.PatientID's row in r.Dataset's organisation belongs
// to r.Wallet, in the organisation's link table of the vault that open
// opens. open is called only once the ledger's checks have passed, so a
// refused link leaves no trace on disk.
func Link(ctx context.Context, l Ledger, open func() (*vault.Vault, error), r Request) (*Result, error) {
	if r.Dataset == "" || r.PatientID == "" || r.Wallet == "" {
		return nil, errors.New("a dataset, a patient id and a wallet are required")
	}
	if r.Node == nil {
		return nil, errors.New("the institution's node key is required: it wraps the link table's key")
	}
	ds, err := l.Dataset(ctx, r.Dataset)
	if err != nil {
		return nil, err
	}
	acct, err := l.Account(ctx, r.Institution)
	if err != nil {
		return nil, err
	}
	if acct.Org != ds.Org {
		return nil, fmt.Errorf("%w: %s is an account of %q; dataset %s is held by %q", ErrWrongOrg, r.Institution, acct.Org, r.Dataset, ds.Org)
	}
	dv := ds.Latest
	if dv == nil {
		return nil, fmt.Errorf("dataset %s has no published version to link patients of", r.Dataset)
	}
	rules := r.Rules
	if rules == nil {
		rules = deid.SafeHarbor()
	}
	h, err := rules.Hash()
	if err != nil {
		return nil, err
	}
	if dv.DeidProfile != "" && h != dv.DeidProfile {
		return nil, fmt.Errorf("%w: profile %s is not the one %s version %d was ingested with (%s)", ErrWrongProfile, h, r.Dataset, dv.Version, dv.DeidProfile)
	}
	v, err := open()
	if err != nil {
		return nil, err
	}
	secret, err := v.Secret()
	if err != nil {
		return nil, err
	}
	d, err := deid.New(rules, secret)
	if err != nil {
		return nil, err
	}
	prev, err := v.LinkPatient(ds.Org, d.PatientPseudonym(r.PatientID), r.Wallet, r.Node, r.Share...)
	if err != nil {
		return nil, err
	}
	return &Result{Org: ds.Org, Wallet: r.Wallet, Replaced: prev}, nil
}
