package fhir

import (
	"errors"
	"os"
	"strings"
	"testing"

	"github.com/medchain/medchain/record"
)

// small is a two-patient-free bundle: a Patient (entry 0), a blood
// pressure panel (entry 1) and a note (entry 2). Tests break one piece.
const small = `{
  "resourceType": "Bundle",
  "type": "transaction",
  "entry": [
    {"fullUrl": "urn:uuid:p1", "resource": {
      "resourceType": "Patient", "id": "p1", "gender": "female", "birthDate": "1969-03-27",
      "name": [{"family": "Doe", "given": ["Jane"]}]}},
    {"fullUrl": "urn:uuid:o1", "resource": {
      "resourceType": "Observation", "status": "final",
      "code": {"coding": [{"system": "http://loinc.org", "code": "85354-9"}]},
      "subject": {"reference": "urn:uuid:p1"},
      "effectiveDateTime": "2019-03-28T12:26:53-07:00",
      "component": [
        {"code": {"coding": [{"system": "http://loinc.org", "code": "8462-4"}]},
         "valueQuantity": {"value": 80, "unit": "mm[Hg]", "code": "mm[Hg]"}},
        {"code": {"coding": [{"system": "http://loinc.org", "code": "8480-6"}]},
         "valueQuantity": {"value": 127, "unit": "mm[Hg]", "code": "mm[Hg]"}}]}},
    {"fullUrl": "urn:uuid:d1", "resource": {
      "resourceType": "DocumentReference", "subject": {"reference": "urn:uuid:p1"},
      "content": [{"attachment": {"contentType": "text/plain", "data": "SmFuZSBEb2UgaXMgd2VsbC4="}}]}}
  ]
}`

func TestSmallBundle(t *testing.T) {
	p, err := ReadBundle("small.json", strings.NewReader(small))
	if err != nil {
		t.Fatal(err)
	}
	if len(p.Observations) != 2 || p.Observations[1].Value != 127 || p.Text[0] != "Jane Doe is well." {
		t.Errorf("%+v", p)
	}
	// An entry without a resource (a transaction's DELETE) is nothing to read.
	withDelete := strings.Replace(small, `"entry": [`, `"entry": [{"request": {"method": "DELETE", "url": "Observation/x"}},`, 1)
	if p, err := ReadBundle("small.json", strings.NewReader(withDelete)); err != nil || len(p.Observations) != 2 {
		t.Errorf("with a DELETE entry: %v", err)
	}
}

func TestBrokenBundles(t *testing.T) {
	for _, tc := range []struct {
		name     string
		old, new string // replace old by new in small
		where    string
		reason   string
		secret   string // the value at fault, which must not be in the message
	}{
		{"wrong type", `"value": 127,`, `"value": "127x",`,
			"Bundle.entry[1].resource.component[1].valueQuantity.value", "wrong JSON type: string, want number", "127x"},
		{"number out of range", `"value": 127,`, `"value": 1e999,`,
			"Bundle.entry[1].resource.component[1].valueQuantity.value", "number out of range", "1e999"},
		{"malformed number", `"value": 127,`, `"value": 12.7.5,`,
			"Bundle.entry[1].resource.component[1].valueQuantity.value", "malformed JSON", "12.7.5"},
		{"object for a string", `"gender": "female"`, `"gender": {"x": "female"}`,
			"Bundle.entry[0].resource.gender", "wrong JSON type: object, want string", "female"},
		{"not a gender", `"gender": "female"`, `"gender": "F-secret"`,
			"Bundle.entry[0].resource.gender", "not an administrative-gender code", "F-secret"},
		{"bad birth date", `"birthDate": "1969-03-27"`, `"birthDate": "1969-13-45"`,
			"Bundle.entry[0].resource.birthDate", "not a date", "1969-13-45"},
		{"bad effective date", `"effectiveDateTime": "2019-03-28T12:26:53-07:00"`, `"effectiveDateTime": "yesterday"`,
			"Bundle.entry[1].resource.effectiveDateTime", "not a date", "yesterday"},
		{"unknown patient", `"subject": {"reference": "urn:uuid:p1"},
      "effectiveDateTime"`, `"subject": {"reference": "urn:uuid:p2"},
      "effectiveDateTime"`,
			"Bundle.entry[1].resource.subject.reference", "refers to a patient not in the bundle", "p2"},
		{"other patient by id", `"subject": {"reference": "urn:uuid:p1"},
      "effectiveDateTime"`, `"subject": {"reference": "Patient/p9"},
      "effectiveDateTime"`,
			"Bundle.entry[1].resource.subject.reference", "refers to a patient not in the bundle", "p9"},
		{"no subject", `"subject": {"reference": "urn:uuid:p1"},
      "effectiveDateTime"`, `"effectiveDateTime"`,
			"Bundle.entry[1].resource.subject.reference", "missing reference to the patient", ""},
		{"no patient", `"resourceType": "Patient"`, `"resourceType": "Person"`,
			"Bundle", ReasonNoPatient, ""},
		{"two patients", `"resourceType": "DocumentReference", "subject": {"reference": "urn:uuid:p1"},`, `"resourceType": "Patient", "id": "p2",`,
			"Bundle.entry[2].resource", "a second Patient", ""},
		{"not a bundle", `"resourceType": "Bundle"`, `"resourceType": "Patient"`,
			"resourceType", "not a Bundle", ""},
		{"no bundle type", `"type": "transaction",`, ``,
			"Bundle.type", "missing Bundle type", ""},
		{"odd bundle type", `"type": "transaction"`, `"type": "history"`,
			"Bundle.type", "unsupported Bundle type", ""},
		{"entry not an object", `{"fullUrl": "urn:uuid:d1"`, `"secret-entry", {"fullUrl": "urn:uuid:d1"`,
			"Bundle.entry[2]", "wrong JSON type", "secret-entry"},
		{"no resourceType", `"resourceType": "Observation", `, ``,
			"Bundle.entry[1].resource.resourceType", "missing resourceType", ""},
		{"bad base64", `"data": "SmFuZSBEb2UgaXMgd2VsbC4="`, `"data": "SmFuZ!!!"`,
			"Bundle.entry[2].resource.content[0].attachment.data", "not valid base64", "SmFuZ"},
		{"trailing data", "\n}", "\n} {}",
			"Bundle", "data after the end", ""},
		{"resource not an object", `"resource": {
      "resourceType": "DocumentReference"`, `"resource": "secret-res", "x": {
      "resourceType": "DocumentReference"`,
			"Bundle.entry[2].resource", "not a JSON object", "secret-res"},
		{"entries not an array", `"entry": [`, `"entry": {"x": [`,
			"Bundle.entry", "not an array", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if !strings.Contains(small, tc.old) {
				t.Fatalf("%q not in the bundle", tc.old)
			}
			checkError(t, strings.Replace(small, tc.old, tc.new, 1), tc.where, tc.reason, tc.secret)
		})
	}
}

