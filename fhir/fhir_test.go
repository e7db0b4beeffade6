package fhir

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/medchain/medchain/record"
)

// syntheaDir holds the Synthea sample bundles (see its README.md).
var syntheaDir = filepath.Join("..", "testdata", "synthea")

// syntheaFile is the path of the one sample bundle whose name starts with
// prefix; the test fails if there is none.
func syntheaFile(t testing.TB, prefix string) string {
	t.Helper()
	paths, _ := filepath.Glob(filepath.Join(syntheaDir, prefix+"*.json"))
	if len(paths) != 1 {
		t.Fatalf("%d Synthea bundles named %s* in %s, want 1", len(paths), prefix, syntheaDir)
	}
	return paths[0]
}

func readFile(t testing.TB, path string) (*record.Patient, error) {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	return ReadBundle(filepath.Base(path), f)
}

func TestEverySyntheaBundle(t *testing.T) {
	paths, _ := filepath.Glob(filepath.Join(syntheaDir, "*.json"))
	if len(paths) != 8 {
		t.Fatalf("%d bundles in %s, want 8", len(paths), syntheaDir)
	}
	patients := 0
	for _, path := range paths {
		name := filepath.Base(path)
		t.Run(name, func(t *testing.T) {
			f, err := os.Open(path)
			if err != nil {
				t.Fatal(err)
			}
			isPatient, err := IsPatientBundle(f)
			f.Close()
			if err != nil {
				t.Fatal(err)
			}
			p, err := readFile(t, path)
			directory := strings.HasPrefix(name, "hospitalInformation") || strings.HasPrefix(name, "practitionerInformation")
			if directory {
				var ie *record.InputError
				if isPatient || !errors.As(err, &ie) || ie.Reason != ReasonNoPatient || ie.Source != name {
					t.Fatalf("IsPatientBundle = %v, ReadBundle error = %v; want false and %q", isPatient, err, ReasonNoPatient)
				}
				return
			}
			if err != nil || !isPatient {
				t.Fatalf("IsPatientBundle = %v, ReadBundle error = %v", isPatient, err)
			}
			patients++
			if p.Source != name || p.ID == "" || len(p.Names) == 0 || p.BirthDate == "" || p.Sex == "" ||
				len(p.Addresses) == 0 || len(p.Observations) == 0 || len(p.Conditions) == 0 || len(p.Text) == 0 {
				t.Errorf("patient is missing something: %+v", summary(p))
			}
			if !strings.Contains(name, p.ID) {
				t.Errorf("ID %q not in the file name", p.ID)
			}
			for _, o := range p.Observations {
				if o.System == "" || o.Code == "" || o.Date == "" || o.HasValue == (o.ValueCode != "") || !strings.HasPrefix(o.Where, "Bundle.entry[") {
					t.Fatalf("odd observation %+v", o)
				}
			}
		})
	}
	if patients != 6 {
		t.Errorf("%d patient bundles, want 6", patients)
	}
}

func summary(p *record.Patient) map[string]int {
	return map[string]int{"names": len(p.Names), "addresses": len(p.Addresses), "observations": len(p.Observations),
		"conditions": len(p.Conditions), "medications": len(p.Medications), "text": len(p.Text)}
}

// find returns the observations with a code on a date (a prefix of the
// effective date-time).
func find(p *record.Patient, code, date string) []record.Observation {
	var out []record.Observation
	for _, o := range p.Observations {
		if o.Code == code && strings.HasPrefix(o.Date, date) {
			out = append(out, o)
		}
	}
	return out
}

