package synth

import (
	"bytes"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/medchain/medchain/csvsrc"
	"github.com/medchain/medchain/fhir"
	"github.com/medchain/medchain/record"
)

// The cohort must read back through the vault's own readers with the
// values it was generated with. These tests are where a drift between the
// writers here and csvsrc or fhir shows.

// observed is what a reader saw of one person: LOINC → value or code,
// SNOMED conditions, RxNorm medications.
type observed struct {
	obs   map[string]float64
	coded map[string]string
	conds map[string]bool
	meds  map[string]bool
}

func observe(p *record.Patient) observed {
	o := observed{map[string]float64{}, map[string]string{}, map[string]bool{}, map[string]bool{}}
	for _, x := range p.Observations {
		if x.HasValue {
			o.obs[x.Code] = x.Value
		} else {
			o.coded[x.Code] = x.ValueCode
		}
	}
	for _, c := range p.Conditions {
		o.conds[c.Code] = true
	}
	for _, m := range p.Medications {
		o.meds[m.Code] = true
	}
	return o
}

func checkRead(t *testing.T, p *Person, got *record.Patient) {
	t.Helper()
	o := observe(got)
	for code, want := range map[string]float64{
		"8480-6": p.SBP, "8462-4": p.DBP, "2093-3": p.TotalChol, "2085-9": p.HDL, "18262-6": p.LDL,
		"39156-5": p.BMI, "4548-4": p.HbA1c, "2339-0": p.Glucose, "8867-4": p.HeartRate,
	} {
		if v, ok := o.obs[code]; !ok || v != want {
			t.Errorf("%s: %s = %v (present %v), want %v", p.ID, code, v, ok, want)
		}
	}
	if o.coded["72166-2"] != smokingCodes[p.Smoking] {
		t.Errorf("%s: smoking %q, want %q", p.ID, o.coded["72166-2"], smokingCodes[p.Smoking])
	}
	if o.conds["59621000"] != p.Hypertension || o.conds["44054006"] != p.Diabetes || o.meds[hctzCode] != p.BPTreated {
		t.Errorf("%s: conditions %v medications %v", p.ID, o.conds, o.meds)
	}
	if got.ID != p.ID || got.Sex != p.Sex || got.BirthDate[:10] != p.BirthDate.Format("2006-01-02") {
		t.Errorf("%s: read as id %s, sex %s, born %s", p.ID, got.ID, got.Sex, got.BirthDate)
	}
}

func TestCSVReadsBack(t *testing.T) {
	people := cohort()[:500]
	var data, mapping bytes.Buffer
	if err := WriteCSV(&data, people); err != nil {
		t.Fatal(err)
	}
	if err := WriteCSVMapping(&mapping); err != nil {
		t.Fatal(err)
	}
	m, err := csvsrc.ParseMapping("cohort.mapping.json", &mapping)
	if err != nil {
		t.Fatal(err)
	}
	i := 0
	err = csvsrc.Read("cohort.csv", &data, m, func(got *record.Patient) error {
		p := &people[i]
		checkRead(t, p, got)
		if len(got.Names) != 1 || got.Names[0] != p.Name() {
			t.Errorf("%s: names %q", p.ID, got.Names)
		}
		i++
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if i != len(people) {
		t.Errorf("read %d of %d", i, len(people))
	}
}

func TestFHIRReadsBack(t *testing.T) {
	people := cohort()[:300]
	for i := range people {
		p := &people[i]
		var b bytes.Buffer
		if err := WriteFHIRBundle(&b, *p); err != nil {
			t.Fatal(err)
		}
		got, err := fhir.ReadBundle(p.ID+".json", &b)
		if err != nil {
			t.Fatal(err)
		}
		checkRead(t, p, got)
		found := false
		for _, s := range got.Text {
			found = found || bytes.Contains([]byte(s), []byte(p.Name()))
		}
		if !found {
			t.Errorf("%s: the narrative naming the patient was not read as text", p.ID)
		}
	}
}

func TestNDJSONReadsBack(t *testing.T) {
	people := cohort()[:300]
	dir := t.TempDir()
	if err := WriteFHIRNDJSON(dir, people); err != nil {
		t.Fatal(err)
	}
	files := map[string]io.Reader{}
	for _, name := range NDJSONFiles {
		b, err := os.ReadFile(filepath.Join(dir, name))
		if err != nil {
			t.Fatal(err)
		}
		files[name] = bytes.NewReader(b)
	}
	i := 0
	err := fhir.ReadNDJSON(files, func(got *record.Patient) error {
		if i >= len(people) {
			return fmt.Errorf("more patients than written")
		}
		checkRead(t, &people[i], got)
		i++
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if i != len(people) {
		t.Errorf("read %d of %d", i, len(people))
	}
}

// With WithOutcome the CSV carries cvd_10y, and it reads back through
// csvsrc as the person's sampled outcome.
func TestCSVOutcomeReadsBack(t *testing.T) {
	people, err := Generate(Config{N: 200, Seed: 7, RefDate: time.Date(2024, 6, 30, 0, 0, 0, 0, time.UTC)})
	if err != nil {
		t.Fatal(err)
	}
	var data, mapping bytes.Buffer
	if err := WriteCSV(&data, people, WithOutcome()); err != nil {
		t.Fatal(err)
	}
	if err := WriteCSVMapping(&mapping, WithOutcome()); err != nil {
		t.Fatal(err)
	}
	m, err := csvsrc.ParseMapping("cohort.mapping.json", &mapping)
	if err != nil {
		t.Fatal(err)
	}
	i, events := 0, 0
	err = csvsrc.Read("cohort.csv", &data, m, func(p *record.Patient) error {
		want := []record.Outcome{{Name: "cvd_10y", Value: people[i].CVD10y}, {Name: "cvd_event", Value: people[i].CVDEvent},
			{Name: "cvd_time", IsTime: true, Years: people[i].CVDTime}}
		if len(p.Outcomes) != len(want) {
			return fmt.Errorf("%s: %d outcomes, want %d", p.ID, len(p.Outcomes), len(want))
		}
		for k, o := range p.Outcomes {
			o.Where = ""
			if o != want[k] {
				return fmt.Errorf("%s: outcome %+v, want %+v", p.ID, o, want[k])
			}
		}
		if p.Outcomes[0].Value {
			events++
		}
		i++
		return nil
	})
	if err != nil || i != len(people) || events == 0 {
		t.Fatalf("read %d of %d, %d events: %v", i, len(people), events, err)
	}
}
