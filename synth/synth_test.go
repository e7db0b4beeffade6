package synth

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/medchain/medchain/deid"
)

func TestRisk10yVector(t *testing.T) {
	// D'Agostino 2008's worked example profile.
	f := Factors{Male: true, Age: 55, TotalChol: 213, HDL: 50, SBP: 140}
	if got := math.Round(Risk10y(f)*10000) / 100; got != 13.53 {
		t.Errorf("risk = %.4f%%, want 13.53%%", Risk10y(f)*100)
	}
	// Each risk factor moves the risk the way the model says.
	base := Risk10y(f)
	for name, g := range map[string]Factors{
		"smoker":   {Male: true, Age: 55, TotalChol: 213, HDL: 50, SBP: 140, Smoker: true},
		"diabetes": {Male: true, Age: 55, TotalChol: 213, HDL: 50, SBP: 140, Diabetes: true},
		"treated":  {Male: true, Age: 55, TotalChol: 213, HDL: 50, SBP: 140, Treated: true},
		"older":    {Male: true, Age: 65, TotalChol: 213, HDL: 50, SBP: 140},
		"low HDL":  {Male: true, Age: 55, TotalChol: 213, HDL: 35, SBP: 140},
	} {
		if Risk10y(g) <= base {
			t.Errorf("%s did not raise the risk", name)
		}
	}
	if w := Risk10y(Factors{Age: 55, TotalChol: 213, HDL: 50, SBP: 140}); w >= base {
		t.Errorf("a woman's risk %.4f is not below the man's %.4f", w, base)
	}
}

// cohort is shared by the tests that only read it.
var cohort = sync.OnceValue(func() []Person {
	p, err := Generate(Config{N: 20_000, Seed: 1})
	if err != nil {
		panic(err)
	}
	return p
})

func TestDistributions(t *testing.T) {
	people := cohort()
	n := float64(len(people))
	var males, smokers, diabetics, treated, events, old, over89, restricted, hyper int
	var age, tc, hdlM, hdlF, bmi, risk float64
	var sbpYoung, sbpOld, nYoung, nOld, nM, nF float64
	restrictedZIP := map[string]bool{}
	for _, z := range deid.HIPAARestrictedZIP3 {
		restrictedZIP[z] = true
	}
	for i := range people {
		p := &people[i]
		age += float64(p.Age)
		tc += p.TotalChol
		bmi += p.BMI
		risk += p.Risk
		if p.Sex == "male" {
			males++
			hdlM += p.HDL
			nM++
		} else {
			hdlF += p.HDL
			nF++
		}
		switch {
		case p.Age < 40:
			sbpYoung += p.SBP
			nYoung++
		case p.Age >= 70 && p.Age < 80:
			sbpOld += p.SBP
			nOld++
		}
		if p.Smoking == SmokingCurrent {
			smokers++
		}
		if p.Diabetes {
			diabetics++
		}
		if p.Diabetes != (p.HbA1c >= 6.5) {
			t.Fatalf("person %d: diabetes %v with HbA1c %.1f", i, p.Diabetes, p.HbA1c)
		}
		if p.BPTreated {
			treated++
			if !p.Hypertension {
				t.Fatalf("person %d: treated without a hypertension diagnosis", i)
			}
		}
		if p.Hypertension {
			hyper++
		}
		if p.CVD10y {
			events++
		}
		if p.Age >= 85 {
			old++
		}
		if p.Age > 89 {
			over89++
		}
		if p.Age < 30 || (p.Age > 79 && p.Age < 85) || p.Age > 104 {
			t.Fatalf("person %d: age %d", i, p.Age)
		}
		if restrictedZIP[p.ZIP[:3]] {
			restricted++
		}
		if p.DBP >= p.SBP || p.LDL <= 0 || p.HDL < 20 || p.TotalChol < 100 || p.TotalChol > 400 {
			t.Fatalf("person %d: implausible values %+v", i, p)
		}
	}
	check := func(name string, got, lo, hi float64) {
		t.Helper()
		t.Logf("%-22s %8.3f  (want %g…%g)", name, got, lo, hi)
		if got < lo || got > hi {
			t.Errorf("%s = %.3f, want %g…%g", name, got, lo, hi)
		}
	}
	check("male share", float64(males)/n, 0.47, 0.51)
	check("mean age", age/n, 54, 57)
	check("aged 85+ share", float64(old)/n, 0.015, 0.025)
	check("aged over 89", float64(over89), 50, 200)
	check("mean total chol", tc/n, 197, 203)
	check("mean HDL men", hdlM/nM, 44, 48)
	check("mean HDL women", hdlF/nF, 55, 59)
	check("mean BMI", bmi/n, 28, 29)
	check("SBP 70s − 30s", sbpOld/nOld-sbpYoung/nYoung, 15, 35)
	check("smoker share", float64(smokers)/n, 0.15, 0.20)
	check("diabetes share", float64(diabetics)/n, 0.08, 0.12)
	check("treated share", float64(treated)/n, 0.15, 0.35)
	check("hypertension share", float64(hyper)/n, 0.25, 0.45)
	check("restricted-ZIP share", float64(restricted)/n, 0.02, 0.04)
	check("mean true risk", risk/n, 0.05, 0.20)

	// Calibration: the outcome is drawn from the risk, so the event rate
	// matches the mean risk within sampling error (4 standard errors).
	rate, mean := float64(events)/n, risk/n
	se := math.Sqrt(mean * (1 - mean) / n)
	check("event rate − mean risk", rate-mean, -4*se, 4*se)
}

