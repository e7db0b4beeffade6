package csvsrc

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/medchain/medchain/record"
)

const mappingJSON = `{
  "description": "test export",
  "columns": {
    "id":      {"role": "patient_id"},
    "first":   {"role": "name"},
    "last":    {"role": "name"},
    "dob":     {"role": "birth_date"},
    "dod":     {"role": "death_date"},
    "sex":     {"role": "sex"},
    "zip":     {"role": "zip"},
    "street":  {"role": "address"},
    "phone":   {"role": "phone"},
    "ssn":     {"role": "ssn"},
    "mrn":     {"role": "mrn"},
    "notes":   {"role": "free_text"},
    "visit":   {"role": "ignore"},
    "sbp":     {"role": "observation", "system": "http://loinc.org", "code": "8480-6", "unit": "mm[Hg]", "date_column": "visit"},
    "chol":    {"role": "observation", "system": "loinc", "code": "2093-3", "unit": "mmol/L"},
    "smoking": {"role": "observation", "system": "loinc", "code": "72166-2", "value": "code",
                "value_codes": {"current": "77176002", "former": "8517006", "never": "266919005"}},
    "htn":     {"role": "condition", "system": "snomed", "code": "59621000"},
    "amlo":    {"role": "medication", "system": "rxnorm", "code": "17767", "date_column": "visit"}
  }
}`

const header = "id,first,last,dob,dod,sex,zip,street,phone,ssn,mrn,notes,visit,sbp,chol,smoking,htn,amlo\n"

func testMapping(t *testing.T) Mapping {
	t.Helper()
	m, err := ParseMapping("map.json", strings.NewReader(mappingJSON))
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func readAll(t *testing.T, m Mapping, data string) ([]*record.Patient, error) {
	t.Helper()
	var ps []*record.Patient
	err := Read("p.csv", strings.NewReader(data), m, func(p *record.Patient) error {
		ps = append(ps, p)
		return nil
	})
	return ps, err
}

func TestRead(t *testing.T) {
	row2 := `A1,Jane,Doe,1969-03-27,,F,98052-1234,"1 Main St, Apt 2",555-0100,999-12-3456,M77,"said ""hi""",2019-03-28,127.5,5.2,never,yes,1` + "\n"
	data := "\uFEFF" + header + row2 +
		"A2,John,,1950,2019-05-01T10:00:00Z,male,,,,,,,,,,current,0,\n"
	ps, err := readAll(t, testMapping(t), data)
	if err != nil {
		t.Fatal(err)
	}
	if len(ps) != 2 {
		t.Fatalf("%d patients", len(ps))
	}
	want := &record.Patient{
		Source: "p.csv", Where: "row 2", ID: "A1",
		Identifiers: []record.Identifier{
			{Type: "SS", System: "http://hl7.org/fhir/sid/us-ssn", Value: "999-12-3456"},
			{Type: "MR", Value: "M77"},
		},
		Names:     []string{"Jane Doe"},
		Telecom:   []string{"555-0100"},
		Addresses: []record.Address{{Lines: []string{"1 Main St, Apt 2"}, PostalCode: "98052-1234"}},
		BirthDate: "1969-03-27",
		Sex:       "female",
		Text:      []string{`said "hi"`},
		Observations: []record.Observation{
			{Where: "row 2, column sbp", System: "http://loinc.org", Code: "8480-6", Value: 127.5, HasValue: true, Unit: "mm[Hg]", Date: "2019-03-28"},
			{Where: "row 2, column chol", System: "loinc", Code: "2093-3", Value: 5.2, HasValue: true, Unit: "mmol/L"},
			{Where: "row 2, column smoking", System: "loinc", Code: "72166-2", ValueCode: "266919005"},
		},
		Conditions:  []record.Condition{{Where: "row 2, column htn", System: "snomed", Code: "59621000"}},
		Medications: []record.Medication{{Where: "row 2, column amlo", System: "rxnorm", Code: "17767", Date: "2019-03-28", Status: "active"}},
		// The row as ingested, for the patient to ask for: a CSV file of
		// the header and the row.
		Original: &record.Original{MediaType: "text/csv", Data: []byte("\uFEFF" + header + row2)},
	}
	if !reflect.DeepEqual(ps[0], want) {
		t.Errorf("row 2:\n got %+v\nwant %+v", ps[0], want)
	}
	p := ps[1]
	if p.Where != "row 3" || p.Sex != "male" || p.BirthDate != "1950" || p.DeceasedDate != "2019-05-01T10:00:00Z" ||
		len(p.Names) != 1 || p.Names[0] != "John" || p.Addresses != nil || len(p.Conditions) != 0 || len(p.Medications) != 0 ||
		len(p.Observations) != 1 || p.Observations[0].ValueCode != "77176002" {
		t.Errorf("row 3: %+v", p)
	}
}

func TestReadErrors(t *testing.T) {
	row := func(cells map[int]string) string {
		c := strings.Split("A1,Jane,Doe,1969-03-27,,F,98052,1 Main St,555-0100,999-12-3456,M77,,2019-03-28,127,5.2,never,yes,1", ",")
		for i, v := range cells {
			c[i] = v
		}
		return strings.Join(c, ",") + "\n"
	}
	good := row(nil)
	for _, tc := range []struct {
		name   string
		data   string
		where  string
		field  string
		reason string
		secret string
	}{
		{"too few fields", header + good + "A2,Jo,Do\n", "row 3", "", "wrong number of fields", "Jo,Do"},
		{"too many fields", header + strings.TrimSuffix(good, "\n") + ",extra\n", "row 2", "", "wrong number of fields", "extra"},
		{"bare quote", header + row(map[int]string{1: `Ja"ne`}), "row 2", "", `bare " in non-quoted-field`, "Ja\"ne"},
		{"unterminated quote", header + good + row(map[int]string{1: `"Jane`}), "row 3", "", `extraneous or missing " in quoted-field`, ""},
		{"not a number", header + row(map[int]string{13: "12O"}), "row 2", "sbp", "not a number", "12O"},
		{"NaN", header + row(map[int]string{13: "NaN"}), "row 2", "sbp", "not a number", "NaN"},
		{"bad birth date", header + row(map[int]string{3: "27/03/1969"}), "row 2", "dob", "not a date", "27/03/1969"},
		{"bad observation date", header + row(map[int]string{12: "28.3.2019"}), "row 2", "visit", "not a date", "28.3.2019"},
		{"not a boolean", header + row(map[int]string{16: "maybe"}), "row 2", "htn", "not a boolean", "maybe"},
		{"not a sex", header + row(map[int]string{5: "X-secret"}), "row 2", "sex", "not a sex", "X-secret"},
		{"unknown value code", header + row(map[int]string{15: "sometimes"}), "row 2", "smoking", "not one of the mapping's value_codes", "sometimes"},
		{"empty id", header + row(map[int]string{0: " "}), "row 2", "id", "empty patient id", ""},
		{"same patient twice", header + good + good, "row 3", "id", "the same patient id as row 2", "A1"},
		{"unmapped column", strings.Replace(header, "visit", "visit_secret_col", 1) + good, "row 1", "visit_secret_col", "not in the mapping map.json", ""},
		{"mapped column missing", strings.Replace(header, ",notes", "", 1) + strings.Replace(good, "M77,,", "M77,", 1), "row 1", "notes", "in the mapping map.json but not in the file", ""},
		{"duplicate column", strings.Replace(header, "notes", "sbp", 1) + good, "row 1", "sbp", "two columns with this name", ""},
		{"empty file", "", "row 1", "", "no header row", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := readAll(t, testMapping(t), tc.data)
			var ie *record.InputError
			if !errors.As(err, &ie) {
				t.Fatalf("error %v, want an InputError", err)
			}
			if ie.Source != "p.csv" || ie.Where != tc.where || ie.Field != tc.field || !strings.Contains(ie.Reason, tc.reason) {
				t.Errorf("got %q %q %q, want %q %q %q", ie.Where, ie.Field, ie.Reason, tc.where, tc.field, tc.reason)
			}
			if tc.secret != "" && strings.Contains(err.Error(), tc.secret) {
				t.Errorf("%q repeats %q", err, tc.secret)
			}
		})
	}
}

