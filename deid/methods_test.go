package deid

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/medchain/medchain/record"
)

var testSecret = []byte("0123456789abcdef0123456789abcdef")

// oneRule builds a Deidentifier with a pseudonym for patient_id and the
// given rule (a JSON object) for field x.
func oneRule(t *testing.T, ruleJSON string) *Deidentifier {
	t.Helper()
	src := fmt.Sprintf(`{"profile": "test", "rules": [
		{"field": "patient_id", "method": "pseudonym"},
		%s]}`, ruleJSON)
	r, err := Parse("test.json", []byte(src))
	if err != nil {
		t.Fatal(err)
	}
	d, err := New(r, testSecret)
	if err != nil {
		t.Fatal(err)
	}
	return d
}

// applyX runs d on a record {patient_id: id, x: v} and returns the output
// value of x (Null if x was dropped).
func applyX(t *testing.T, d *Deidentifier, id string, v record.Value) (record.Value, error) {
	t.Helper()
	rec := &record.Record{Source: "t.csv", Where: "row 1", Fields: []string{"patient_id", "x"}, Values: []record.Value{record.Str(id), v}}
	row, err := d.Apply(rec)
	if err != nil {
		return record.Value{}, err
	}
	if len(row.Values) == 0 {
		return record.Null(), nil
	}
	return row.Values[0], nil
}

