package normalize

import (
	"errors"
	"math"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/medchain/medchain/record"
	"github.com/medchain/medchain/vocab"
)

func day(s string) time.Time {
	t, err := time.Parse("2006-01-02", s)
	if err != nil {
		panic(err)
	}
	return t
}

func config(ref string) Config {
	c := DefaultConfig()
	c.RefDate = day(ref)
	return c
}

func patient(obs ...record.Observation) *record.Patient {
	return &record.Patient{Source: "test", Where: "row 2", ID: "P1", BirthDate: "1960-06-15", Sex: "female", Observations: obs}
}

func obs(code string, v float64, unit, date string) record.Observation {
	return record.Observation{Where: "row 2, column " + code, System: "http://loinc.org", Code: code, Value: v, HasValue: true, Unit: unit, Date: date}
}

// get normalises and returns one field, failing the test on any problem.
func get(t *testing.T, p *record.Patient, c Config, field string) record.Value {
	t.Helper()
	r, err := Normalize(p, c)
	if err != nil {
		t.Fatal(err)
	}
	v, ok := r.Get(field)
	if !ok {
		t.Fatalf("no field %q", field)
	}
	return v
}

func near(a, b float64) bool { return math.Abs(a-b) < 1e-9*math.Max(1, math.Abs(b)) }

func TestUnitConversion(t *testing.T) {
	for _, tc := range []struct {
		code  string
		value float64
		unit  string
		field string
		want  float64
	}{
		{"8480-6", 120, "mm[Hg]", "sbp", 120},
		{"8480-6", 120, "mmHg", "sbp", 120},
		{"8480-6", 16, "kPa", "sbp", 16 * 7.50062},
		{"8462-4", 10.6, "kPa", "dbp", 10.6 * 7.50062},
		{"2093-3", 200, "mg/dL", "total_chol", 200},
		{"2093-3", 200, "mg/dl", "total_chol", 200},
		{"2093-3", 5.2, "mmol/L", "total_chol", 5.2 * 38.67},
		{"2093-3", 5.2, "mmol/l", "total_chol", 5.2 * 38.67},
		{"2085-9", 1.3, "mmol/L", "hdl", 1.3 * 38.67},
		{"18262-6", 100, "mg/dL", "ldl", 100},
		{"13457-7", 3, "mmol/L", "ldl", 3 * 38.67},
		{"39156-5", 24.5, "kg/m2", "bmi", 24.5},
		{"4548-4", 6.5, "%", "hba1c", 6.5},
		{"4548-4", 48, "mmol/mol", "hba1c", 0.09148*48 + 2.152}, // 6.54 %
		{"2339-0", 90, "mg/dL", "glucose", 90},
		{"2345-7", 5.5, "mmol/L", "glucose", 5.5 * 18.016},
		{"8867-4", 72, "/min", "heart_rate", 72},
		{"8867-4", 72, "{beats}/min", "heart_rate", 72},
	} {
		v := get(t, patient(obs(tc.code, tc.value, tc.unit, "2019-01-01")), config("2020-01-01"), tc.field)
		if v.Kind != record.KindNumber || !near(v.Num, tc.want) {
			t.Errorf("%s %g %s: %s = %+v, want %g", tc.code, tc.value, tc.unit, tc.field, v, tc.want)
		}
	}
}

// checkProblem normalises and checks the one problem found.
func checkProblem(t *testing.T, p *record.Patient, c Config, where, field, reason, secret string) {
	t.Helper()
	_, err := Normalize(p, c)
	var ie *record.InputError
	if !errors.As(err, &ie) {
		t.Fatalf("error %v, want an InputError", err)
	}
	if ie.Where != where || ie.Field != field || !strings.Contains(ie.Reason, reason) {
		t.Errorf("got %q %q %q, want %q %q %q", ie.Where, ie.Field, ie.Reason, where, field, reason)
	}
	if secret != "" && strings.Contains(err.Error(), secret) {
		t.Errorf("%q repeats the value %q", err, secret)
	}
}

