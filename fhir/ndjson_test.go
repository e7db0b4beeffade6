package fhir

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/medchain/medchain/record"
)

// toNDJSON turns bundles into a Bulk Data export: one file per resource
// type, references to the patient rewritten from urn:uuid to Patient/<id>.
func toNDJSON(t *testing.T, paths ...string) map[string]string {
	t.Helper()
	files := map[string]string{}
	for _, path := range paths {
		data, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		var b struct {
			Entry []struct {
				Resource json.RawMessage `json:"resource"`
			} `json:"entry"`
		}
		if err := json.Unmarshal(data, &b); err != nil {
			t.Fatal(err)
		}
		var id string
		for _, e := range b.Entry {
			var h struct{ ResourceType, ID string }
			json.Unmarshal(e.Resource, &h)
			if h.ResourceType == "Patient" {
				id = h.ID
			}
		}
		for _, e := range b.Entry {
			var h struct{ ResourceType string }
			json.Unmarshal(e.Resource, &h)
			var line bytes.Buffer
			json.Compact(&line, e.Resource)
			s := strings.ReplaceAll(line.String(), `"urn:uuid:`+id+`"`, `"Patient/`+id+`"`)
			files[h.ResourceType+".ndjson"] += s + "\n"
		}
	}
	return files
}

func readers(files map[string]string) map[string]io.Reader {
	r := map[string]io.Reader{}
	for name, s := range files {
		r[name] = strings.NewReader(s)
	}
	return r
}

func TestNDJSONMatchesBundles(t *testing.T) {
	paths := []string{syntheaFile(t, "Carolee951_"), syntheaFile(t, "Vanesa40_"), syntheaFile(t, "Paris331_")}
	var got []*record.Patient
	err := ReadNDJSON(readers(toNDJSON(t, paths...)), func(p *record.Patient) error {
		got = append(got, p)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != len(paths) {
		t.Fatalf("%d patients, want %d", len(got), len(paths))
	}
	for i, path := range paths {
		want, err := readFile(t, path)
		if err != nil {
			t.Fatal(err)
		}
		p := got[i]
		if p.ID != want.ID || p.Source != "Patient.ndjson" || p.Where != "line "+string(rune('1'+i))+": Patient" ||
			!slices.Equal(p.Names, want.Names) || !slices.Equal(p.Identifiers, want.Identifiers) {
			t.Errorf("patient %d: %s %s %s %q", i, p.ID, p.Source, p.Where, p.Names)
		}
		// The same data, whatever the container; only the locations differ.
		if !sameIgnoringWhere(p.Observations, want.Observations, func(o *record.Observation) { o.Where = "" }) ||
			!sameIgnoringWhere(p.Conditions, want.Conditions, func(c *record.Condition) { c.Where = "" }) ||
			!sameIgnoringWhere(p.Medications, want.Medications, func(m *record.Medication) { m.Where = "" }) {
			t.Errorf("patient %d: clinical data differs from the bundle's", i)
		}
		a, b := slices.Sorted(slices.Values(p.Text)), slices.Sorted(slices.Values(want.Text))
		if !slices.Equal(a, b) {
			t.Errorf("patient %d: %d texts, bundle has %d", i, len(a), len(b))
		}
	}
	o := got[0].Observations[0]
	if !strings.HasPrefix(o.Where, "line ") || !strings.Contains(o.Where, ": Observation.") {
		t.Errorf("observation where %q", o.Where)
	}
}

func sameIgnoringWhere[T comparable](a, b []T, clear func(*T)) bool {
	if len(a) != len(b) {
		return false
	}
	// Files are read in name order, so the order within a type is kept.
	for i := range a {
		x, y := a[i], b[i]
		clear(&x)
		clear(&y)
		if x != y {
			return false
		}
	}
	return true
}

func TestNDJSONDir(t *testing.T) {
	dir := t.TempDir()
	for name, s := range toNDJSON(t, syntheaFile(t, "Vanesa40_")) {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(s), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	n := 0
	err := ReadNDJSONDir(dir, func(p *record.Patient) error {
		n++
		if len(p.Observations) == 0 || filepath.Base(p.Source) != "Patient.ndjson" {
			t.Errorf("%s: %d observations", p.Source, len(p.Observations))
		}
		return nil
	})
	if err != nil || n != 1 {
		t.Fatalf("%d patients, error %v", n, err)
	}
}

func TestNDJSONErrors(t *testing.T) {
	patient := `{"resourceType":"Patient","id":"p1","gender":"male"}`
	obs := func(ref, value string) string {
		return `{"resourceType":"Observation","code":{"coding":[{"system":"http://loinc.org","code":"8480-6"}]},` +
			`"subject":{"reference":"` + ref + `"},"valueQuantity":{"value":` + value + `,"code":"mm[Hg]"}}`
	}
	for _, tc := range []struct {
		name         string
		files        map[string]string
		file, where  string
		reason, hide string
	}{
		{"unknown patient", map[string]string{"Patient.ndjson": patient, "Observation.ndjson": obs("Patient/p1", "120") + "\n\n" + obs("Patient/p7", "120")},
			"Observation.ndjson", "line 3: Observation.subject.reference", "refers to a patient not in the export", "p7"},
		{"urn reference", map[string]string{"Patient.ndjson": patient, "Observation.ndjson": obs("urn:uuid:p1", "120")},
			"Observation.ndjson", "line 1: Observation.subject.reference", "refers to a patient not in the export", ""},
		{"wrong type", map[string]string{"Patient.ndjson": patient, "Observation.ndjson": obs("Patient/p1", `"1x0"`)},
			"Observation.ndjson", "line 1: Observation.valueQuantity.value", "wrong JSON type", "1x0"},
		{"malformed line", map[string]string{"Patient.ndjson": patient + "\n" + `{"resourceType":"Patient","id":"p2"`},
			"Patient.ndjson", "line 2: Patient", "truncated JSON", ""},
		{"no resourceType", map[string]string{"Patient.ndjson": `{"id":"p1"}`},
			"Patient.ndjson", "line 1: resourceType", "missing resourceType", ""},
		{"same patient twice", map[string]string{"Patient.ndjson": patient + "\n" + patient},
			"Patient.ndjson", "line 2: Patient.id", "a second Patient with the same id", "p1"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := ReadNDJSON(readers(tc.files), func(*record.Patient) error { return nil })
			var ie *record.InputError
			if !errors.As(err, &ie) {
				t.Fatalf("error %v, want an InputError", err)
			}
			if ie.Source != tc.file || ie.Where != tc.where || !strings.Contains(ie.Reason, tc.reason) {
				t.Errorf("got %q %q %q, want %q %q %q", ie.Source, ie.Where, ie.Reason, tc.file, tc.where, tc.reason)
			}
			if tc.hide != "" && strings.Contains(err.Error(), tc.hide) {
				t.Errorf("%q repeats %q", err, tc.hide)
			}
		})
	}
}

func TestNDJSONStopsOnCallbackError(t *testing.T) {
	stop := errors.New("stop")
	files := map[string]string{"Patient.ndjson": `{"resourceType":"Patient","id":"a"}` + "\n" + `{"resourceType":"Patient","id":"b"}`}
	n := 0
	err := ReadNDJSON(readers(files), func(*record.Patient) error { n++; return stop })
	if err != stop || n != 1 {
		t.Errorf("error %v after %d calls", err, n)
	}
}