func mustX(t *testing.T, d *Deidentifier, id string, v record.Value) record.Value {
	t.Helper()
	out, err := applyX(t, d, id, v)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func TestZIP3(t *testing.T) {
	hipaa := oneRule(t, `{"field": "x", "method": "zip3"}`)
	// The example list.
	short := oneRule(t, `{"field": "x", "method": "zip3", "params": {"restricted": ["203", "556"]}}`)
	for _, tc := range []struct {
		d    *Deidentifier
		in   record.Value
		want record.Value
	}{
		{hipaa, record.Str("98052"), record.Str("980")},
		{hipaa, record.Str("20301"), record.Str("000")},
		{hipaa, record.Str("98028-1830"), record.Str("980")},
		{hipaa, record.Str("980281830"), record.Str("980")},
		{hipaa, record.Str(" 02139 "), record.Str("021")},
		{hipaa, record.Str("55604"), record.Str("000")},
		{hipaa, record.Str("89301"), record.Str("000")},
		{hipaa, record.Str("03603"), record.Str("000")},
		{hipaa, record.Num(2139), record.Str("021")}, // a CSV reader lost the leading zero
		{hipaa, record.Str("2139"), record.Str("000")},
		{hipaa, record.Str("SW1A 1AA"), record.Str("000")},
		{hipaa, record.Str("98052-"), record.Str("000")},
		{hipaa, record.Str(""), record.Null()}, // missing stays missing
		{hipaa, record.Str("  "), record.Null()},
		{hipaa, record.Null(), record.Null()},
		{short, record.Str("98052"), record.Str("980")},
		{short, record.Str("20301"), record.Str("000")},
		{short, record.Str("98028-1830"), record.Str("980")},
		{short, record.Str("55604"), record.Str("000")},
		{short, record.Str("89301"), record.Str("893")},
	} {
		if got := mustX(t, tc.d, "p1", tc.in); got != tc.want {
			t.Errorf("zip3(%+v) = %+v, want %+v", tc.in, got, tc.want)
		}
	}
}

func TestAgeTopCode(t *testing.T) {
	d := oneRule(t, `{"field": "x", "method": "generalise", "params": {"top": 90}, "type": "integer"}`)
	col := d.Schema([]string{"patient_id", "x"})[0]
	if col.Type != "integer" || col.TopCode == nil || *col.TopCode != 90 {
		t.Fatalf("column = %+v, want an integer column top-coded at 90", col)
	}
	for _, tc := range []struct {
		age   float64
		want  float64
		label string
	}{
		{30, 30, "30"}, {89, 89, "89"}, {90, 90, "90+"}, {91, 90, "90+"}, {104, 90, "90+"},
	} {
		got := mustX(t, d, "p1", record.Num(tc.age))
		if got != record.Num(tc.want) || col.Label(got.Num) != tc.label {
			t.Errorf("age %v → %v (%s), want %v (%s)", tc.age, got.Num, col.Label(got.Num), tc.want, tc.label)
		}
	}
}

func TestGeneraliseNumber(t *testing.T) {
	d := oneRule(t, `{"field": "x", "method": "generalise", "params": {"top": 90, "bottom": 20, "bin": 5}}`)
	col := d.Schema([]string{"patient_id", "x"})[0]
	for _, tc := range []struct{ in, want float64 }{
		{15, 20}, {20, 20}, {21, 20}, {24.9, 20}, {25, 25}, {87, 85}, {89.9, 85}, {90, 90}, {92, 90}, {130, 90},
	} {
		if got := mustX(t, d, "p1", record.Num(tc.in)); got != record.Num(tc.want) {
			t.Errorf("%v → %v, want %v", tc.in, got.Num, tc.want)
		}
	}
	if col.Label(20) != "≤20" || col.Label(90) != "90+" || col.Label(45) != "45" {
		t.Errorf("labels: %q %q %q", col.Label(20), col.Label(90), col.Label(45))
	}
	if _, err := applyX(t, d, "p1", record.Str("old")); err == nil {
		t.Error("generalise of text: no error")
	}
}

func TestGeneraliseCategory(t *testing.T) {
	withOther := oneRule(t, `{"field": "x", "method": "generalise", "params": {"map": {"male": "M", "female": "F"}, "other": "U"}}`)
	withoutOther := oneRule(t, `{"field": "x", "method": "generalise", "params": {"map": {"male": "M", "female": "F"}}}`)
	for _, tc := range []struct {
		d        *Deidentifier
		in, want record.Value
	}{
		{withOther, record.Str("male"), record.Str("M")},
		{withOther, record.Str("female"), record.Str("F")},
		{withOther, record.Str("intersex"), record.Str("U")},
		{withoutOther, record.Str("intersex"), record.Null()},
		{withoutOther, record.Null(), record.Null()},
	} {
		if got := mustX(t, tc.d, "p1", tc.in); got != tc.want {
			t.Errorf("%+v → %+v, want %+v", tc.in, got, tc.want)
		}
	}
	if typ := withOther.Schema([]string{"x"})[0].Type; typ != "code" {
		t.Errorf("type %q, want code", typ)
	}
}

func TestYearOnly(t *testing.T) {
	d := oneRule(t, `{"field": "x", "method": "year_only"}`)
	for _, tc := range []struct {
		in   string
		want float64
	}{
		{"1961-05-12", 1961}, {"1961", 1961}, {"1961-05", 1961}, {"1961-05-12T08:30:00-07:00", 1961},
	} {
		if got := mustX(t, d, "p1", record.Str(tc.in)); got != record.Num(tc.want) {
			t.Errorf("%s → %+v, want %v", tc.in, got, tc.want)
		}
	}
	for _, bad := range []record.Value{record.Str("12/05/1961"), record.Str("May 1961"), record.Str("196"), record.Num(1961)} {
		if _, err := applyX(t, d, "p1", bad); err == nil {
			t.Errorf("%+v: no error", bad)
		}
	}
	if typ := d.Schema([]string{"x"})[0].Type; typ != "year" {
		t.Errorf("type %q, want year", typ)
	}
}

func TestDateShift(t *testing.T) {
	src := `{"profile": "t", "rules": [
		{"field": "patient_id", "method": "pseudonym"},
		{"field": "birth_date", "method": "date_shift", "params": {"min_days": -30, "max_days": 30}},
		{"field": "death_date", "method": "date_shift", "params": {"min_days": -30, "max_days": 30}}]}`
	r, err := Parse("t.json", []byte(src))
	if err != nil {
		t.Fatal(err)
	}
	d, _ := New(r, testSecret)
	fields := []string{"patient_id", "birth_date", "death_date"}
	days := func(a, b string) int {
		ta, _ := time.Parse(time.DateOnly, a)
		tb, _ := time.Parse(time.DateOnly, b)
		return int(tb.Sub(ta).Hours() / 24)
	}
	seen := map[int]bool{}
	for i := range 300 {
		id := fmt.Sprintf("patient-%d", i)
		birth, death := "1961-05-12", "2020-02-29T10:00:00Z"
		row, err := d.Apply(&record.Record{Fields: fields, Values: []record.Value{record.Str(id), record.Str(birth), record.Str(death)}})
		if err != nil {
			t.Fatal(err)
		}
		b, dd := row.Values[0].Str, row.Values[1].Str
		if got, want := days(b, dd), days(birth, death[:10]); got != want {
			t.Fatalf("%s: interval %d days, want %d", id, got, want)
		}
		shift := days(birth, b)
		if shift < -30 || shift > 30 {
			t.Fatalf("%s: shift %d outside [-30, 30]", id, shift)
		}
		seen[shift] = true
		again, _ := d.Apply(&record.Record{Fields: fields, Values: []record.Value{record.Str(id), record.Str(birth), record.Null()}})
		if again.Values[0].Str != b || again.Values[1] != record.Null() {
			t.Fatalf("%s: shift not stable or null not kept: %+v", id, again.Values)
		}
	}
	if len(seen) < 50 {
		t.Errorf("300 patients got only %d distinct shifts of 61", len(seen))
	}
	if _, err := d.Apply(&record.Record{Fields: fields, Values: []record.Value{record.Str("p"), record.Str("1961"), record.Null()}}); err == nil {
		t.Error("date_shift of a year: no error")
	}
}

func TestPseudonym(t *testing.T) {
	r := SafeHarbor()
	d1, _ := New(r, testSecret)
	d1b, _ := New(r, testSecret)
	d2, _ := New(r, []byte("another institution's secret!!"))
	rec := func(id string) *record.Record {
		return &record.Record{Fields: []string{"patient_id"}, Values: []record.Value{record.Str(id)}}
	}
	a, _ := d1.Apply(rec("d88f994a-5efa-421d-9c40-5f116d2114a6"))
	b, _ := d1b.Apply(rec("d88f994a-5efa-421d-9c40-5f116d2114a6"))
	c, _ := d2.Apply(rec("d88f994a-5efa-421d-9c40-5f116d2114a6"))
	e, _ := d1.Apply(rec("d88f994a-5efa-421d-9c40-5f116d2114a7"))
	if a.Pseudonym != b.Pseudonym {
		t.Error("same secret, different pseudonyms")
	}
	if a.Pseudonym == c.Pseudonym {
		t.Error("different secrets, same pseudonym")
	}
	if a.Pseudonym == e.Pseudonym {
		t.Error("different ids, same pseudonym")
	}
	if len(a.Pseudonym) != 32 || strings.Trim(a.Pseudonym, "0123456789abcdef") != "" {
		t.Errorf("pseudonym %q: want 32 hex characters", a.Pseudonym)
	}
	if d1.PatientPseudonym("d88f994a-5efa-421d-9c40-5f116d2114a6") != a.Pseudonym {
		t.Error("PatientPseudonym disagrees with Apply")
	}
	// As documented, so other tools can reproduce it:
	// hex(HMAC-SHA256(secret, "pseudonym" NUL "patient_id" NUL id)), truncated.
	m := hmac.New(sha256.New, testSecret)
	m.Write([]byte("pseudonym\x00patient_id\x00d88f994a-5efa-421d-9c40-5f116d2114a6"))
	if want := hex.EncodeToString(m.Sum(nil))[:32]; a.Pseudonym != want {
		t.Errorf("pseudonym %s, want %s", a.Pseudonym, want)
	}

	// A pseudonym on another field is a column, keyed by field too.
	d := oneRule(t, `{"field": "x", "method": "pseudonym", "params": {"length": 16}}`)
	x := mustX(t, d, "p1", record.Str("family-7"))
	if len(x.Str) != 16 || x.Str == d.PatientPseudonym("family-7")[:16] {
		t.Errorf("field pseudonym %q: want 16 hex characters, distinct from the patient-id pseudonym", x.Str)
	}
}

func TestPerturb(t *testing.T) {
	d := oneRule(t, `{"field": "x", "method": "perturb", "params": {"max": 5, "decimals": 1}}`)
	moved := 0
	for i := range 500 {
		id := fmt.Sprint("p", i)
		got := mustX(t, d, id, record.Num(120))
		if got.Num < 115 || got.Num > 125 {
			t.Fatalf("%s: 120 → %v, outside ±5", id, got.Num)
		}
		if got.Num*10 != float64(int(got.Num*10+0.5)) && got.Num*10 != float64(int(got.Num*10-0.5)) {
			t.Fatalf("%v not rounded to 1 decimal", got.Num)
		}
		if again := mustX(t, d, id, record.Num(120)); again != got {
			t.Fatalf("%s: noise not deterministic: %v then %v", id, got.Num, again.Num)
		}
		if got.Num != 120 {
			moved++
		}
	}
	if moved < 450 {
		t.Errorf("only %d of 500 values moved", moved)
	}
	integer := oneRule(t, `{"field": "x", "method": "perturb", "params": {"max": 3}, "type": "integer"}`)
	if got := mustX(t, integer, "p1", record.Num(70)); got.Num != float64(int(got.Num)) {
		t.Errorf("integer perturb gave %v", got.Num)
	}
}

func TestKeep(t *testing.T) {
	d := oneRule(t, `{"field": "x", "method": "keep", "type": "number"}`)
	if got := mustX(t, d, "p1", record.Num(1.5)); got != record.Num(1.5) {
		t.Errorf("keep changed the value: %+v", got)
	}
	_, err := applyX(t, d, "p1", record.Str("secret-value-42"))
	if err == nil || strings.Contains(err.Error(), "secret-value-42") {
		t.Errorf("kind mismatch: err %v (want an error without the value)", err)
	}
	if !strings.Contains(err.Error(), "t.csv: row 1: x:") {
		t.Errorf("error %q does not name file, row and field", err)
	}
	// Fields kept by default are text.
	r, _ := Parse("k.json", []byte(`{"profile": "k", "default": "keep", "rules": [{"field": "patient_id", "method": "pseudonym"}]}`))
	dk, _ := New(r, testSecret)
	rec := &record.Record{Fields: []string{"patient_id", "a", "b", "c"}, Values: []record.Value{record.Str("p"), record.Num(2.5), record.Bool(true), record.Str("s")}}
	row, err := dk.Apply(rec)
	if err != nil {
		t.Fatal(err)
	}
	want := []record.Value{record.Str("2.5"), record.Str("true"), record.Str("s")}
	for i, v := range want {
		if row.Values[i] != v {
			t.Errorf("default keep %d: %+v, want %+v", i, row.Values[i], v)
		}
	}
	for _, c := range dk.Schema(rec.Fields) {
		if c.Type != "string" || c.Method != Keep {
			t.Errorf("default-kept column %+v", c)
		}
	}
}

func TestRedactAndDefault(t *testing.T) {
	d := oneRule(t, `{"field": "x", "method": "redact"}`)
	rec := &record.Record{Fields: []string{"patient_id", "x", "unforeseen"}, Values: []record.Value{record.Str("p"), record.Str("a"), record.Str("b")}}
	row, err := d.Apply(rec)
	if err != nil {
		t.Fatal(err)
	}
	if len(row.Values) != 0 || len(d.Schema(rec.Fields)) != 0 {
		t.Errorf("redacted and unnamed fields survived: %+v", row.Values)
	}
}

func TestApplyErrors(t *testing.T) {
	d, _ := New(SafeHarbor(), testSecret)
	for name, rec := range map[string]*record.Record{
		"no id":        {Fields: []string{"age"}, Values: []record.Value{record.Num(40)}},
		"empty id":     {Fields: []string{"patient_id"}, Values: []record.Value{record.Str(" ")}},
		"null id":      {Fields: []string{"patient_id"}, Values: []record.Value{record.Null()}},
		"misaligned":   {Fields: []string{"patient_id", "age"}, Values: []record.Value{record.Str("p")}},
		"duplicate":    {Fields: []string{"patient_id", "age", "age"}, Values: []record.Value{record.Str("p"), record.Num(1), record.Num(2)}},
		"bad age kind": {Fields: []string{"patient_id", "age"}, Values: []record.Value{record.Str("p"), record.Str("forty")}},
	} {
		rec.Source, rec.Where = "in.csv", "row 9"
		_, err := d.Apply(rec)
		var ie *record.InputError
		if err == nil || !asInputError(err, &ie) || ie.Source != "in.csv" || ie.Where != "row 9" {
			t.Errorf("%s: err %v, want an InputError for in.csv row 9", name, err)
		}
	}
	if r := d.Report(); len(r) != 0 {
		t.Errorf("failed rows were counted: %v", r)
	}
}
