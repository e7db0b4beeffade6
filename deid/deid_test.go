package deid

import (
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"

	"pgregory.net/rapid"

	"github.com/medchain/medchain/record"
)

var update = flag.Bool("update", false, "rewrite testdata/*.golden")

// TestSafeHarborCoversEveryClass: each of the 18 classes has fields, and
// each of those fields has an explicit rule that does not keep it as is.
func TestSafeHarborCoversEveryClass(t *testing.T) {
	if len(SafeHarborClasses) != 18 {
		t.Fatalf("%d classes, want 18", len(SafeHarborClasses))
	}
	byField := map[string]Rule{}
	for _, r := range SafeHarbor().Rules {
		byField[r.Field] = r
	}
	for i, c := range SafeHarborClasses {
		if want := string(rune('A' + i)); c.Letter != want {
			t.Errorf("class %d is %s, want %s", i, c.Letter, want)
		}
		if len(c.Fields) == 0 {
			t.Errorf("class %s (%s) has no fields", c.Letter, c.Name)
		}
		for _, f := range c.Fields {
			r, ok := byField[f]
			switch {
			case !ok:
				t.Errorf("class %s: field %s has no rule", c.Letter, f)
			case r.Method == Keep:
				t.Errorf("class %s: field %s is kept", c.Letter, f)
			}
		}
	}
	// Every identifier the normaliser produces belongs to a class.
	classed := map[string]bool{}
	for _, c := range SafeHarborClasses {
		for _, f := range c.Fields {
			classed[f] = true
		}
	}
	for _, f := range []string{"patient_id", "name", "birth_date", "death_date", "zip", "address", "phone", "ssn", "mrn", "identifiers", "free_text"} {
		if !classed[f] {
			t.Errorf("identifier field %s is in no class", f)
		}
	}
	if SafeHarbor().Default != Redact {
		t.Error("Safe Harbor must drop unforeseen fields")
	}
}

// handMade is a patient with every identifier and research field the
// normaliser produces, and one field no profile foresaw.
func handMade() *record.Record {
	fields := []string{"patient_id", "name", "birth_date", "death_date", "zip", "address", "phone", "ssn", "mrn", "identifiers", "free_text",
		"age", "sex", "sbp", "dbp", "total_chol", "hdl", "ldl", "bmi", "smoker", "hba1c", "glucose", "heart_rate",
		"hypertension", "diabetes", "mi", "stroke", "heart_failure", "bp_treated", "employer"}
	values := []record.Value{
		record.Str("ef2185a2-4460-49bb-9604-a36ed52c2ef4"), record.Str("Paris331 Lindgren255"), record.Str("1931-03-13"),
		record.Str("2024-11-02T07:35:01-07:00"), record.Str("20301-1000"), record.Str("543 Johnston Camp, Redmond, WA"),
		record.Str("555-354-9352"), record.Str("999-35-7070"), record.Str("MRN-0042"), record.Str("DL:S99958316 PPN:X36193054X"),
		record.Str("Paris331 Lindgren255 is a 93 year-old man"),
		record.Num(93), record.Str("male"), record.Num(142), record.Num(88), record.Num(213), record.Num(50), record.Num(131.4),
		record.Num(27.3), record.Bool(false), record.Num(5.6), record.Num(97), record.Num(71),
		record.Bool(true), record.Bool(false), record.Bool(false), record.Bool(false), record.Bool(false), record.Bool(true),
		record.Str("Contoso Ltd"),
	}
	return &record.Record{Source: "hand-made", Where: "patient 1", Fields: fields, Values: values}
}

