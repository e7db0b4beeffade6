package ingest_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/medchain/medchain/csvsrc"
	"github.com/medchain/medchain/ingest"
	"github.com/medchain/medchain/synth"
)

// Reports and errors name fields, rules and positions (file N, row, JSON
// path), never a source value or a source file name. Planted here: an SSN
// and a name in the unit of a blood pressure, and patient UUIDs and names
// in file names (the Synthea fixtures' own names, and one more); the
// ingest's error (fail), its report, the sealed quarantine report, what
// it publishes and every byte written to the vault are searched for them.
func TestReportsCarryNoSourceStrings(t *testing.T) {
	const (
		ssn      = "123-45-6789"
		name     = "Jane Roe"
		fileUUID = "5b1f0c3e-8a44-4f0e-9d7e-2c1a7e3b9f10"
	)
	planted := []string{ssn, name, fileUUID}
	dir := t.TempDir()
	for i, p := range patientBundles(t, synthea) {
		base := filepath.Base(p)
		planted = append(planted, strings.TrimSuffix(base, ".json")) // e.g. Carolee951_Sanford861_d88f994a-…
		b := readBundle(t, p)
		if i == 0 {
			// The first patient's blood pressure carries a name and SSN
			// for a unit (a bad row: unknown unit).
			n := 0
			for _, o := range b.resources("Observation") {
				for _, c := range asSlice(o["component"]) {
					c := c.(map[string]any)
					if strings.Contains(fmt.Sprint(c["code"]), "8480-6") {
						q := c["valueQuantity"].(map[string]any)
						q["unit"] = name + " SSN " + ssn // the display unit …
						q["code"] = name + " " + ssn     // … and the UCUM code the reader prefers
						n++
					}
				}
			}
			if n == 0 {
				t.Fatal("no systolic pressure to plant a unit in")
			}
			base = "Roe_Jane_" + fileUUID + ".json"
		}
		out, _ := json.Marshal(b)
		if err := os.WriteFile(filepath.Join(dir, base), out, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	// A broken bundle, also named by a patient UUID.
	raw, _ := os.ReadFile(patientBundles(t, synthea)[1])
	broken := "d0c5e7a2-1111-4a2b-8c3d-9e8f7a6b5c4d"
	planted = append(planted, broken)
	os.WriteFile(filepath.Join(dir, broken+".json"), raw[:len(raw)/2], 0o600)

	search := func(what string, b []byte) {
		t.Helper()
		for _, s := range planted {
			if bytes.Contains(b, []byte(s)) {
				t.Errorf("%s holds %q:\n%.2000s", what, s, b)
			}
		}
	}

	e := newEnv(t)
	_, err := e.run(ingest.Options{Source: dir, Format: ingest.FHIR, BadRows: ingest.Fail})
	if err == nil {
		t.Fatal("the bad rows did not fail the ingest")
	}
	search("the error (--bad-rows fail)", []byte(err.Error()))
	for _, want := range []string{"file ", "sbp", "unknown unit for LOINC 8480-6", "Bundle.entry["} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("the error does not say %q:\n%s", want, err)
		}
	}

	rep, err := e.run(ingest.Options{Source: dir, Format: ingest.FHIR, BadRows: ingest.Quarantine})
	if err != nil {
		t.Fatal(err)
	}
	if rep.RowsQuarantined != 2 {
		t.Fatalf("quarantined %d rows, want 2", rep.RowsQuarantined)
	}
	b, _ := json.Marshal(rep)
	search("the ingest report", b)
	if len(rep.SourceFiles) != syntheaPatients+1 || rep.SourceFiles[0].SHA256 == "" {
		t.Fatalf("source files: %+v", rep.SourceFiles)
	}
	r, err := e.v.Open("cohort", 1, rep.Vault.ContentRoot, e.node)
	if err != nil {
		t.Fatal(err)
	}
	q, err := r.Quarantine()
	if err != nil {
		t.Fatal(err)
	}
	b, _ = json.Marshal(q)
	search("the quarantine report", b)
	if !bytes.Contains(b, []byte(`"Field":"sbp"`)) {
		t.Errorf("the quarantine report does not name the field: %s", b)
	}
	// The report sealed with the version (the console's ingest report)
	// is the run's report, less what only the commit and publication tell.
	sealed, err := ingest.ReadReport(r)
	if err != nil || sealed == nil {
		t.Fatalf("sealed ingest report: %v %v", sealed, err)
	}
	if sealed.RowsRead != rep.RowsRead || sealed.RowsKept != rep.RowsKept || sealed.RowsQuarantined != 2 ||
		len(sealed.Deid) == 0 || fmt.Sprint(sealed.Quarantined) != fmt.Sprint(rep.Quarantined) {
		t.Fatalf("sealed ingest report %+v, the run's %+v", sealed, rep)
	}
	b, _ = json.Marshal(sealed)
	search("the sealed ingest report", b)
	b, _ = json.Marshal(e.ledger.published)
	search("the published register_dataset", b)
	filepath.Walk(e.v.Root(), func(p string, info os.FileInfo, err error) error {
		if err == nil && info.Mode().IsRegular() {
			b, _ := os.ReadFile(p)
			search("vault file "+p, append([]byte(p+"\n"), b...))
		}
		return nil
	})

	// A CSV source named by a patient UUID with a malformed row: its
	// error names "file 1" and the row.
	people, _ := synth.Generate(synth.Config{N: 20, Seed: 9, RefDate: refDate})
	var csv, mb bytes.Buffer
	synth.WriteCSV(&csv, people)
	synth.WriteCSVMapping(&mb)
	m, err := csvsrc.ParseMapping("mapping.json", &mb)
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.SplitAfter(csv.String(), "\n")
	lines[4] = "x," + ssn + "\n"
	path := filepath.Join(t.TempDir(), fileUUID+".csv")
	os.WriteFile(path, []byte(strings.Join(lines, "")), 0o600)
	_, err = e.run(ingest.Options{Source: path, Format: ingest.CSV, Mapping: &m, Dataset: "csv"})
	if err == nil || !strings.Contains(err.Error(), "file 1: row 5") {
		t.Fatalf("malformed CSV row: %v", err)
	}
	search("the CSV error", []byte(err.Error()))
	// A missing source is named by nothing it was given.
	_, err = e.run(ingest.Options{Source: filepath.Join(dir, "Doe_John_"+fileUUID), Format: ingest.FHIR, Dataset: "missing"})
	if err == nil {
		t.Fatal("a missing source was ingested")
	}
	search("the missing-source error", []byte(err.Error()))
}
