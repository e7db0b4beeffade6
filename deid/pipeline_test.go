package deid_test

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/medchain/medchain/csvsrc"
	"github.com/medchain/medchain/deid"
	"github.com/medchain/medchain/fhir"
	"github.com/medchain/medchain/normalize"
	"github.com/medchain/medchain/record"
	"github.com/medchain/medchain/synth"
	"github.com/medchain/medchain/vocab"
)

// TestPipelineStripsEveryIdentifier plants a synthetic cohort's
// identifiers, runs it through the real readers, the normaliser and Safe
// Harbor, and searches every output byte (rows, schema, report) for them.
func TestPipelineStripsEveryIdentifier(t *testing.T) {
	people, err := synth.Generate(synth.Config{N: 400, Seed: 11})
	if err != nil {
		t.Fatal(err)
	}
	cfg := normalize.DefaultConfig()
	cfg.RefDate = synth.DefaultRefDate

	t.Run("csv", func(t *testing.T) {
		var data, mapping bytes.Buffer
		synth.WriteCSV(&data, people)
		synth.WriteCSVMapping(&mapping)
		m, err := csvsrc.ParseMapping("cohort.mapping.json", &mapping)
		if err != nil {
			t.Fatal(err)
		}
		var patients []*record.Patient
		if err := csvsrc.Read("cohort.csv", &data, m, func(p *record.Patient) error { patients = append(patients, p); return nil }); err != nil {
			t.Fatal(err)
		}
		checkPipeline(t, people, patients, cfg)
	})
	t.Run("fhir", func(t *testing.T) {
		var patients []*record.Patient
		for _, p := range people {
			var b bytes.Buffer
			synth.WriteFHIRBundle(&b, p)
			pt, err := fhir.ReadBundle(p.ID+".json", &b)
			if err != nil {
				t.Fatal(err)
			}
			patients = append(patients, pt)
		}
		checkPipeline(t, people, patients, cfg)
	})
}

func checkPipeline(t *testing.T, people []synth.Person, patients []*record.Patient, cfg normalize.Config) {
	t.Helper()
	d, err := deid.New(deid.SafeHarbor(), []byte("an institution secret of 32 b!!"))
	if err != nil {
		t.Fatal(err)
	}
	var rows []record.Row
	var fields []string
	for _, pt := range patients {
		rec, err := normalize.Normalize(pt, cfg)
		if err != nil {
			t.Fatal(err)
		}
		row, err := d.Apply(rec)
		if err != nil {
			t.Fatal(err)
		}
		rows, fields = append(rows, row), rec.Fields
	}
	cols := d.SchemaFor(append(identifierFields(fields), normalize.Schema()...))
	out, _ := json.Marshal(struct {
		Cols   []deid.Column
		Rows   []record.Row
		Report string
	}{cols, rows, d.Report().String()})

	col := map[string]int{}
	for i, c := range cols {
		col[c.Name] = i
	}
	for _, name := range []string{"name", "birth_date", "address", "phone", "ssn", "mrn", "identifiers", "free_text"} {
		if _, ok := col[name]; ok {
			t.Errorf("%s is a column", name)
		}
	}
	if c := cols[col["sbp"]]; c.Code != "8480-6" || c.Unit != "mm[Hg]" {
		t.Errorf("sbp column lost its code or unit: %+v", c)
	}
	restricted, old := 0, 0
	for i, p := range people {
		for _, id := range []string{p.ID, p.MRN, p.Given, p.Family, p.MothersMaidenName, p.SSN, p.Phone, p.DriversLicence, p.Passport,
			p.Street, p.City, p.BirthDate.Format(time.DateOnly), p.VisitDate.Format(time.DateOnly), p.Note} {
			if bytes.Contains(out, []byte(id)) {
				t.Fatalf("person %d: identifier %q survived", i, id)
			}
		}
		row := rows[i]
		zip := row.Values[col["zip"]].Str
		if want := p.ZIP[:3]; zip != want && zip != "000" {
			t.Errorf("person %d: zip %s from %s", i, zip, p.ZIP)
		}
		if zip == "000" {
			restricted++
		}
		age := row.Values[col["age"]].Num
		switch {
		case p.Age >= 90 && age != 90, p.Age < 90 && age != float64(p.Age):
			t.Errorf("person %d: age %d became %v", i, p.Age, age)
		}
		if p.Age >= 90 {
			old++
		}
		if row.Values[col["sbp"]].Num != p.SBP || row.Values[col["smoker"]].B != (p.Smoking == synth.SmokingCurrent) {
			t.Errorf("person %d: research values changed", i)
		}
	}
	if restricted == 0 || old == 0 {
		t.Errorf("the cohort did not exercise the rules: %d restricted ZIPs, %d aged 90+", restricted, old)
	}
	if !strings.Contains(d.Report().String(), "generalise: top-coded") {
		t.Error("the report does not count top-coding")
	}
}

// identifierFields are the record fields that normalize.Schema does not
// describe (the identifiers), as bare schema fields.
func identifierFields(fields []string) record.Schema {
	research := map[string]bool{}
	for _, f := range normalize.Schema() {
		research[f.Name] = true
	}
	var out record.Schema
	for _, f := range fields {
		if !research[f] {
			out = append(out, vocab.Field{Name: f})
		}
	}
	return out
}