func TestReproducible(t *testing.T) {
	write := func(seed int64, n int) (csvOut, truth, bundle []byte) {
		people, err := Generate(Config{N: n, Seed: seed, RefDate: time.Date(2024, 6, 30, 0, 0, 0, 0, time.UTC)})
		if err != nil {
			t.Fatal(err)
		}
		var c, tr, b bytes.Buffer
		if err := WriteCSV(&c, people, WithOutcome()); err != nil {
			t.Fatal(err)
		}
		if err := WriteTruth(&tr, people); err != nil {
			t.Fatal(err)
		}
		for _, p := range people {
			if err := WriteFHIRBundle(&b, p); err != nil {
				t.Fatal(err)
			}
		}
		return c.Bytes(), tr.Bytes(), b.Bytes()
	}
	c1, t1, b1 := write(7, 300)
	c2, t2, b2 := write(7, 300)
	if !bytes.Equal(c1, c2) || !bytes.Equal(t1, t2) || !bytes.Equal(b1, b2) {
		t.Fatal("the same seed gave different bytes")
	}
	c3, _, _ := write(8, 300)
	if bytes.Equal(c1, c3) {
		t.Fatal("different seeds gave the same cohort")
	}
	// Person i does not depend on N: a smaller cohort is a prefix.
	c4, _, _ := write(7, 100)
	if !bytes.HasPrefix(c1, c4) {
		t.Error("the first 100 of 300 differ from a cohort of 100")
	}
	dir := t.TempDir()
	people, _ := Generate(Config{N: 50, Seed: 7})
	for _, sub := range []string{"a", "b"} {
		os.Mkdir(filepath.Join(dir, sub), 0o755)
		if err := WriteFHIRNDJSON(filepath.Join(dir, sub), people); err != nil {
			t.Fatal(err)
		}
	}
	for _, f := range NDJSONFiles {
		a, _ := os.ReadFile(filepath.Join(dir, "a", f))
		b, _ := os.ReadFile(filepath.Join(dir, "b", f))
		if !bytes.Equal(a, b) || len(a) == 0 {
			t.Errorf("%s: not reproducible or empty", f)
		}
	}
}

func TestBirthDateGivesAge(t *testing.T) {
	for _, ref := range []time.Time{DefaultRefDate, time.Date(2024, 2, 29, 0, 0, 0, 0, time.UTC), time.Date(2023, 12, 31, 0, 0, 0, 0, time.UTC)} {
		people, _ := Generate(Config{N: 3000, Seed: 3, RefDate: ref})
		for _, p := range people {
			if got := AgeAt(p.BirthDate, ref); got != p.Age {
				t.Fatalf("ref %s: born %s is %d, not %d", ref.Format(time.DateOnly), p.BirthDate.Format(time.DateOnly), got, p.Age)
			}
			if !p.VisitDate.Before(ref) || p.VisitDate.Before(ref.AddDate(-1, 0, -1)) {
				t.Fatalf("visit %s is not in the year before %s", p.VisitDate.Format(time.DateOnly), ref.Format(time.DateOnly))
			}
		}
	}
}

