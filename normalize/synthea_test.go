package normalize_test

import (
	"bytes"
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/medchain/medchain/csvsrc"
	"github.com/medchain/medchain/fhir"
	"github.com/medchain/medchain/normalize"
	"github.com/medchain/medchain/record"
)

// syntheaDir holds the Synthea sample bundles (see its README.md).
var syntheaDir = filepath.Join("..", "testdata", "synthea")

// bundle reads the one sample bundle whose name starts with prefix; the
// test fails if there is none.
func bundle(t testing.TB, prefix string) *record.Patient {
	t.Helper()
	paths, _ := filepath.Glob(filepath.Join(syntheaDir, prefix+"*.json"))
	if len(paths) != 1 {
		t.Fatalf("%d Synthea bundles named %s* in %s, want 1", len(paths), prefix, syntheaDir)
	}
	f, err := os.Open(paths[0])
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	p, err := fhir.ReadBundle(filepath.Base(paths[0]), f)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func at(ref string) normalize.Config {
	c := normalize.DefaultConfig()
	c.RefDate, _ = time.Parse("2006-01-02", ref)
	return c
}

// want is a record's expected research values: a float64, bool or string,
// or nil for null.
type want map[string]any

func check(t *testing.T, p *record.Patient, c normalize.Config, w want) {
	t.Helper()
	r, err := normalize.Normalize(p, c)
	if err != nil {
		t.Fatal(err)
	}
	for name, x := range w {
		v, ok := r.Get(name)
		var good bool
		switch x := x.(type) {
		case nil:
			good = v.Kind == record.KindNull
		case float64:
			good = v.Kind == record.KindNumber && math.Abs(v.Num-x) < 1e-9
		case bool:
			good = v.Kind == record.KindBool && v.B == x
		case string:
			good = v.Kind == record.KindText && v.Str == x
		}
		if !ok || !good {
			t.Errorf("%s at %s: %s = %+v, want %v", p.Source, c.RefDate.Format("2006-01-02"), name, v, x)
		}
	}
}

// The values were read by hand from Carolee951's bundle: her visits of
// 2011-04-07, 2015-04-16, 2017-04-20 and 2019-03-28.
func TestCarolee(t *testing.T) {
	p := bundle(t, "Carolee951_")
	check(t, p, at("2019-06-01"), want{
		"patient_id": "d88f994a-5efa-421d-9c40-5f116d2114a6",
		"name":       "Carolee951 Sanford861; Carolee951 Okuneva707",
		"birth_date": "1969-03-27", "death_date": nil,
		"zip": "98053", "address": "117 Orn Bypass, Redmond, WA, US", "phone": "555-657-5098",
		"ssn": "999-33-5538", "mrn": "d88f994a-5efa-421d-9c40-5f116d2114a6",
		"age": 50.0, "sex": "female",
		"sbp": 127.0, "dbp": 80.0, "total_chol": 184.23, "hdl": 65.17, "ldl": 91.93, "bmi": 30.3,
		"hba1c": nil, "glucose": nil, "heart_rate": nil, "smoker": false,
		"hypertension": false, "diabetes": false, "mi": false, "stroke": false, "heart_failure": false,
		"bp_treated": false,
	})
	check(t, p, at("2012-01-01"), want{
		"age": 42.0, "sbp": 114.0, "dbp": 81.0, "total_chol": 174.36, "hdl": 59.4, "ldl": 90.09, "bmi": 30.3, "smoker": false,
	})
	// Mean over five years: the visits of 2015, 2017 and 2019.
	c := at("2019-06-01")
	c.Selection, c.WindowDays = normalize.Mean, 5*365
	check(t, p, c, want{
		"sbp": (125 + 112 + 127) / 3.0, "dbp": (86 + 80 + 80) / 3.0,
		"total_chol": (168.54 + 184.23) / 2, "hdl": (78.9 + 65.17) / 2,
	})
	r, _ := normalize.Normalize(p, at("2019-06-01"))
	ids, _ := r.Get("identifiers")
	text, _ := r.Get("free_text")
	if !strings.Contains(ids.Str, "PPN|") || !strings.Contains(ids.Str, "X37176659X") || !strings.Contains(ids.Str, "S99993907") ||
		!strings.Contains(text.Str, "Carolee951 is a 34 year-old") {
		t.Errorf("identifiers %q; free text %.60q…", ids.Str, text.Str)
	}
}

func TestParis(t *testing.T) {
	p := bundle(t, "Paris331_")
	check(t, p, at("2019-01-01"), want{"hypertension": true, "bp_treated": true, "age": 34.0, "sex": "male",
		"total_chol": 169.05, "hdl": 75.42, "bmi": 27.79})
	// Diagnosed at 18 (2002-05-07), first treated on 2002-08-05.
	check(t, p, at("2002-01-01"), want{"hypertension": false, "bp_treated": false})
	check(t, p, at("2002-06-01"), want{"hypertension": true, "bp_treated": false})
}

func TestVanesa(t *testing.T) {
	p := bundle(t, "Vanesa40_")
	check(t, p, at("2020-01-01"), want{"hba1c": 6.4, "glucose": 67.16, "diabetes": false, "age": 60.0})
	check(t, p, at("2019-06-01"), want{"hba1c": 5.93, "glucose": 79.09})
}

func TestTodd(t *testing.T) {
	p := bundle(t, "Todd315_")
	check(t, p, at("2019-01-01"), want{"smoker": true})  // 2018-08-27: every day smoker
	check(t, p, at("2020-01-01"), want{"smoker": false}) // 2019-09-02: former smoker
}

// Antonia30 died on 2018-09-14, aged 58, with chronic heart failure.
func TestAntonia(t *testing.T) {
	check(t, bundle(t, "Antonia30_"), at("2020-01-01"), want{
		"age": 58.0, "death_date": "2018-09-14", "heart_failure": true, "hypertension": true, "bp_treated": true,
	})
}

func TestEveryBundleNormalizes(t *testing.T) {
	paths, _ := filepath.Glob(filepath.Join(syntheaDir, "[A-Z]*.json"))
	if len(paths) != 6 {
		t.Fatalf("%d patient bundles in %s, want 6", len(paths), syntheaDir)
	}
	for _, path := range paths {
		p := bundle(t, strings.TrimSuffix(filepath.Base(path), ".json"))
		for _, ref := range []string{"2010-01-01", "2020-01-01"} {
			if _, errs := normalize.NormalizeAll(p, at(ref)); errs != nil {
				t.Errorf("%s at %s: %v", p.Source, ref, errs)
			}
		}
	}
}

func TestCSV(t *testing.T) {
	m, err := csvsrc.ParseMapping("m.json", strings.NewReader(`{"columns": {
		"id": {"role": "patient_id"}, "dob": {"role": "birth_date"}, "sex": {"role": "sex"},
		"sbp": {"role": "observation", "system": "loinc", "code": "8480-6", "unit": "kPa"},
		"chol": {"role": "observation", "system": "loinc", "code": "2093-3", "unit": "mmol/L"},
		"dm": {"role": "condition", "system": "icd10", "code": "E11"},
		"lisinopril": {"role": "medication", "system": "rxnorm", "code": "29046"}}}`))
	if err != nil {
		t.Fatal(err)
	}
	var got []*record.Record
	err = csvsrc.Read("p.csv", strings.NewReader("id,dob,sex,sbp,chol,dm,lisinopril\nA,1960-01-01,f,16,5,yes,1\nB,1970-01-01,m,120,,no,0\n"), m,
		func(p *record.Patient) error {
			r, err := normalize.Normalize(p, at("2020-01-01"))
			got = append(got, r)
			return err
		})
	var ie *record.InputError
	if len(got) != 2 || got[0] == nil || !errors.As(err, &ie) || ie.Where != "row 3, column sbp" || ie.Field != "sbp" {
		t.Fatalf("records %v, error %v", got, err)
	}
	r := got[0]
	for name, x := range map[string]float64{"age": 60, "sbp": 16 * 7.50062, "total_chol": 5 * 38.67} {
		if v, _ := r.Get(name); math.Abs(v.Num-x) > 1e-9 {
			t.Errorf("%s = %+v, want %g", name, v, x)
		}
	}
	for _, name := range []string{"diabetes", "bp_treated"} {
		if v, _ := r.Get(name); !v.B {
			t.Errorf("%s = %+v", name, v)
		}
	}
}

// BenchmarkNormalizeFHIR reads and normalises the Synthea bundles from
// memory; MB/s is of bundle JSON.
func BenchmarkNormalizeFHIR(b *testing.B) {
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
	c := at("2020-01-01")
	b.SetBytes(size)
	b.ReportAllocs()
	for b.Loop() {
		for _, data := range files {
			p, err := fhir.ReadBundle("b.json", bytes.NewReader(data))
			if err != nil {
				b.Fatal(err)
			}
			if _, err := normalize.Normalize(p, c); err != nil {
				b.Fatal(err)
			}
		}
	}
	b.ReportMetric(float64(len(files)*b.N)/b.Elapsed().Seconds(), "patients/s")
}

// BenchmarkCSV reads and normalises a 20-column CSV file from memory.
func BenchmarkCSV(b *testing.B) {
	const rows = 10000
	m, err := csvsrc.ParseMapping("m.json", strings.NewReader(`{"columns": {
		"id": {"role": "patient_id"}, "name": {"role": "name"}, "dob": {"role": "birth_date"}, "sex": {"role": "sex"},
		"zip": {"role": "zip"}, "street": {"role": "address"}, "phone": {"role": "phone"}, "ssn": {"role": "ssn"},
		"visit": {"role": "ignore"},
		"sbp": {"role": "observation", "system": "loinc", "code": "8480-6", "unit": "mm[Hg]", "date_column": "visit"},
		"dbp": {"role": "observation", "system": "loinc", "code": "8462-4", "unit": "mm[Hg]", "date_column": "visit"},
		"chol": {"role": "observation", "system": "loinc", "code": "2093-3", "unit": "mg/dL", "date_column": "visit"},
		"hdl": {"role": "observation", "system": "loinc", "code": "2085-9", "unit": "mg/dL", "date_column": "visit"},
		"bmi": {"role": "observation", "system": "loinc", "code": "39156-5", "unit": "kg/m2", "date_column": "visit"},
		"a1c": {"role": "observation", "system": "loinc", "code": "4548-4", "unit": "%", "date_column": "visit"},
		"hr": {"role": "observation", "system": "loinc", "code": "8867-4", "unit": "/min", "date_column": "visit"},
		"smoker": {"role": "observation", "system": "loinc", "code": "72166-2", "value": "code", "value_codes": {"1": "449868002", "0": "266919005"}},
		"htn": {"role": "condition", "system": "snomed", "code": "59621000"},
		"dm": {"role": "condition", "system": "snomed", "code": "44054006"},
		"bpmed": {"role": "medication", "system": "rxnorm", "code": "29046"}}}`))
	if err != nil {
		b.Fatal(err)
	}
	var buf bytes.Buffer
	buf.WriteString("id,name,dob,sex,zip,street,phone,ssn,visit,sbp,dbp,chol,hdl,bmi,a1c,hr,smoker,htn,dm,bpmed\n")
	for i := range rows {
		fmt.Fprintf(&buf, "P%06d,Pat %d Smith,19%02d-%02d-%02d,%s,98%03d,%d Main St,555-%04d,999-%02d-%04d,2019-%02d-15,%d,%d,%d,%d,%.1f,%.1f,%d,%d,%d,%d,%d\n",
			i, i, 30+i%60, 1+i%12, 1+i%28, []string{"M", "F"}[i%2], i%1000, i, i%10000, i%100, i%10000, 1+i%12,
			100+i%80, 60+i%40, 150+i%150, 30+i%60, 18+float64(i%200)/10, 4.5+float64(i%50)/10, 50+i%60, i%2, i%3/2, i%5/4, i%4/3)
	}
	data := buf.Bytes()
	c := at("2020-01-01")
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	for b.Loop() {
		err := csvsrc.Read("b.csv", bytes.NewReader(data), m, func(p *record.Patient) error {
			_, err := normalize.Normalize(p, c)
			return err
		})
		if err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(rows*b.N)/b.Elapsed().Seconds(), "rows/s")
}
