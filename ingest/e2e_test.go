package ingest_test

import (
	"context"
	"errors"
	"path/filepath"
	"slices"
	"testing"

	"github.com/medchain/medchain/client"
	"github.com/medchain/medchain/ingest"
	"github.com/medchain/medchain/normalize"
	"github.com/medchain/medchain/vault"
)

// Every Synthea bundle, ingested against a real node: the ledger publishes
// the version's content root, schema, band and profile; the vault's chunks
// have exactly that root and open with the node's key; any chunk can be
// proved to belong to the published version; a second ingest is version 2;
// and a publication the ledger refuses leaves nothing in the vault.
func TestEndToEnd(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a node")
	}
	rn := newRealNode(t)
	ctx := context.Background()
	v, err := vault.Open(filepath.Join(rn.home, "vault"))
	if err != nil {
		t.Fatal(err)
	}
	secret, _ := v.Secret()
	inst := rn.key(t, "st-mary-admin")
	nodeID, _ := vault.NodeIdentity(inst.Enc)
	cfg := normalize.DefaultConfig()
	cfg.RefDate = refDate
	o := ingest.Options{Source: synthea, Format: ingest.FHIR, Normalize: cfg, Dataset: "synthea", Title: "Synthea sample"}
	l := ingest.ClientLedger{Client: rn.c, Key: inst}

	rep, err := ingest.Run(ctx, v, nodeID, secret, l, o)
	if err != nil {
		t.Fatal(err)
	}
	if rep.RowsKept != syntheaPatients || rep.Published.Height == 0 || rep.Published.TxHash == "" {
		t.Fatalf("report: %+v", rep)
	}
	dv, err := rn.c.DatasetVersion(ctx, "synthea", 1)
	if err != nil {
		t.Fatal(err)
	}
	if dv.ContentRoot != rep.Vault.ContentRoot || dv.RecordBand != "<100" || dv.DeidProfile != rep.DeidProfile ||
		!slices.Equal(dv.Schema, rep.Schema) || dv.Locator != "vault:synthea/1" || dv.PublishedBy != inst.Address() {
		t.Fatalf("ledger has %+v", dv)
	}
	r, err := v.Open("synthea", 1, dv.ContentRoot, nodeID)
	if err != nil {
		t.Fatal(err)
	}
	if err := r.Manifest().CheckPublished(vault.Published{Dataset: dv.Dataset, Version: dv.Version, Schema: dv.Schema,
		RecordBand: dv.RecordBand, ContentRoot: dv.ContentRoot, DeidProfile: dv.DeidProfile, Locator: dv.Locator}); err != nil {
		t.Fatal(err)
	}
	vr, err := r.Verify()
	if err != nil || vr.ContentRoot != dv.ContentRoot || vr.Chunks != rep.Vault.Chunks {
		t.Fatalf("verify: %+v, %v", vr, err)
	}
	sealed, proof, err := v.ReadChunk("synthea", 1, "sbp", 0)
	if err != nil {
		t.Fatal(err)
	}
	if err := vault.VerifyChunk(dv.ContentRoot, sealed, proof); err != nil {
		t.Fatalf("proof against the ledger's root: %v", err)
	}

	rep2, err := ingest.Run(ctx, v, nodeID, secret, l, o)
	if err != nil || rep2.Version != 2 {
		t.Fatalf("second ingest: %+v, %v", rep2, err)
	}
	if d, err := rn.c.Dataset(ctx, "synthea"); err != nil || d.LatestVersion != 2 {
		t.Fatalf("ledger after the second ingest: %+v, %v", d, err)
	}

	// Another organisation's admin may not publish St Mary's dataset: the
	// ledger refuses, and the sealed version 3 is removed again.
	other := rn.key(t, "northside-admin")
	otherID, _ := vault.NodeIdentity(other.Enc)
	_, err = ingest.Run(ctx, v, otherID, secret, ingest.ClientLedger{Client: rn.c, Key: other}, o)
	var apiErr *client.Error
	if !errors.As(err, &apiErr) || apiErr.Name != "unauthorized" {
		t.Fatalf("publication by another org: %v", err)
	}
	if v.Has("synthea", 3) {
		t.Fatal("the refused version stayed in the vault")
	}
}