func TestMappingErrors(t *testing.T) {
	for _, tc := range []struct {
		name   string
		json   string
		where  string
		reason string
	}{
		{"unknown role", `{"columns": {"id": {"role": "patient_id"}, "x": {"role": "weight"}}}`, "columns.x.role", `unknown role "weight"`},
		{"misspelt field", `{"columns": {"id": {"role": "patient_id"}, "x": {"role": "condition", "sytem": "snomed", "code": "1"}}}`, "columns.x", `unknown field "sytem"`},
		{"unknown date column", `{"columns": {"id": {"role": "patient_id"}, "x": {"role": "observation", "system": "loinc", "code": "8480-6", "unit": "mm[Hg]", "date_column": "when"}}}`, "columns.x.date_column", `names column "when"`},
		{"no unit", `{"columns": {"id": {"role": "patient_id"}, "x": {"role": "observation", "system": "loinc", "code": "8480-6"}}}`, "columns.x.unit", "missing"},
		{"no system", `{"columns": {"id": {"role": "patient_id"}, "x": {"role": "condition", "code": "59621000"}}}`, "columns.x.system", "missing"},
		{"no code", `{"columns": {"id": {"role": "patient_id"}, "x": {"role": "medication", "system": "rxnorm"}}}`, "columns.x.code", "missing"},
		{"code on a demographic", `{"columns": {"id": {"role": "patient_id"}, "x": {"role": "sex", "code": "1"}}}`, "columns.x.role", "only observation, condition and medication"},
		{"two birth dates", `{"columns": {"id": {"role": "patient_id"}, "a": {"role": "birth_date"}, "b": {"role": "birth_date"}}}`, "columns.b.role", `a second birth_date column (the first is "a")`},
		{"no patient id", `{"columns": {"a": {"role": "name"}}}`, "columns", "no patient_id column"},
		{"bad value type", `{"columns": {"id": {"role": "patient_id"}, "x": {"role": "observation", "system": "loinc", "code": "1", "unit": "1", "value": "text"}}}`, "columns.x.value", "unknown value type"},
		{"unit on coded", `{"columns": {"id": {"role": "patient_id"}, "x": {"role": "observation", "system": "loinc", "code": "72166-2", "value": "code", "unit": "1"}}}`, "columns.x.unit", "a coded observation has no unit"},
		{"no columns", `{"description": "x"}`, "columns", "missing"},
		{"not JSON", `{"columns": `, "", "not a mapping"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "mapping.json")
			if err := os.WriteFile(path, []byte(tc.json), 0o600); err != nil {
				t.Fatal(err)
			}
			_, err := LoadMapping(path)
			var ie *record.InputError
			if !errors.As(err, &ie) {
				t.Fatalf("error %v, want an InputError", err)
			}
			if ie.Source != path || ie.Where != tc.where || !strings.Contains(ie.Reason, tc.reason) {
				t.Errorf("got %q %q %q, want %q %q", ie.Source, ie.Where, ie.Reason, tc.where, tc.reason)
			}
		})
	}
}