func TestUnknownUnits(t *testing.T) {
	for _, tc := range []struct {
		code, unit, field, reason string
	}{
		{"8480-6", "cm", "sbp", `unknown unit for LOINC 8480-6 (accepted: kPa, mm Hg, mmHg, mm[Hg])`},
		{"2093-3", "g/L", "total_chol", `unknown unit for LOINC 2093-3`},
		{"4548-4", "mg/dL", "hba1c", `unknown unit for LOINC 4548-4`},
		{"2085-9", "", "hdl", "missing unit"},
		// A unit field is source text: it may hold anything, and is never
		// repeated.
		{"8480-6", "Jane Roe 123-45-6789", "sbp", "unknown unit for LOINC 8480-6"},
	} {
		o := obs(tc.code, 123.456, tc.unit, "2019-01-01")
		checkProblem(t, patient(o), config("2020-01-01"), o.Where, tc.field, tc.reason, "123.456")
		if tc.unit != "" {
			checkProblem(t, patient(o), config("2020-01-01"), o.Where, tc.field, tc.reason, tc.unit)
		}
	}
}

func TestImplausible(t *testing.T) {
	c := config("2020-01-01")
	for _, tc := range []struct {
		o      record.Observation
		field  string
		reason string
		secret string
	}{
		{obs("8480-6", 900, "mm[Hg]", ""), "sbp", "implausible: outside 50–300 mm[Hg]", "900"},
		{obs("8462-4", 7, "mm[Hg]", ""), "dbp", "outside 20–200 mm[Hg]", ""},
		{obs("2093-3", 50.5, "mmol/L", ""), "total_chol", "outside 50–1000 mg/dL", "50.5"}, // 1953 mg/dL
		{obs("4548-4", 31.5, "%", ""), "hba1c", "outside 2–25 %", "31.5"},
		{obs("8867-4", 401, "/min", ""), "heart_rate", "outside 20–300 /min", "401"},
		{obs("39156-5", math.NaN(), "kg/m2", ""), "bmi", "outside 8–100 kg/m2", ""},
	} {
		checkProblem(t, patient(tc.o), c, tc.o.Where, tc.field, tc.reason, tc.secret)
	}
	// Old values are checked too, not only the one selected.
	checkProblem(t, patient(obs("8480-6", 900, "mm[Hg]", "1990-01-01"), obs("8480-6", 120, "mm[Hg]", "2019-01-01")),
		c, "row 2, column 8480-6", "sbp", "implausible", "900")

	// A range can be overridden.
	c.Plausible["sbp"] = Range{60, 250}
	checkProblem(t, patient(obs("8480-6", 260, "mm[Hg]", "")), c, "row 2, column 8480-6", "sbp", "outside 60–250", "260")
	delete(c.Plausible, "sbp") // back to the default
	if v := get(t, patient(obs("8480-6", 260, "mm[Hg]", "")), c, "sbp"); v.Num != 260 {
		t.Errorf("sbp %+v", v)
	}

	p := patient()
	p.BirthDate = "1850-01-01"
	checkProblem(t, p, config("2020-01-01"), "row 2", "age", "implausible: outside 0–130 years", "1850")
}