// The values below were read by hand from the bundle.
func TestCarolee(t *testing.T) {
	p, err := readFile(t, syntheaFile(t, "Carolee951_"))
	if err != nil {
		t.Fatal(err)
	}
	if p.ID != "d88f994a-5efa-421d-9c40-5f116d2114a6" || p.BirthDate != "1969-03-27" || p.DeceasedDate != "" ||
		p.Sex != "female" || p.MaritalStatus != "M" || p.Where != "Bundle.entry[0].resource" {
		t.Errorf("patient %+v", p)
	}
	if want := []string{"Carolee951 Sanford861", "Carolee951 Okuneva707"}; !slices.Equal(p.Names, want) {
		t.Errorf("names %q, want %q", p.Names, want)
	}
	if !slices.Equal(p.Telecom, []string{"555-657-5098"}) {
		t.Errorf("telecom %q", p.Telecom)
	}
	a := p.Addresses[0]
	if len(p.Addresses) != 1 || a.PostalCode != "98053" || a.City != "Redmond" || a.State != "WA" || !slices.Equal(a.Lines, []string{"117 Orn Bypass"}) {
		t.Errorf("addresses %+v", p.Addresses)
	}
	wantIDs := []record.Identifier{
		{Type: "", System: "https://github.com/synthetichealth/synthea", Value: "d88f994a-5efa-421d-9c40-5f116d2114a6"},
		{Type: "MR", System: "http://hospital.smarthealthit.org", Value: "d88f994a-5efa-421d-9c40-5f116d2114a6"},
		{Type: "SS", System: "http://hl7.org/fhir/sid/us-ssn", Value: "999-33-5538"},
		{Type: "DL", System: "urn:oid:2.16.840.1.113883.4.3.25", Value: "S99993907"},
		{Type: "PPN", System: "http://standardhealthrecord.org/fhir/StructureDefinition/passportNumber", Value: "X37176659X"},
	}
	if !slices.Equal(p.Identifiers, wantIDs) {
		t.Errorf("identifiers %+v", p.Identifiers)
	}

	type want struct {
		code, date string
		value      float64
		unit       string
		where      string
	}
	for _, w := range []want{
		// The blood-pressure panel 85354-9 gives one observation per component.
		{"8462-4", "2011-04-07", 81, "mm[Hg]", "Bundle.entry[16].resource.component[0].valueQuantity"},
		{"8480-6", "2011-04-07", 114, "mm[Hg]", "Bundle.entry[16].resource.component[1].valueQuantity"},
		{"8462-4", "2019-03-28", 80, "mm[Hg]", "Bundle.entry[148].resource.component[0].valueQuantity"},
		{"8480-6", "2019-03-28", 127, "mm[Hg]", "Bundle.entry[148].resource.component[1].valueQuantity"},
		{"39156-5", "2019-03-28", 30.3, "kg/m2", "Bundle.entry[147].resource.valueQuantity"},
		{"2093-3", "2019-03-28", 184.23, "mg/dL", "Bundle.entry[149].resource.valueQuantity"},
		{"2571-8", "2019-03-28", 135.63, "mg/dL", "Bundle.entry[150].resource.valueQuantity"},
		{"18262-6", "2019-03-28", 91.93, "mg/dL", "Bundle.entry[151].resource.valueQuantity"},
		{"2085-9", "2019-03-28", 65.17, "mg/dL", "Bundle.entry[152].resource.valueQuantity"},
		{"2093-3", "2015-04-16", 168.54, "mg/dL", "Bundle.entry[77].resource.valueQuantity"},
	} {
		got := find(p, w.code, w.date)
		if len(got) != 1 {
			t.Errorf("%s on %s: %d observations, want 1", w.code, w.date, len(got))
			continue
		}
		o := got[0]
		if o.System != "http://loinc.org" || !o.HasValue || o.Value != w.value || o.Unit != w.unit || o.Where != w.where {
			t.Errorf("%s on %s: got %+v, want %+v", w.code, w.date, o, w)
		}
	}
	if len(find(p, "85354-9", "")) != 0 {
		t.Error("the blood-pressure panel itself became an observation")
	}
	if n := len(find(p, "8480-6", "")); n != 5 {
		t.Errorf("%d systolic pressures, want 5", n)
	}
	smoke := find(p, "72166-2", "2019-03-28")
	if len(smoke) != 1 || smoke[0].ValueCode != "266919005" || smoke[0].HasValue {
		t.Errorf("smoking status %+v", smoke)
	}
	if len(p.Conditions) != 6 || p.Conditions[0].Code != "162864005" || p.Conditions[0].System != "http://snomed.info/sct" ||
		p.Conditions[0].Onset != "2003-06-12T12:26:53-07:00" || p.Conditions[1].Abatement != "2011-08-26T12:26:53-07:00" {
		t.Errorf("conditions %+v", p.Conditions)
	}
	m := p.Medications[0]
	if len(p.Medications) != 3 || m.Code != "849574" || m.System != "http://www.nlm.nih.gov/research/umls/rxnorm" ||
		m.Date != "2011-08-12T12:26:53-07:00" || m.Status != "stopped" {
		t.Errorf("medications %+v", p.Medications)
	}
	// Free text: the clinical note (a base64 attachment) and the name as
	// other resources display it, each once.
	for _, s := range []string{"Carolee951 is a 34 year-old non-hispanic white female", "Mrs. Carolee951 Sanford861", "Person seed: -4045212109268654805"} {
		n := 0
		for _, x := range p.Text {
			n += strings.Count(x, s)
		}
		if n == 0 {
			t.Errorf("text %q not collected", s)
		}
	}
	if slices.ContainsFunc(p.Text, func(s string) bool { return strings.Contains(s, "<div") }) {
		t.Error("narrative kept its XHTML tags")
	}
	seen := map[string]bool{}
	for _, s := range p.Text {
		if seen[s] {
			t.Errorf("text collected twice: %.40q", s)
		}
		seen[s] = true
	}
}