func TestUniqueIdentifiers(t *testing.T) {
	ids, mrns := map[string]bool{}, map[string]bool{}
	for _, p := range cohort() {
		if ids[p.ID] || mrns[p.MRN] {
			t.Fatalf("duplicate id or MRN: %s %s", p.ID, p.MRN)
		}
		ids[p.ID], mrns[p.MRN] = true, true
		if !strings.HasPrefix(p.SSN, "999-") || !strings.HasPrefix(p.Phone, "555-") {
			t.Fatalf("SSN %s or phone %s outside the fictitious ranges", p.SSN, p.Phone)
		}
		if !strings.Contains(p.Note, p.Given+" "+p.Family) {
			t.Fatal("the note does not repeat the name")
		}
	}
}

func TestPlaces(t *testing.T) {
	restricted := map[string]bool{}
	for _, z := range deid.HIPAARestrictedZIP3 {
		restricted[z] = true
	}
	covered := map[string]bool{}
	for _, pl := range restrictedPlaces {
		if !restricted[pl.zip[:3]] {
			t.Errorf("%s %s is listed as restricted but is not", pl.city, pl.zip)
		}
		covered[pl.zip[:3]] = true
	}
	if len(covered) != len(restricted) {
		t.Errorf("restricted places cover %d of %d restricted areas", len(covered), len(restricted))
	}
	for _, pl := range places {
		if restricted[pl.zip[:3]] {
			t.Errorf("%s %s is in a restricted area", pl.city, pl.zip)
		}
	}
}

func TestFHIRBundle(t *testing.T) {
	// Someone with every resource type: treated, diabetic, smoking.
	var treated *Person
	for i := range cohort() {
		if p := &cohort()[i]; p.BPTreated && p.Diabetes && p.Smoking == SmokingCurrent {
			treated = p
			break
		}
	}
	if treated == nil {
		t.Fatal("no treated diabetic smoker in the cohort")
	}
	var buf bytes.Buffer
	if err := WriteFHIRBundle(&buf, *treated); err != nil {
		t.Fatal(err)
	}
	var b struct {
		ResourceType, Type string
		Entry              []struct {
			FullURL  string `json:"fullUrl"`
			Resource map[string]any
			Request  struct{ Method, URL string }
		}
	}
	if err := json.Unmarshal(buf.Bytes(), &b); err != nil {
		t.Fatalf("not JSON: %v", err)
	}
	if b.ResourceType != "Bundle" || b.Type != "transaction" {
		t.Fatalf("bundle %s/%s", b.ResourceType, b.Type)
	}
	codes := map[string]bool{}
	var walk func(v any)
	walk = func(v any) {
		switch v := v.(type) {
		case map[string]any:
			if c, ok := v["code"].(string); ok {
				codes[c] = true
			}
			for _, x := range v {
				walk(x)
			}
		case []any:
			for _, x := range v {
				walk(x)
			}
		}
	}
	urls := map[string]bool{}
	for _, e := range b.Entry {
		walk(e.Resource)
		if e.Request.Method != "POST" || e.Request.URL != e.Resource["resourceType"] || urls[e.FullURL] {
			t.Errorf("entry %s: request %+v", e.FullURL, e.Request)
		}
		urls[e.FullURL] = true
		if subj, ok := e.Resource["subject"].(map[string]any); ok && subj["reference"] != "urn:uuid:"+treated.ID {
			t.Errorf("subject %v", subj)
		}
	}
	for _, c := range []string{"85354-9", "8480-6", "8462-4", "2093-3", "2085-9", "18262-6", "39156-5", "72166-2", "449868002",
		"4548-4", "2339-0", "8867-4", "59621000", "44054006", "310798", "MR", "SS", "DL", "PPN"} {
		if !codes[c] {
			t.Errorf("code %s missing", c)
		}
	}
	text := buf.String()
	for _, id := range []string{treated.Given, treated.Family, treated.SSN, treated.MRN, treated.DriversLicence, treated.Passport, treated.Phone, treated.ZIP,
		treated.BirthDate.Format(time.DateOnly), treated.MothersMaidenName} {
		if !strings.Contains(text, id) {
			t.Errorf("identifier %q is not in the bundle", id)
		}
	}
	// Someone untreated and without conditions has no Condition or MedicationRequest.
	for _, p := range cohort() {
		if !p.BPTreated && !p.Hypertension && !p.Diabetes {
			buf.Reset()
			WriteFHIRBundle(&buf, p)
			if s := buf.String(); strings.Contains(s, `"Condition"`) || strings.Contains(s, `"MedicationRequest"`) {
				t.Error("a healthy person has conditions or medications")
			}
			break
		}
	}
}

