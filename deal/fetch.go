package deal

import (
	"context"
	"fmt"

	"github.com/medchain/medchain/api"
	"github.com/medchain/medchain/client"
	"github.com/medchain/medchain/keys"
	"github.com/medchain/medchain/ledger"
)

// Source is what a buyer reads to collect a deal's rows. *client.Client
// implements it.
type Source interface {
	Deal(ctx context.Context, id uint64) (*ledger.Deal, error)
	Acceptances(ctx context.Context, deal uint64, status string) ([]ledger.Acceptance, error)
	DealRow(ctx context.Context, deal uint64, patient string) (*api.DealRowBlob, error)
}

var _ Source = (*client.Client)(nil)

// Fetched is one delivered row, opened.
type Fetched struct {
	Patient string `json:"patient"` // the wallet that accepted (the ledger shows it)
	RowHash string `json:"row_hash"`
	Row     *Row   `json:"row"`
}

// Fetch collects every delivered row of a deal: each ciphertext checked
// against the hash its delivery put on the ledger, decrypted with the
// buyer's key, and checked to carry the deal's id and exactly its fields.
func Fetch(ctx context.Context, s Source, dealID uint64, k *keys.Key) ([]Fetched, error) {
	d, err := s.Deal(ctx, dealID)
	if err != nil {
		return nil, err
	}
	acc, err := s.Acceptances(ctx, dealID, ledger.AcceptanceDelivered)
	if err != nil {
		return nil, err
	}
	out := make([]Fetched, 0, len(acc))
	for _, a := range acc {
		b, err := s.DealRow(ctx, dealID, a.Patient)
		if err != nil {
			return nil, fmt.Errorf("row of %s: %w", a.Patient, err)
		}
		r, err := Open(b.Ciphertext, a.Delivery.RowHash, k)
		if err != nil {
			return nil, fmt.Errorf("row of %s: %w", a.Patient, err)
		}
		if err := Check(r, d.ID, d.Fields); err != nil {
			return nil, fmt.Errorf("row of %s: %w", a.Patient, err)
		}
		out = append(out, Fetched{Patient: a.Patient, RowHash: a.Delivery.RowHash, Row: r})
	}
	return out, nil
}