func checkError(t *testing.T, doc, where, reason, secret string) {
	t.Helper()
	_, err := ReadBundle("b.json", strings.NewReader(doc))
	var ie *record.InputError
	if !errors.As(err, &ie) {
		t.Fatalf("error %v (%T), want an InputError", err, err)
	}
	if ie.Source != "b.json" || ie.Where != where || !strings.Contains(ie.Reason, reason) {
		t.Errorf("got Where %q Reason %q; want %q, %q", ie.Where, ie.Reason, where, reason)
	}
	if secret != "" && strings.Contains(err.Error(), secret) {
		t.Errorf("the message %q repeats the value %q", err, secret)
	}
}

func TestTruncatedBundles(t *testing.T) {
	for _, tc := range []struct {
		cutAfter string // the bundle ends right after this
		where    string
	}{
		{`"value": 12`, "Bundle.entry[1].resource.component[1].valueQuantity.value"},
		{`"valueQuantity": {"value": 80, `, "Bundle.entry[1].resource.component[0].valueQuantity"},
		{`"name": [{"family": "Do`, "Bundle.entry[0].resource.name[0].family"},
		{`"entry": [`, "Bundle.entry"},
		{`"type": "trans`, "Bundle.type"},
		{``, "Bundle"},
	} {
		i := strings.Index(small, tc.cutAfter)
		if i < 0 {
			t.Fatalf("%q not in the bundle", tc.cutAfter)
		}
		checkError(t, small[:i+len(tc.cutAfter)], tc.where, "truncated JSON", "")
	}
}

// A real bundle cut in the middle of a panel's component.
func TestTruncatedSyntheaBundle(t *testing.T) {
	data, err := os.ReadFile(syntheaFile(t, "Carolee951_"))
	if err != nil {
		t.Fatal(err)
	}
	// The systolic pressure 127 of entry 148 (2019-03-28).
	i := strings.Index(string(data), `"value": 127,`)
	checkError(t, string(data[:i+len(`"value": 12`)]), "Bundle.entry[148].resource.component[1].valueQuantity.value", "truncated JSON", "")
}

func TestPathAt(t *testing.T) {
	doc := `{"a": 1, "b": [10, {"c": "x", "d": [true, null]}], "e": {"f": {}}}`
	for _, tc := range []struct {
		after string // the value ending here
		path  string
	}{
		{`"a": 1`, "a"},
		{`[10`, "b[0]"},
		{`"c": "x"`, "b[1].c"},
		{`[true`, "b[1].d[0]"},
		{`null`, "b[1].d[1]"},
		{`"f": {`, "e.f"},
	} {
		off := strings.Index(doc, tc.after) + len(tc.after)
		if got := pathAt([]byte(doc), int64(off)); got != tc.path {
			t.Errorf("after %q: %q, want %q", tc.after, got, tc.path)
		}
	}
	if got := pathAt([]byte(`, {"a": [1, 2, {"b": `), -1); got != "a[2].b" {
		t.Errorf("truncated: %q", got)
	}
}

func FuzzReadBundle(f *testing.F) {
	f.Add(small)
	f.Add(`{"resourceType": "Bundle", "type": "collection", "entry": []}`)
	f.Fuzz(func(t *testing.T, doc string) {
		p, err := ReadBundle("f.json", strings.NewReader(doc))
		var ie *record.InputError
		if err != nil && !errors.As(err, &ie) {
			t.Fatalf("error %v is not an InputError", err)
		}
		if err == nil && p.ID == "" {
			t.Fatal("a patient without an id")
		}
	})
}