func TestCSVAndMapping(t *testing.T) {
	people := cohort()[:200]
	var csvBuf, mapBuf bytes.Buffer
	if err := WriteCSV(&csvBuf, people); err != nil {
		t.Fatal(err)
	}
	if err := WriteCSVMapping(&mapBuf); err != nil {
		t.Fatal(err)
	}
	var m struct {
		Columns map[string]mappingColumn `json:"columns"`
	}
	if err := json.Unmarshal(mapBuf.Bytes(), &m); err != nil {
		t.Fatal(err)
	}
	header, _, _ := strings.Cut(csvBuf.String(), "\n")
	cols := strings.Split(header, ",")
	if len(cols) != len(m.Columns) {
		t.Errorf("%d CSV columns, %d mapped", len(cols), len(m.Columns))
	}
	for _, c := range cols {
		if _, ok := m.Columns[c]; !ok {
			t.Errorf("column %s is not mapped", c)
		}
	}
	if slices.Contains(cols, "cvd_10y") || slices.Contains(cols, "true_risk") || strings.Contains(mapBuf.String(), "outcome") {
		t.Error("the default CSV carries the answer key")
	}
	csvBuf.Reset()
	mapBuf.Reset()
	WriteCSV(&csvBuf, people, WithOutcome())
	WriteCSVMapping(&mapBuf, WithOutcome())
	if header, _, _ := strings.Cut(csvBuf.String(), "\n"); !strings.HasSuffix(header, ",cvd_10y,cvd_event,cvd_time") || !strings.Contains(mapBuf.String(), `"outcome"`) {
		t.Error("WithOutcome did not add cvd_10y, cvd_event and cvd_time")
	}
	if strings.Contains(csvBuf.String(), "true_risk") {
		t.Error("the true risk leaked into the CSV")
	}
}

func TestWriteFileAtomic(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "cohort.csv")
	if err := WriteFile(path, func(w io.Writer) error { _, err := w.Write([]byte("old")); return err }); err != nil {
		t.Fatal(err)
	}
	boom := errors.New("interrupted")
	err := WriteFile(path, func(w io.Writer) error {
		w.Write(bytes.Repeat([]byte("x"), 1<<20))
		return boom
	})
	if !errors.Is(err, boom) {
		t.Fatalf("err = %v", err)
	}
	if b, _ := os.ReadFile(path); string(b) != "old" {
		t.Errorf("a failed write changed the file: %d bytes", len(b))
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 1 {
		t.Errorf("left behind: %v", entries)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	err = WriteFile(path, func(w io.Writer) error { return WriteCSV(w, cohort()[:2000], WithContext(ctx)) })
	if !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled write: err = %v", err)
	}
	if err := WriteFHIRNDJSON(dir, cohort()[:2000], WithContext(ctx)); !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled NDJSON: err = %v", err)
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 1 {
		t.Errorf("left behind after cancellation: %v", entries)
	}
}

func BenchmarkGenerate(b *testing.B) {
	const n = 10_000
	for b.Loop() {
		if _, err := Generate(Config{N: n, Seed: 1}); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(n*b.N)/b.Elapsed().Seconds(), "people/s")
}

func BenchmarkWriteCSV(b *testing.B) {
	people := cohort()[:10_000]
	var buf bytes.Buffer
	for b.Loop() {
		buf.Reset()
		if err := WriteCSV(&buf, people); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(len(people)*b.N)/b.Elapsed().Seconds(), "rows/s")
	b.ReportMetric(float64(buf.Len())/float64(len(people)), "bytes/row")
}

func BenchmarkWriteFHIRBundle(b *testing.B) {
	people := cohort()[:1000]
	var buf bytes.Buffer
	var total int
	for b.Loop() {
		for _, p := range people {
			buf.Reset()
			if err := WriteFHIRBundle(&buf, p); err != nil {
				b.Fatal(err)
			}
			total += buf.Len()
		}
	}
	b.ReportMetric(float64(len(people)*b.N)/b.Elapsed().Seconds(), "bundles/s")
	b.ReportMetric(float64(total)/b.Elapsed().Seconds()/1e6, "MB/s")
}