func TestSafeHarborGolden(t *testing.T) {
	rules := SafeHarbor()
	d, err := New(rules, testSecret)
	if err != nil {
		t.Fatal(err)
	}
	rec := handMade()
	row, err := d.Apply(rec)
	if err != nil {
		t.Fatal(err)
	}
	hash, _ := rules.Hash()
	cols := d.Schema(rec.Fields)
	var b bytes.Buffer
	fmt.Fprintf(&b, "profile %s\nhash %s\npseudonym %s\n\ncolumns:\n", rules.Profile, hash, row.Pseudonym)
	for i, c := range cols {
		v := row.Values[i]
		s := ""
		switch v.Kind {
		case record.KindNumber:
			s = c.Label(v.Num)
		case record.KindText:
			s = strconv.Quote(v.Str)
		case record.KindBool:
			s = strconv.FormatBool(v.B)
		default:
			s = "null"
		}
		fmt.Fprintf(&b, "  %-13s %-8s %-11s %s\n", c.Name, c.Type, c.Method, s)
	}
	fmt.Fprintf(&b, "\nreport:\n%s", d.Report())
	golden := "testdata/safe_harbor.golden"
	if *update {
		if err := os.WriteFile(golden, b.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatal(err, "(run with -update to create it)")
	}
	if got := b.String(); got != string(want) {
		t.Errorf("Safe Harbor output changed (run with -update if intended):\n--- got\n%s\n--- want\n%s", got, want)
	}
	// Independently of the golden file: no identifier survives.
	for i, f := range rec.Fields {
		if f == "patient_id" || f == "name" || f == "address" || f == "phone" || f == "ssn" || f == "mrn" || f == "identifiers" || f == "free_text" || f == "employer" || f == "birth_date" {
			for _, v := range row.Values {
				if v.Kind == record.KindText && strings.Contains(v.Str, rec.Values[i].Str) {
					t.Errorf("%s survived", f)
				}
			}
			if slices.ContainsFunc(cols, func(c Column) bool { return c.Name == f }) {
				t.Errorf("%s is a column", f)
			}
		}
	}
}

// TestRedactedNeverAppears: under random profiles and random records, no
// value of a redacted field (by rule or by default) appears anywhere in the
// output row, whole or as a substring.
func TestRedactedNeverAppears(t *testing.T) {
	methods := []string{Redact, Keep, Pseudonym, "default"}
	rapid.Check(t, func(t *rapid.T) {
		n := rapid.IntRange(1, 8).Draw(t, "fields")
		rules := []string{`{"field": "patient_id", "method": "pseudonym"}`}
		fields := []string{"patient_id"}
		values := []record.Value{record.Str("ID:" + rapid.StringMatching(`[A-Z]{1,12}`).Draw(t, "id"))}
		var secrets []string
		for i := range n {
			f := fmt.Sprintf("f%d", i)
			m := rapid.SampledFrom(methods).Draw(t, f+" method")
			switch m {
			case Keep:
				rules = append(rules, fmt.Sprintf(`{"field": %q, "method": "keep", "type": "string"}`, f))
			case Redact, Pseudonym:
				rules = append(rules, fmt.Sprintf(`{"field": %q, "method": %q}`, f, m))
			}
			// Field-prefixed values cannot contain one another by chance;
			// upper case cannot occur in a hex pseudonym.
			v := f + ":" + rapid.StringMatching(`[A-Z]{0,12}`).Draw(t, f+" value")
			fields = append(fields, f)
			values = append(values, record.Str(v))
			if m == Redact || m == "default" || m == Pseudonym {
				secrets = append(secrets, v)
			}
		}
		order := rapid.Permutation(rules).Draw(t, "rule order")
		r, err := Parse("p.json", []byte(`{"profile": "p", "rules": [`+strings.Join(order, ",")+`]}`))
		if err != nil {
			t.Fatal(err)
		}
		d, err := New(r, testSecret)
		if err != nil {
			t.Fatal(err)
		}
		row, err := d.Apply(&record.Record{Fields: fields, Values: values})
		if err != nil {
			t.Fatal(err)
		}
		out, _ := json.Marshal(row)
		for _, s := range append(secrets, values[0].Str) {
			if bytes.Contains(out, []byte(s)) {
				t.Fatalf("%q appears in the output %s", s, out)
			}
		}
		if len(row.Values) != len(d.Schema(fields)) {
			t.Fatalf("%d values for %d columns", len(row.Values), len(d.Schema(fields)))
		}
	})
}

func TestReport(t *testing.T) {
	d, _ := New(SafeHarbor(), testSecret)
	const workers, per = 4, 240
	var wg sync.WaitGroup
	for w := range workers {
		wg.Go(func() {
			for i := range per {
				rec := handMade()
				rec.Values[0] = record.Str(fmt.Sprint("p", w, "-", i))
				rec.Values[11] = record.Num(float64(80 + i%20)) // ages 80…99: half top-coded
				rec.Values[5] = record.Null()                   // no address: nothing to count
				if _, err := d.Apply(rec); err != nil {
					t.Error(err)
					return
				}
			}
		})
	}
	wg.Wait()
	rep := d.Report()
	if !slices.IsSortedFunc(rep, func(a, b Count) int {
		if a.Field != b.Field {
			return strings.Compare(a.Field, b.Field)
		}
		return strings.Compare(a.Method, b.Method)
	}) {
		t.Error("report not sorted")
	}
	got := map[string]int64{}
	for _, c := range rep {
		got[c.Field+"/"+c.Method] = c.N
	}
	const total = workers * per
	for key, want := range map[string]int64{
		"patient_id/pseudonym":            total,
		"age/generalise":                  total,
		"age/generalise: top-coded":       total / 2,
		"zip/zip3":                        total,
		"zip/zip3: restricted area → 000": total,
		"ssn/redact":                      total,
		"free_text/redact":                total,
		"employer/redact (default)":       total,
		"sbp/keep":                        total,
		"death_date/year_only":            total,
		"birth_date/redact":               total,
		"bp_treated/keep":                 total,
		"identifiers/redact":              total,
		"sex/keep":                        total,
		"heart_failure/keep":              total,
		"hypertension/keep":               total,
		"name/redact":                     total,
		"phone/redact":                    total,
		"mrn/redact":                      total,
		"glucose/keep":                    total,
		"heart_rate/keep":                 total,
		"hdl/keep":                        total,
		"ldl/keep":                        total,
		"total_chol/keep":                 total,
		"dbp/keep":                        total,
		"bmi/keep":                        total,
		"smoker/keep":                     total,
		"hba1c/keep":                      total,
		"diabetes/keep":                   total,
		"mi/keep":                         total,
		"stroke/keep":                     total,
	} {
		if got[key] != want {
			t.Errorf("%s = %d, want %d", key, got[key], want)
		}
		delete(got, key)
	}
	for key, n := range got {
		t.Errorf("unexpected entry %s = %d", key, n)
	}
	if s := rep.String(); !strings.Contains(s, "\nage            generalise: top-coded        480\n") {
		t.Errorf("report text:\n%s", s)
	}
}

func TestNewRejectsShortSecret(t *testing.T) {
	if _, err := New(SafeHarbor(), []byte("short")); err == nil {
		t.Error("a 5-byte secret was accepted")
	}
}

func BenchmarkApplySafeHarbor(b *testing.B) {
	d, _ := New(SafeHarbor(), testSecret)
	rec := handMade()
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		rec.Values[0] = record.Str(strconv.Itoa(i))
		if _, err := d.Apply(rec); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "rows/s")
}
