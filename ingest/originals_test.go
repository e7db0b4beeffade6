package ingest_test

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/medchain/medchain/deid"
	"github.com/medchain/medchain/ingest"
	"github.com/medchain/medchain/keys"
	"github.com/medchain/medchain/vault"
)

// Ingest keeps each patient's original record — the FHIR Bundle's bytes,
// exactly as read — sealed to the institution's originals key, and only
// that key opens it: not the node's research vault key, not the worker key
// every version is wrapped to (the key the compute worker opens data
// with). And nothing of an original is in the research store.
func TestOriginalsKeptApartFromResearchData(t *testing.T) {
	e := newEnv(t)
	inst := keys.FromSeed("st-mary-admin", [32]byte{1: 1})
	oid, err := vault.OriginalsIdentity(inst.Enc)
	if err != nil {
		t.Fatal(err)
	}
	worker := keys.FromSeed("st-mary-worker", [32]byte{2: 2})
	wid, err := vault.NewIdentity(worker.Enc) // the key the compute worker opens versions with
	if err != nil {
		t.Fatal(err)
	}
	wr, err := vault.NewRecipient(worker.EncPub())
	if err != nil {
		t.Fatal(err)
	}
	orig := oid.Recipient()
	rep, err := e.run(ingest.Options{Source: synthea, Format: ingest.FHIR, Originals: &orig, Recipients: []vault.Recipient{wr}})
	if err != nil {
		t.Fatal(err)
	}
	if rep.OriginalsKept != syntheaPatients {
		t.Fatalf("originals kept: %d, want %d", rep.OriginalsKept, syntheaPatients)
	}
	d, _ := deid.New(deid.SafeHarbor(), e.secret)
	for _, path := range patientBundles(t, synthea) {
		src, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		p := d.PatientPseudonym(readBundle(t, path).patientID())
		got, err := e.v.Originals(oid, []string{p})
		if err != nil {
			t.Fatal(err)
		}
		if len(got) != 1 || !bytes.Equal(got[0].Data, src) || got[0].MediaType != "application/fhir+json" || got[0].Dataset != "cohort" || got[0].Version != 1 {
			t.Fatalf("%s: the original is not the bundle as read (%d originals)", filepath.Base(path), len(got))
		}
		// The research vault's key and the worker's keys do not open it.
		for name, id := range map[string]*vault.Identity{"node vault key": e.node, "worker": wid} {
			if _, err := e.v.Originals(id, []string{p}); !errors.Is(err, vault.ErrNotRecipient) {
				t.Fatalf("%s opened originals: %v", name, err)
			}
		}
	}
	// The worker key does open the research version (that is its job) …
	if _, err := e.v.Open("cohort", 1, rep.Vault.ContentRoot, wid); err != nil {
		t.Fatalf("the worker cannot open the research version: %v", err)
	}
	// … and no file of the research store holds a byte sequence of an
	// original: a distinctive name from the bundles is nowhere in datasets/.
	names := plantedNames(t)
	filepath.WalkDir(filepath.Join(e.v.Root(), "datasets"), func(p string, de os.DirEntry, err error) error {
		if err != nil || de.IsDir() {
			return err
		}
		b, _ := os.ReadFile(p)
		for _, n := range names {
			if bytes.Contains(b, []byte(n)) {
				t.Errorf("%s holds %q", p, n)
			}
		}
		return nil
	})
}

// A CSV row's original is the header and that row, as a CSV file.
func TestOriginalsOfCSVRows(t *testing.T) {
	e := newEnv(t)
	path, m := writeCohort(t, 40)
	oid, _ := vault.OriginalsIdentity(keys.FromSeed("st-mary-admin", [32]byte{1: 1}).Enc)
	orig := oid.Recipient()
	rep, err := e.run(ingest.Options{Source: path, Format: ingest.CSV, Mapping: m, Originals: &orig})
	if err != nil {
		t.Fatal(err)
	}
	if rep.OriginalsKept != rep.RowsKept {
		t.Fatalf("kept %d originals of %d rows", rep.OriginalsKept, rep.RowsKept)
	}
	src, _ := os.ReadFile(path)
	lines := strings.Split(strings.TrimSpace(string(src)), "\n")
	id := strings.Split(lines[1], ",")[0] // the synthetic CSV's first column is the patient id
	d, _ := deid.New(deid.SafeHarbor(), e.secret)
	got, err := e.v.Originals(oid, []string{d.PatientPseudonym(id)})
	if err != nil || len(got) != 1 {
		t.Fatalf("originals: %d, %v", len(got), err)
	}
	if want := lines[0] + "\n" + lines[1] + "\n"; string(got[0].Data) != want || got[0].MediaType != "text/csv" {
		t.Fatalf("original %q, want %q", got[0].Data, want)
	}
	// A publication the ledger refuses leaves no originals behind.
	e.ledger.fail = errors.New("refused")
	if _, err := e.run(ingest.Options{Source: path, Format: ingest.CSV, Mapping: m, Originals: &orig}); err == nil {
		t.Fatal("publication did not fail")
	}
	if _, err := os.Stat(filepath.Join(e.v.Root(), "originals", "cohort", "2")); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("originals of the refused version 2 remain: %v", err)
	}
}

// plantedNames are family names of the Synthea patients (their file names
// start with them), which their bundles carry.
func plantedNames(t *testing.T) []string {
	var out []string
	for _, p := range patientBundles(t, synthea) {
		base := filepath.Base(p)
		out = append(out, strings.TrimRight(strings.Split(base, "_")[1], "0123456789"))
	}
	return out
}