func TestSelection(t *testing.T) {
	p := patient(
		obs("8480-6", 150, "mm[Hg]", "2015-06-01"),
		obs("8480-6", 130, "mm[Hg]", "2019-03-01T09:00:00Z"),
		obs("8480-6", 120, "mm[Hg]", "2019-03-01T17:00:00Z"), // the same day, later
		obs("8480-6", 110, "mm[Hg]", "2019-12-31T23:30:00-08:00"),
		obs("8480-6", 200, "mm[Hg]", "2020-01-02"), // after the reference date: never used
	)
	for _, tc := range []struct {
		name   string
		sel    Selection
		window int
		ref    string
		want   float64 // NaN: null
	}{
		{"latest", Latest, 0, "2020-01-01", 110},
		{"latest, the reference day included", Latest, 0, "2019-12-31", 110}, // its own calendar day, in its zone
		{"latest of a day is the later time", Latest, 0, "2019-06-01", 120},
		{"latest in a window", Latest, 30, "2019-03-20", 120},
		{"latest, window too short", Latest, 10, "2019-03-20", math.NaN()},
		{"latest, before any", Latest, 0, "2015-05-31", math.NaN()},
		{"mean over a year", Mean, 365, "2020-01-01", (130 + 120 + 110) / 3.0},
		{"mean over everything", Mean, 0, "2020-01-01", (150 + 130 + 120 + 110) / 4.0},
		{"window ends at the reference date", Mean, 1, "2019-03-01", 125},
	} {
		c := config(tc.ref)
		c.Selection, c.WindowDays = tc.sel, tc.window
		v := get(t, p, c, "sbp")
		if math.IsNaN(tc.want) && v.Kind != record.KindNull || !math.IsNaN(tc.want) && !near(v.Num, tc.want) {
			t.Errorf("%s: %+v, want %g", tc.name, v, tc.want)
		}
	}
	// An undated value (a CSV column without a date) is current.
	if v := get(t, patient(obs("8480-6", 150, "mm[Hg]", "2019-01-01"), obs("8480-6", 140, "mm[Hg]", "")), config("2020-01-01"), "sbp"); v.Num != 140 {
		t.Errorf("undated: %+v", v)
	}
}

func TestSmoker(t *testing.T) {
	smoke := func(code, date string) record.Observation {
		return record.Observation{Where: "w", System: "loinc", Code: "72166-2", ValueCode: code, Date: date}
	}
	for _, tc := range []struct {
		obs  []record.Observation
		want string // true, false, null
	}{
		{[]record.Observation{smoke("449868002", "2019-01-01")}, "true"},
		{[]record.Observation{smoke("428041000124106", "2019-01-01")}, "true"},
		{[]record.Observation{smoke("77176002", "2019-01-01")}, "true"},
		{[]record.Observation{smoke("266919005", "2019-01-01")}, "false"},
		{[]record.Observation{smoke("8517006", "2019-01-01")}, "false"},
		{[]record.Observation{smoke("266927001", "2019-01-01")}, "null"},
		{nil, "null"},
		// The latest status counts, even under Mean.
		{[]record.Observation{smoke("449868002", "2018-01-01"), smoke("8517006", "2019-01-01")}, "false"},
		{[]record.Observation{smoke("266919005", "2018-01-01"), smoke("449868002", "2019-01-01"), smoke("8517006", "2020-06-01")}, "true"},
	} {
		c := config("2020-01-01")
		c.Selection = Mean
		v := get(t, patient(tc.obs...), c, "smoker")
		got := map[record.Kind]string{record.KindNull: "null", record.KindBool: map[bool]string{true: "true", false: "false"}[v.B]}[v.Kind]
		if got != tc.want {
			t.Errorf("%+v: %s, want %s", tc.obs, got, tc.want)
		}
	}
	checkProblem(t, patient(smoke("123456", "2019-01-01")), config("2020-01-01"), "w", "smoker", "not in the table", "")
	checkProblem(t, patient(smoke("", "2019-01-01")), config("2020-01-01"), "w", "smoker", "not coded", "")
}

