package synth

import (
	"bufio"
	"context"
	"encoding/csv"
	"encoding/json"
	"io"
	"strconv"
	"time"
)

// Option changes what a writer writes or how it reports.
type Option func(*options)

type options struct {
	outcome  bool
	progress func(done int)
	ctx      context.Context
}

// WithOutcome adds the cvd_10y outcome column to the CSV and its mapping,
// for a demo in which the institution holds outcomes. By default the
// outcome is only in the truth file. The true risk never leaves it.
func WithOutcome() Option { return func(o *options) { o.outcome = true } }

// WithProgress has a writer call fn with the number of people written so
// far, every 1024 people and at the end.
func WithProgress(fn func(done int)) Option { return func(o *options) { o.progress = fn } }

// WithContext stops a writer, with the context's error, once ctx is done.
func WithContext(ctx context.Context) Option { return func(o *options) { o.ctx = ctx } }

func collect(opts []Option) options {
	o := options{ctx: context.Background()}
	for _, f := range opts {
		f(&o)
	}
	return o
}

// step reports progress and checks for cancellation after person i.
func (o *options) step(i, n int) error {
	if (i+1)%1024 == 0 || i+1 == n {
		if o.progress != nil {
			o.progress(i + 1)
		}
		return o.ctx.Err()
	}
	return nil
}

// Code systems.
const (
	LOINC  = "http://loinc.org"
	SNOMED = "http://snomed.info/sct"
	RxNorm = "http://www.nlm.nih.gov/research/umls/rxnorm"
	UCUM   = "http://unitsofmeasure.org"
)

// mappingColumn is one column of the CSV mapping, in the shape package
// csvsrc reads.
type mappingColumn struct {
	Role       string            `json:"role"`
	System     string            `json:"system,omitempty"`
	Code       string            `json:"code,omitempty"`
	Unit       string            `json:"unit,omitempty"`
	DateColumn string            `json:"date_column,omitempty"`
	Value      string            `json:"value,omitempty"`
	ValueCodes map[string]string `json:"value_codes,omitempty"`
}

// csvColumn is a column of cohort.csv: its header, its mapping and how to
// render a person's cell.
type csvColumn struct {
	name string
	m    mappingColumn
	cell func(p *Person) string
}

func obs(name, code, unit string, v func(p *Person) float64) csvColumn {
	return csvColumn{name, mappingColumn{Role: "observation", System: LOINC, Code: code, Unit: unit, DateColumn: "visit_date"},
		func(p *Person) string { return num(v(p)) }}
}

func flag(name, role, system, code string, v func(p *Person) bool) csvColumn {
	return csvColumn{name, mappingColumn{Role: role, System: system, Code: code}, func(p *Person) string { return strconv.FormatBool(v(p)) }}
}

// smokingCodes are the SNOMED CT codes of the smoking statuses (values of
// LOINC 72166-2).
var smokingCodes = map[string]string{
	SmokingCurrent: "449868002", // current every day smoker
	SmokingFormer:  "8517006",   // ex-smoker
	SmokingNever:   "266919005", // never smoked tobacco
}

var csvColumns = func() []csvColumn {
	ident := func(name, role string, cell func(p *Person) string) csvColumn {
		return csvColumn{name, mappingColumn{Role: role}, cell}
	}
	return []csvColumn{
		ident("patient_id", "patient_id", func(p *Person) string { return p.ID }),
		ident("mrn", "mrn", func(p *Person) string { return p.MRN }),
		ident("given", "name", func(p *Person) string { return p.Given }),
		ident("family", "name", func(p *Person) string { return p.Family }),
		ident("birth_date", "birth_date", func(p *Person) string { return p.BirthDate.Format(time.DateOnly) }),
		ident("sex", "sex", func(p *Person) string { return p.Sex }),
		ident("address", "address", func(p *Person) string { return p.Street }),
		ident("city", "address", func(p *Person) string { return p.City }),
		ident("state", "address", func(p *Person) string { return p.State }),
		ident("zip", "zip", func(p *Person) string { return p.ZIP }),
		ident("phone", "phone", func(p *Person) string { return p.Phone }),
		ident("ssn", "ssn", func(p *Person) string { return p.SSN }),
		// The CSV reader has no roles for these; an export carries them
		// anyway, and ignoring them is the reader's first line of defence.
		ident("drivers_licence", "ignore", func(p *Person) string { return p.DriversLicence }),
		ident("passport", "ignore", func(p *Person) string { return p.Passport }),
		ident("mothers_maiden_name", "ignore", func(p *Person) string { return p.MothersMaidenName }),
		ident("visit_date", "ignore", func(p *Person) string { return p.VisitDate.Format(time.DateOnly) }),
		ident("note", "free_text", func(p *Person) string { return p.Note }),
		obs("sbp", "8480-6", "mm[Hg]", func(p *Person) float64 { return p.SBP }),
		obs("dbp", "8462-4", "mm[Hg]", func(p *Person) float64 { return p.DBP }),
		obs("total_chol", "2093-3", "mg/dL", func(p *Person) float64 { return p.TotalChol }),
		obs("hdl", "2085-9", "mg/dL", func(p *Person) float64 { return p.HDL }),
		obs("ldl", "18262-6", "mg/dL", func(p *Person) float64 { return p.LDL }),
		obs("bmi", "39156-5", "kg/m2", func(p *Person) float64 { return p.BMI }),
		obs("hba1c", "4548-4", "%", func(p *Person) float64 { return p.HbA1c }),
		obs("glucose", "2339-0", "mg/dL", func(p *Person) float64 { return p.Glucose }),
		obs("heart_rate", "8867-4", "/min", func(p *Person) float64 { return p.HeartRate }),
		{"smoking", mappingColumn{Role: "observation", System: LOINC, Code: "72166-2", DateColumn: "visit_date", Value: "code", ValueCodes: smokingCodes},
			func(p *Person) string { return p.Smoking }},
		flag("hypertension", "condition", SNOMED, "59621000", func(p *Person) bool { return p.Hypertension }),
		flag("diabetes", "condition", SNOMED, "44054006", func(p *Person) bool { return p.Diabetes }),
		flag("bp_treated", "medication", RxNorm, hctzCode, func(p *Person) bool { return p.BPTreated }),
	}
}()

