package ingest

import (
	"github.com/medchain/medchain/ledger"
	"github.com/medchain/medchain/vault"
)

// Verified is a stored version checked against its ledger record.
type Verified struct {
	Dataset     string   `json:"dataset"`
	Version     uint64   `json:"version"`
	ContentRoot string   `json:"content_root"` // recomputed from the stored chunks
	Chunks      int      `json:"chunks"`       // re-hashed and opened
	Bytes       int64    `json:"bytes"`
	Rows        uint64   `json:"rows"`
	RecordBand  string   `json:"record_band"` // as published
	Recipients  []string `json:"recipients"`  // who the data key is wrapped to
}

// Published is what the vault checks of a version's ledger record.
func published(dv *ledger.DatasetVersion) vault.Published {
	return vault.Published{Dataset: dv.Dataset, Version: dv.Version, Schema: dv.Schema, RecordBand: dv.RecordBand,
		ContentRoot: dv.ContentRoot, DeidProfile: dv.DeidProfile, Locator: dv.Locator}
}

// Verify checks the version of vault v that ledger record dv publishes:
// opened with node (which must be a recipient of its data key), its
// stored schema, band, profile and locator are the published ones, and
// every chunk is re-hashed and opened and the Merkle root recomputed and
// compared with the published content root. A flipped byte anywhere is an
// error naming the dataset, version, column and chunk.
func Verify(v *vault.Vault, node *vault.Identity, dv *ledger.DatasetVersion) (*Verified, error) {
	r, err := v.Open(dv.Dataset, dv.Version, dv.ContentRoot, node)
	if err != nil {
		return nil, err
	}
	m := r.Manifest()
	if err := m.CheckPublished(published(dv)); err != nil {
		return nil, err
	}
	rep, err := r.Verify()
	if err != nil {
		return nil, err
	}
	return &Verified{Dataset: dv.Dataset, Version: dv.Version, ContentRoot: rep.ContentRoot, Chunks: rep.Chunks,
		Bytes: rep.Bytes, Rows: m.Rows, RecordBand: dv.RecordBand, Recipients: m.Recipients()}, nil
}