func TestDiagnoses(t *testing.T) {
	const snomed, icd10, icd10cm = "http://snomed.info/sct", "http://hl7.org/fhir/sid/icd-10", "http://hl7.org/fhir/sid/icd-10-cm"
	for _, tc := range []struct {
		system, code, onset string
		want                string // the field that becomes true, or ""
	}{
		{snomed, "59621000", "2002-05-07T07:35:01-07:00", "hypertension"},
		{snomed, "38341003", "", "hypertension"},
		{"SNOMED", "44054006", "2010-01-01", "diabetes"},
		{snomed, "46635009", "2010-01-01", "diabetes"},
		{snomed, "15777000", "2010-01-01", ""}, // prediabetes is not diabetes
		{snomed, "22298006", "2010-01-01", "mi"},
		{snomed, "401314000", "2010-01-01", "mi"},
		{snomed, "230690007", "2010-01-01", "stroke"},
		{snomed, "422504002", "2010-01-01", "stroke"},
		{snomed, "84114007", "2010-01-01", "heart_failure"},
		{snomed, "88805009", "2010-01-01", "heart_failure"},
		{icd10, "I10", "2010-01-01", "hypertension"},
		{icd10cm, "I11.9", "2010-01-01", "hypertension"},
		{icd10, "I15.0", "2010-01-01", "hypertension"},
		{icd10, "I16", "2010-01-01", ""},
		{"ICD10", "E11.65", "2010-01-01", "diabetes"},
		{icd10, "e109", "2010-01-01", "diabetes"},
		{icd10, "E15", "2010-01-01", ""},
		{icd10, "I21.4", "2010-01-01", "mi"},
		{icd10, "I22", "2010-01-01", "mi"},
		{icd10, "I20.0", "2010-01-01", ""},
		{icd10, "I63.9", "2010-01-01", "stroke"},
		{icd10, "I64", "2010-01-01", "stroke"},
		{icd10, "I50.9", "2010-01-01", "heart_failure"},
		{snomed, "I10", "2010-01-01", ""},      // an ICD-10 code under SNOMED is not one
		{snomed, "59621000", "2020-01-02", ""}, // diagnosed after the reference date
	} {
		p := patient()
		p.Conditions = []record.Condition{{Where: "c", System: tc.system, Code: tc.code, Onset: tc.onset}}
		r, err := Normalize(p, config("2020-01-01"))
		if err != nil {
			t.Fatal(err)
		}
		for _, d := range diagnoses {
			v, _ := r.Get(d.field.Name)
			if v.Kind != record.KindBool || v.B != (d.field.Name == tc.want) {
				t.Errorf("%s %s: %s = %+v", tc.system, tc.code, d.field.Name, v)
			}
		}
	}
}

func TestTreated(t *testing.T) {
	rx := func(code, date, status string) record.Medication {
		return record.Medication{Where: "m", System: "http://www.nlm.nih.gov/research/umls/rxnorm", Code: code, Date: date, Status: status}
	}
	for _, tc := range []struct {
		name string
		meds []record.Medication
		want bool
	}{
		{"active", []record.Medication{rx("314076", "2015-01-01", "active")}, true},
		{"Synthea renewal across the date", []record.Medication{rx("999967", "2019-08-07", "stopped"), rx("999967", "2020-08-13", "active")}, true},
		{"renewed as another drug", []record.Medication{rx("314076", "2019-06-01", "stopped"), rx("979492", "2020-03-01", "active")}, true},
		{"stopped, never renewed", []record.Medication{rx("310798", "2019-06-01", "stopped")}, false},
		{"stopped, restarted much later", []record.Medication{rx("310798", "2015-06-01", "completed"), rx("310798", "2020-06-01", "active")}, false},
		{"prescribed after the date", []record.Medication{rx("197361", "2020-01-02", "active")}, false},
		{"cancelled", []record.Medication{rx("197361", "2019-01-01", "cancelled")}, false},
		{"not an antihypertensive", []record.Medication{rx("314231", "2019-01-01", "active")}, false}, // simvastatin
		{"ingredient, undated (CSV)", []record.Medication{{Where: "m", System: "rxnorm", Code: "29046", Status: "active"}}, true},
		{"other system", []record.Medication{{Where: "m", System: "ndc", Code: "314076", Status: "active"}}, false},
		{"none", nil, false},
	} {
		p := patient()
		p.Medications = tc.meds
		if v := get(t, p, config("2020-01-01"), "bp_treated"); v.Kind != record.KindBool || v.B != tc.want {
			t.Errorf("%s: %+v, want %v", tc.name, v, tc.want)
		}
	}
}