// outcomeColumn is added by WithOutcome. Its role, "outcome", is the one
// the mapping format reserves for it.
// The follow-up (cvd_time, years, role "outcome_time") and how it ended
// (cvd_event) come with it.
var outcomeColumns = []csvColumn{
	{"cvd_10y", mappingColumn{Role: "outcome"}, func(p *Person) string { return strconv.FormatBool(p.CVD10y) }},
	{"cvd_event", mappingColumn{Role: "outcome"}, func(p *Person) string { return strconv.FormatBool(p.CVDEvent) }},
	{"cvd_time", mappingColumn{Role: "outcome_time"}, func(p *Person) string { return num(p.CVDTime) }},
}

func columns(o options) []csvColumn {
	if o.outcome {
		return append(csvColumns[:len(csvColumns):len(csvColumns)], outcomeColumns...)
	}
	return csvColumns
}

func num(x float64) string { return strconv.FormatFloat(x, 'f', -1, 64) }

// WriteCSV writes one row per person with a header, identifiers included,
// as a hospital export would: the columns WriteCSVMapping describes.
func WriteCSV(w io.Writer, people []Person, opts ...Option) error {
	o := collect(opts)
	cols := columns(o)
	bw := bufio.NewWriterSize(w, 64<<10)
	cw := csv.NewWriter(bw)
	rec := make([]string, len(cols))
	for i, c := range cols {
		rec[i] = c.name
	}
	if err := cw.Write(rec); err != nil {
		return err
	}
	for i := range people {
		for j, c := range cols {
			rec[j] = c.cell(&people[i])
		}
		if err := cw.Write(rec); err != nil {
			return err
		}
		if err := o.step(i, len(people)); err != nil {
			return err
		}
	}
	cw.Flush()
	if err := cw.Error(); err != nil {
		return err
	}
	return bw.Flush()
}

// WriteCSVMapping writes the column mapping of WriteCSV's output, the JSON
// the CSV reader (package csvsrc) takes: every column with its role and,
// for clinical columns, code system, code, unit and date column.
func WriteCSVMapping(w io.Writer, opts ...Option) error {
	o := collect(opts)
	m := struct {
		Description string                   `json:"description"`
		Columns     map[string]mappingColumn `json:"columns"`
	}{
		Description: "medchain synth cohort: identifiers, one visit's measurements (dated by visit_date), conditions and treatment",
		Columns:     map[string]mappingColumn{},
	}
	for _, c := range columns(o) {
		m.Columns[c.name] = c.m
	}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(m)
}

// WriteTruth writes the answer key: patient_id, true_risk (the 10-year
// risk under the cohort's outcome model, Framingham by default, 6
// decimals), cvd_10y, and the follow-up cvd_time (years) with cvd_event
// drawn from the hazard model (Config.Hazard). WriteTruthModel writes the model itself. Keep it away from the data that
// is ingested.
func WriteTruth(w io.Writer, people []Person, opts ...Option) error {
	o := collect(opts)
	bw := bufio.NewWriterSize(w, 64<<10)
	if _, err := bw.WriteString("patient_id,true_risk,cvd_10y,cvd_time,cvd_event\n"); err != nil {
		return err
	}
	for i := range people {
		p := &people[i]
		bw.WriteString(p.ID)
		bw.WriteByte(',')
		bw.WriteString(strconv.FormatFloat(p.Risk, 'f', 6, 64))
		bw.WriteByte(',')
		bw.WriteString(strconv.FormatBool(p.CVD10y))
		bw.WriteByte(',')
		bw.WriteString(num(p.CVDTime))
		bw.WriteByte(',')
		bw.WriteString(strconv.FormatBool(p.CVDEvent))
		if err := bw.WriteByte('\n'); err != nil {
			return err
		}
		if err := o.step(i, len(people)); err != nil {
			return err
		}
	}
	return bw.Flush()
}