// ReadRows reports a bad row and goes on.
func TestReadRows(t *testing.T) {
	m := Mapping{Columns: map[string]Column{
		"id":  {Role: RolePatientID},
		"sbp": {Role: RoleObservation, System: "loinc", Code: "8480-6", Unit: "mm[Hg]"},
	}}
	data := "id,sbp\nA,120\nB,x\nC,1,2\nA,130\nD,\"1\"2\nE,140\n"
	var got []string
	err := ReadRows("p.csv", strings.NewReader(data), m, func(p *record.Patient, bad *record.InputError) error {
		if (p == nil) == (bad == nil) {
			t.Fatalf("patient %v, problem %v", p, bad)
		}
		if bad != nil {
			got = append(got, bad.Where+": "+bad.Reason)
		} else {
			got = append(got, p.Where+": "+p.ID)
		}
		return nil
	})
	want := []string{
		"row 2: A",
		"row 3: not a number",
		"row 4: wrong number of fields (not the header's count)",
		"row 5: the same patient id as row 2: one row per patient",
		`row 6: extraneous or missing " in quoted-field (line 6, byte 5)`,
		"row 7: E",
	}
	if err != nil || !reflect.DeepEqual(got, want) {
		t.Errorf("error %v, rows:\n%s\nwant:\n%s", err, strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

// A mapping built in code is checked too.
func TestReadChecksMapping(t *testing.T) {
	m := Mapping{Path: "built-in", Columns: map[string]Column{"a": {Role: RoleName}}}
	err := Read("p.csv", strings.NewReader("a\nx\n"), m, func(*record.Patient) error { return nil })
	var ie *record.InputError
	if !errors.As(err, &ie) || ie.Source != "built-in" {
		t.Errorf("error %v", err)
	}
}

func TestReadStopsOnCallbackError(t *testing.T) {
	stop := errors.New("stop")
	m := Mapping{Columns: map[string]Column{"id": {Role: RolePatientID}}}
	n := 0
	err := Read("p.csv", strings.NewReader("id\n1\n2\n"), m, func(*record.Patient) error { n++; return stop })
	if err != stop || n != 1 {
		t.Errorf("error %v after %d rows", err, n)
	}
}

func ExampleRead() {
	m, _ := ParseMapping("mapping.json", strings.NewReader(`{"columns": {
		"id":  {"role": "patient_id"},
		"sbp": {"role": "observation", "system": "http://loinc.org", "code": "8480-6", "unit": "mm[Hg]"},
		"htn": {"role": "condition", "system": "http://snomed.info/sct", "code": "59621000"}}}`))
	data := "id,sbp,htn\nP1,142,yes\nP2,x,no\n"
	err := Read("patients.csv", strings.NewReader(data), m, func(p *record.Patient) error {
		fmt.Println(p.ID, p.Observations[0].Code, p.Observations[0].Value, len(p.Conditions))
		return nil
	})
	fmt.Println(err)
	// Output:
	// P1 8480-6 142 1
	// patients.csv: row 3: sbp: not a number
}

func FuzzRead(f *testing.F) {
	f.Add(header + "A1,Jane,Doe,1969-03-27,,F,98052,1 Main St,555-0100,999-12-3456,M77,,2019-03-28,127,5.2,never,yes,1\n")
	f.Add("id,first\n\"x\ny\",\"\"\"\n")
	m, err := ParseMapping("map.json", strings.NewReader(mappingJSON))
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, data string) {
		err := ReadRows("f.csv", strings.NewReader(data), m, func(p *record.Patient, bad *record.InputError) error {
			if (p == nil) == (bad == nil) || p != nil && p.ID == "" {
				t.Fatalf("patient %+v, problem %v", p, bad)
			}
			return nil
		})
		var ie *record.InputError
		if err != nil && !errors.As(err, &ie) {
			t.Fatalf("error %v is not an InputError", err)
		}
	})
}