func TestAge(t *testing.T) {
	for _, tc := range []struct {
		birth, death, ref string
		want              float64 // -1: null
	}{
		{"1960-06-15", "", "2020-06-14", 59},
		{"1960-06-15", "", "2020-06-15", 60}, // the birthday
		{"1960-06-15T08:00:00+02:00", "", "2020-06-15", 60},
		{"1960", "", "2020-01-01", 60}, // a year stands for its first day
		{"1960-06-15", "2018-09-14T11:58:37-07:00", "2020-06-15", 58},
		{"1960-06-15", "2025-01-01", "2020-06-15", 60}, // dies after the reference date
		{"", "", "2020-01-01", -1},
		{"2020-01-01", "", "2020-01-01", 0},
	} {
		p := patient()
		p.BirthDate, p.DeceasedDate = tc.birth, tc.death
		v := get(t, p, config(tc.ref), "age")
		if tc.want < 0 && v.Kind != record.KindNull || tc.want >= 0 && v.Num != tc.want {
			t.Errorf("born %s, died %s, at %s: %+v, want %g", tc.birth, tc.death, tc.ref, v, tc.want)
		}
	}
	p := patient()
	p.BirthDate = "2021-01-01"
	checkProblem(t, p, config("2020-01-01"), "row 2", "birth_date", "after the reference date", "2021")
	p.BirthDate = "15/06/1960"
	checkProblem(t, p, config("2020-01-01"), "row 2", "birth_date", "not a date", "1960")
}

func TestConfigErrors(t *testing.T) {
	for _, tc := range []struct {
		change func(*Config)
		field  string
	}{
		{func(c *Config) { c.RefDate = time.Time{} }, "RefDate"},
		{func(c *Config) { c.Selection = "median" }, "Selection"},
		{func(c *Config) { c.WindowDays = -1 }, "WindowDays"},
		{func(c *Config) { c.Plausible["sbp"] = Range{300, 50} }, "Plausible"},
		{func(c *Config) { c.Plausible["weight"] = Range{1, 2} }, "Plausible"},
	} {
		if err := config("2020-01-01").Check(); err != nil {
			t.Fatal(err)
		}
		c := config("2020-01-01")
		tc.change(&c)
		_, err := Normalize(patient(), c)
		var ie *record.InputError
		if !errors.As(err, &ie) || ie.Source != "normalize.Config" || ie.Field != tc.field {
			t.Errorf("error %v, want one about %s", err, tc.field)
		}
		if err := c.Check(); err == nil || err.Error() != ie.Error() {
			t.Errorf("Check() = %v, want %v", err, ie)
		}
	}
}

func TestNormalizeAll(t *testing.T) {
	p := patient(
		obs("8480-6", 900, "mm[Hg]", "2019-01-01"),
		obs("2093-3", 5, "g/L", "2019-01-01"),
		obs("2085-9", 50, "mg/dL", "2019-02-30"),
	)
	p.BirthDate = "not a date"
	r, errs := NormalizeAll(p, config("2020-01-01"))
	if r != nil || len(errs) != 4 {
		t.Fatalf("record %v, %d problems: %v", r, len(errs), errs)
	}
	var fields []string
	for _, e := range errs {
		fields = append(fields, e.Field)
	}
	if want := []string{"birth_date", "sbp", "total_chol", "hdl"}; !slices.Equal(fields, want) {
		t.Errorf("problems with %q, want %q", fields, want)
	}
	if _, err := Normalize(p, config("2020-01-01")); err.Error() != errs[0].Error() {
		t.Errorf("Normalize returned %v, want the first problem %v", err, errs[0])
	}
}

func TestSchemaAndFields(t *testing.T) {
	want := []string{
		"patient_id", "name", "birth_date", "death_date", "zip", "address", "phone", "ssn", "mrn", "identifiers", "free_text",
		"age", "sex", "sbp", "dbp", "total_chol", "hdl", "ldl", "bmi", "hba1c", "glucose", "heart_rate", "smoker",
		"hypertension", "diabetes", "mi", "stroke", "heart_failure", "bp_treated", "cvd_10y", "cvd_event", "cvd_time",
	}
	if got := Fields(); !slices.Equal(got, want) {
		t.Errorf("Fields() = %q", got)
	}
	s := Schema()
	if len(s) != len(want)-len(identifying) {
		t.Fatalf("%d schema fields", len(s))
	}
	for i, f := range s {
		if f.Name != want[len(identifying)+i] || f.Type == "" {
			t.Errorf("schema field %d: %+v", i, f)
		}
	}
	i := slices.IndexFunc(s, func(f vocab.Field) bool { return f.Name == "sbp" })
	if f := s[i]; f.System != "loinc" || f.Code != "8480-6" || f.Unit != "mm[Hg]" || f.Type != "number" {
		t.Errorf("sbp: %+v", f)
	}
	s[0].Name = "changed"
	if Schema()[0].Name != "age" {
		t.Error("Schema returned the package's own slice")
	}
	r, err := Normalize(patient(), config("2020-01-01"))
	if err != nil || !slices.Equal(r.Fields, want) || len(r.Values) != len(want) || r.Source != "test" || r.Where != "row 2" {
		t.Errorf("record %+v, %v", r, err)
	}
}