func TestVanesa(t *testing.T) {
	p, err := readFile(t, syntheaFile(t, "Vanesa40_"))
	if err != nil {
		t.Fatal(err)
	}
	a1c := find(p, "4548-4", "")
	if len(a1c) != 11 {
		t.Errorf("%d HbA1c, want 11", len(a1c))
	}
	for _, w := range []struct {
		date  string
		value float64
	}{{"2011-01-07", 6.14}, {"2019-02-22", 5.93}, {"2020-02-28", 6.4}} {
		o := find(p, "4548-4", w.date)
		if len(o) != 1 || o[0].Value != w.value || o[0].Unit != "%" {
			t.Errorf("HbA1c on %s: %+v, want %g %%", w.date, o, w.value)
		}
	}
	i := slices.IndexFunc(p.Conditions, func(c record.Condition) bool { return c.Code == "15777000" })
	if i < 0 || p.Conditions[i].Onset != "2000-01-07T08:59:41-08:00" || p.Conditions[i].Where != "Bundle.entry[22].resource.code.coding[0]" {
		t.Errorf("prediabetes: %+v", p.Conditions)
	}
}

// A file name with an apostrophe is just a name. The sample stores
// Lindsey52_O'Reilly797's bundle without the apostrophe (a Go module may not
// hold such a file name), so the test gives it back its Synthea name.
func TestApostrophe(t *testing.T) {
	data, err := os.ReadFile(syntheaFile(t, "Lindsey52_OReilly797_"))
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "Lindsey52_O'Reilly797_092afec8-ffca-4793-a91b-40f2055f9d89.json")
	if err := os.WriteFile(path, data, 0o600); err != nil {
		t.Fatal(err)
	}
	p, err := readFile(t, path)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(p.Source, "O'Reilly797") || !slices.Contains(p.Names, "Lindsey52 O'Reilly797") {
		t.Errorf("source %q, names %q", p.Source, p.Names)
	}
}

// BenchmarkReadBundle reads the Synthea patient bundles from memory.
func BenchmarkReadBundle(b *testing.B) {
	paths, _ := filepath.Glob(filepath.Join(syntheaDir, "[A-Z]*.json"))
	if len(paths) == 0 {
		b.Fatalf("no Synthea bundles in %s", syntheaDir)
	}
	var files [][]byte
	var size int64
	for _, p := range paths {
		data, err := os.ReadFile(p)
		if err != nil {
			b.Fatal(err)
		}
		files = append(files, data)
		size += int64(len(data))
	}
	b.SetBytes(size)
	b.ReportAllocs()
	for b.Loop() {
		for _, data := range files {
			if _, err := ReadBundle("b.json", bytes.NewReader(data)); err != nil {
				b.Fatal(err)
			}
		}
	}
}

// An observation whose value is a string is free text, not a measurement:
// it goes to the text a de-identification profile redacts, and no
// observation is made of it. (In the Synthea sample only Terrie907's HER2
// result, "less than 1.8", has this shape; her bundle is not in
// testdata/synthea.)
func TestValueStringIsText(t *testing.T) {
	her2 := `{"fullUrl": "urn:uuid:o2", "resource": {
      "resourceType": "Observation", "status": "final",
      "code": {"coding": [{"system": "http://loinc.org", "code": "48676-1", "display": "HER2 [Interpretation] in Tissue"}]},
      "subject": {"reference": "urn:uuid:p1"}, "effectiveDateTime": "2019-03-28T12:26:53-07:00",
      "valueString": "less than 1.8"}},`
	doc := strings.Replace(small, `{"fullUrl": "urn:uuid:d1"`, her2+`{"fullUrl": "urn:uuid:d1"`, 1)
	p, err := ReadBundle("her2.json", strings.NewReader(doc))
	if err != nil {
		t.Fatal(err)
	}
	if len(p.Observations) != 2 || len(find(p, "48676-1", "")) != 0 {
		t.Errorf("observations %+v", p.Observations)
	}
	if !slices.Contains(p.Text, "less than 1.8") {
		t.Errorf("text %q does not hold the string value", p.Text)
	}
}
