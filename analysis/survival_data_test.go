package analysis_test

import (
	"encoding/csv"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"testing"

	"github.com/medchain/medchain/analysis"
	"github.com/medchain/medchain/synth"
)

var updateSurvival = flag.Bool("update-survival", false, "rewrite testdata/survival/cohort.csv from synth (then run testdata/survival/survival.R)")

// survivalColumns are the columns of testdata/survival/cohort.csv, the
// rows the R reference values (survival.R) were computed from.
var survivalColumns = []string{"time", "event", "age", "sbp", "total_chol", "hdl", "smoker", "diabetes", "male"}

// survivalCohort is 2000 synthetic people with event times drawn from
// synth.DefaultHazard (tied at tenths of a year).
func survivalCohort(t testing.TB, n int, seed int64) []synth.Person {
	t.Helper()
	people, err := synth.Generate(synth.Config{N: n, Seed: seed})
	if err != nil {
		t.Fatal(err)
	}
	return people
}

func survivalRow(p *synth.Person) []float64 {
	return []float64{p.CVDTime, b2f(p.CVDEvent), float64(p.Age), p.SBP, p.TotalChol, p.HDL,
		b2f(p.Smoking == synth.SmokingCurrent), b2f(p.Diabetes), b2f(p.Sex == "male")}
}

// TestSurvivalCohortFile keeps testdata/survival/cohort.csv equal to what
// synth makes (rewrite it with -update-survival, then rerun survival.R).
func TestSurvivalCohortFile(t *testing.T) {
	people := survivalCohort(t, 2000, 11)
	path := filepath.Join("testdata", "survival", "cohort.csv")
	if *updateSurvival {
		f, err := os.Create(path)
		if err != nil {
			t.Fatal(err)
		}
		w := csv.NewWriter(f)
		w.Write(survivalColumns)
		for i := range people {
			row := survivalRow(&people[i])
			rec := make([]string, len(row))
			for j, v := range row {
				rec[j] = strconv.FormatFloat(v, 'g', -1, 64)
			}
			w.Write(rec)
		}
		w.Flush()
		if err := w.Error(); err != nil {
			t.Fatal(err)
		}
		if err := f.Close(); err != nil {
			t.Fatal(err)
		}
	}
	tbl := readSurvivalCSV(t, path)
	if tbl.Rows() != len(people) {
		t.Fatalf("cohort.csv has %d rows, synth makes %d", tbl.Rows(), len(people))
	}
	for j, name := range survivalColumns {
		c, _ := tbl.Column(name)
		for i := range people {
			if want := survivalRow(&people[i])[j]; c.Values[i] != want {
				t.Fatalf("cohort.csv row %d %s = %v, synth makes %v: rerun with -update-survival and survival.R", i+1, name, c.Values[i], want)
			}
		}
	}
}

// readSurvivalCSV reads a CSV of numbers with a header into a table.
func readSurvivalCSV(t testing.TB, path string) *analysis.Table {
	t.Helper()
	recs := readCSV(t, path)
	cols := make([]analysis.Column, len(recs[0]))
	for j, name := range recs[0] {
		cols[j].Name = name
		for i, r := range recs[1:] {
			v, err := strconv.ParseFloat(r[j], 64)
			if err != nil {
				t.Fatalf("%s row %d column %s: %v", path, i+2, name, err)
			}
			cols[j].Values = append(cols[j].Values, v)
		}
	}
	tbl, err := analysis.NewTable(cols...)
	if err != nil {
		t.Fatal(err)
	}
	return tbl
}

func readCSV(t testing.TB, path string) [][]string {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	recs, err := csv.NewReader(f).ReadAll()
	if err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	if len(recs) < 1 {
		t.Fatalf("%s is empty", path)
	}
	return recs
}

// readReference reads an R output CSV as maps from column to value.
func readReference(t testing.TB, name string) []map[string]string {
	t.Helper()
	recs := readCSV(t, filepath.Join("testdata", "survival", name))
	var out []map[string]string
	for _, r := range recs[1:] {
		m := map[string]string{}
		for j, h := range recs[0] {
			m[h] = r[j]
		}
		out = append(out, m)
	}
	return out
}

func num(t testing.TB, m map[string]string, key string) float64 {
	t.Helper()
	s, ok := m[key]
	if !ok {
		t.Fatalf("reference has no %q", key)
	}
	v, err := strconv.ParseFloat(s, 64)
	if err != nil {
		t.Fatalf("reference %q = %q: %v", key, s, err)
	}
	return v
}

func closeRel(t testing.TB, what string, got, want, tol float64) {
	t.Helper()
	d := got - want
	if d < 0 {
		d = -d
	}
	scale := want
	if scale < 0 {
		scale = -scale
	}
	if d > tol*max(scale, 1e-300) && d > 1e-12 {
		t.Errorf("%s = %.12g, R %.12g (relative difference %.2g)", what, got, want, d/max(scale, 1e-300))
	}
}

var _ = fmt.Sprint

func synthHazardTruth() map[string]float64 { return synth.DefaultHazard().Coefficients }