// A CSV source may carry study outcomes; they pass through as booleans,
// null where absent, and an unknown outcome name is an input error.
func TestOutcomes(t *testing.T) {
	c := DefaultConfig()
	c.RefDate = time.Date(2020, 1, 1, 0, 0, 0, 0, time.UTC)
	base := record.Patient{Source: "x.csv", ID: "p1", BirthDate: "1960-01-01", Sex: "male"}
	get := func(p record.Patient) (record.Value, []*record.InputError) {
		r, errs := NormalizeAll(&p, c)
		if r == nil {
			return record.Value{}, errs
		}
		v, _ := r.Get("cvd_10y")
		return v, nil
	}
	if v, errs := get(base); errs != nil || v.Kind != record.KindNull {
		t.Errorf("no outcome: %+v %v", v, errs)
	}
	with := base
	with.Outcomes = []record.Outcome{{Where: "row 2, column cvd", Name: "cvd_10y", Value: true}}
	if v, errs := get(with); errs != nil || v.Kind != record.KindBool || !v.B {
		t.Errorf("outcome true: %+v %v", v, errs)
	}
	bad := base
	bad.Outcomes = []record.Outcome{{Where: "row 2, column x", Name: "death_5y", Value: true}}
	if _, errs := get(bad); len(errs) != 1 || errs[0].Field != "death_5y" || errs[0].Where != "row 2, column x" {
		t.Errorf("unknown outcome: %v", errs)
	}
}

// A time outcome (cvd_time, years of follow-up) is a number in the record;
// given as a yes/no outcome, or a yes/no outcome given as a time, or
// outside 0–120 years, it is an input error naming the field and where.
func TestTimeOutcomes(t *testing.T) {
	c := DefaultConfig()
	c.RefDate = time.Date(2020, 1, 1, 0, 0, 0, 0, time.UTC)
	base := record.Patient{Source: "x.csv", ID: "p1", BirthDate: "1960-01-01", Sex: "male"}
	p := base
	p.Outcomes = []record.Outcome{{Where: "row 2, column t", Name: "cvd_time", IsTime: true, Years: 7.3}, {Where: "row 2, column e", Name: "cvd_event", Value: true}}
	r, errs := NormalizeAll(&p, c)
	if errs != nil {
		t.Fatal(errs)
	}
	if v, _ := r.Get("cvd_time"); v.Kind != record.KindNumber || v.Num != 7.3 {
		t.Errorf("cvd_time = %+v", v)
	}
	if v, _ := r.Get("cvd_event"); v.Kind != record.KindBool || !v.B {
		t.Errorf("cvd_event = %+v", v)
	}
	for _, o := range []record.Outcome{
		{Where: "row 2, column t", Name: "cvd_time", Value: true},
		{Where: "row 2, column t", Name: "cvd_event", IsTime: true, Years: 3},
		{Where: "row 2, column t", Name: "cvd_time", IsTime: true, Years: -1},
		{Where: "row 2, column t", Name: "cvd_time", IsTime: true, Years: 500},
	} {
		p := base
		p.Outcomes = []record.Outcome{o}
		if _, errs := NormalizeAll(&p, c); len(errs) != 1 || errs[0].Field != o.Name || errs[0].Where != o.Where {
			t.Errorf("%+v: %v", o, errs)
		} else if strings.Contains(errs[0].Error(), "500") {
			t.Errorf("the error repeats the value: %v", errs[0])
		}
	}
}
