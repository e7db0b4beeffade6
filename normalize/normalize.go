// Package normalize turns a record.Patient, as a source read it, into a
// record.Record: one research row per patient, with features keyed by
// standard codes and converted to one unit each.
//
// The row is still identified — patient_id, name, birth_date, death_date,
// zip, address, phone, ssn, mrn, identifiers and free_text pass through —
// because the de-identification step, not this one, decides what survives.
// The research fields are those of Schema: age, sex, blood pressure,
// lipids, BMI, HbA1c, glucose, heart rate, smoking, five diagnoses and
// antihypertensive treatment.
//
// Which observation counts is the Config's choice:
//
//   - Latest (the default): the latest observation on or before the
//     reference date;
//   - Mean: the mean of the observations in the window of WindowDays days
//     ending at the reference date.
//
// WindowDays also bounds Latest when it is positive ("the latest within a
// year"); zero means no bound. Observations after the reference date are
// never used. Dates compare as calendar days, each in its own time zone;
// an undated value (a CSV column without a date column) is taken as
// current at the reference date. Smoking status is always the latest
// status, since a mean of codes means nothing.
//
// Every observation of a known code is checked — its unit must be known
// and its value, once converted, plausible — whether or not it is the one
// selected, so a bad value cannot hide behind a newer one. Problems are
// *record.InputError values naming the source, where in it, the field
// and the reason, never the value.
package normalize

import (
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/medchain/medchain/record"
	"github.com/medchain/medchain/vocab"
)

// Selection says which observation of a feature counts.
type Selection string

// Selection rules.
const (
	Latest Selection = "latest" // the latest on or before the reference date
	Mean   Selection = "mean"   // the mean over the window ending at the reference date
)

// Range is an inclusive plausible range, in the field's unit.
type Range struct {
	Min, Max float64
}

// Config says how to normalise.
type Config struct {
	// RefDate is the reference date: the age is computed at it, and only
	// what was observed, diagnosed or prescribed on or before it counts.
	// It has no default: an age that changes with the day of the ingest
	// would make ingests unrepeatable.
	RefDate time.Time
	// Selection is Latest or Mean.
	Selection Selection
	// WindowDays, if positive, limits observations to the WindowDays days
	// ending at (and including) the reference date.
	WindowDays int
	// Plausible overrides the plausible range of a numeric field ("sbp",
	// "age", …); a field not in the map keeps its default.
	Plausible map[string]Range
}

// DefaultConfig returns the default configuration: Latest, no window, and
// the default plausible ranges (a fresh map, to change at will). The
// caller must set RefDate.
func DefaultConfig() Config {
	p := map[string]Range{"age": ageRange}
	for _, m := range measures {
		p[m.field.Name] = Range{m.min, m.max}
	}
	return Config{Selection: Latest, Plausible: p}
}

// identifying are the fields passed through for de-identification.
var identifying = []string{
	"patient_id", "name", "birth_date", "death_date", "zip", "address", "phone", "ssn", "mrn",
	"identifiers", "free_text",
}

// schema is the research fields, in record order.
var schema = func() []vocab.Field {
	s := []vocab.Field{
		{Name: "age", System: "loinc", Code: "30525-0", Unit: "a", Type: "integer"},
		{Name: "sex", System: "loinc", Code: "46098-0", Type: "code"},
	}
	for _, m := range measures {
		f := m.field
		f.System, f.Code, f.Type = "loinc", m.codes[0], "number"
		s = append(s, f)
	}
	s = append(s, vocab.Field{Name: "smoker", System: "loinc", Code: smokingCode, Type: "boolean"})
	for _, d := range diagnoses {
		f := d.field
		f.System, f.Code, f.Type = "snomed", d.snomed[0], "boolean"
		s = append(s, f)
	}
	s = append(s, vocab.Field{Name: "bp_treated", System: "local", Type: "boolean"})
	for _, o := range Outcomes {
		s = append(s, vocab.Field{Name: o, System: "local", Code: o, Type: "boolean"})
	}
	for _, o := range TimeOutcomes {
		s = append(s, vocab.Field{Name: o, System: "local", Code: o, Unit: "a", Type: "number"})
	}
	return s
}()

// Outcomes are the study outcomes a source may carry (CSV role "outcome");
// null where a source has none. cvd_10y: a cardiovascular event within 10
// years of the reference date (the Framingham general CVD end point).
// cvd_event: the follow-up of cvd_time ended with a CVD event (else it
// was censored: lost to follow-up or followed to its end without one).
var Outcomes = []string{"cvd_10y", "cvd_event"}

// TimeOutcomes are the time outcomes a source may carry (CSV role
// "outcome_time"), in years from the reference date; null where a source
// has none. cvd_time: follow-up to a CVD event or to censoring (see
// cvd_event). A duration, not a date: it is kept as it is (at the
// source's resolution), like an age.
var TimeOutcomes = []string{"cvd_time"}

// MaxOutcomeYears is the longest follow-up accepted.
const MaxOutcomeYears = 120

var fields = func() []string {
	f := slices.Clone(identifying)
	for _, s := range schema {
		f = append(f, s.Name)
	}
	return f
}()

// Schema returns the research fields: name, code system, code, UCUM unit
// and type, in record order (after the identifying fields).
func Schema() []vocab.Field { return slices.Clone(schema) }

// Fields returns the names of every field of a Record, in order: the
// identifying fields, then the research fields of Schema.
func Fields() []string { return slices.Clone(fields) }

// byCode and byName map a LOINC code and a field name to their measure.
var byCode, byName = func() (map[string]int, map[string]int) {
	codes, names := make(map[string]int), make(map[string]int)
	for i, m := range measures {
		for _, c := range m.codes {
			codes[c] = i
		}
		names[m.field.Name] = i
	}
	return codes, names
}()

// Normalize turns a patient into a record, or returns the first problem
// (a *record.InputError).
func Normalize(p *record.Patient, c Config) (*record.Record, error) {
	r, errs := NormalizeAll(p, c)
	if len(errs) > 0 {
		return nil, errs[0]
	}
	return r, nil
}

// NormalizeAll turns a patient into a record, or returns every problem
// found, so that a caller can report all that is wrong with a row at once.
// The record is nil if there are problems.
func NormalizeAll(p *record.Patient, c Config) (*record.Record, []*record.InputError) {
	if errs := c.check(); len(errs) > 0 {
		return nil, errs
	}
	n := &run{p: p, c: c, ref: civil(c.RefDate), ranges: make([]Range, len(measures))}
	for i, m := range measures {
		n.ranges[i] = c.rangeOf(m.field.Name, Range{m.min, m.max})
	}
	n.birth = n.lifeDate(p.BirthDate, "birth_date")
	n.death = n.lifeDate(p.DeceasedDate, "death_date")
	n.vals = make([]record.Value, 0, len(fields))
	n.identifying()
	n.vals = append(n.vals, n.age(), text(p.Sex))
	n.observations()
	n.diagnoses()
	n.vals = append(n.vals, n.treated())
	n.outcomes()
	if len(n.errs) > 0 {
		return nil, n.errs
	}
	return &record.Record{Source: p.Source, Where: p.Where, Fields: slices.Clone(fields), Values: n.vals}, nil
}

// Check reports a problem with the configuration (a *record.InputError
// whose Source is "normalize.Config"), as Normalize would.
func (c Config) Check() error {
	if errs := c.check(); len(errs) > 0 {
		return errs[0]
	}
	return nil
}

func (c Config) check() []*record.InputError {
	fail := func(field, reason string) []*record.InputError {
		return []*record.InputError{{Source: "normalize.Config", Field: field, Reason: reason}}
	}
	switch {
	case c.RefDate.IsZero():
		return fail("RefDate", "not set")
	case c.Selection != Latest && c.Selection != Mean:
		return fail("Selection", `unknown selection (want "latest" or "mean")`)
	case c.WindowDays < 0:
		return fail("WindowDays", "negative")
	}
	// The first problem by name, whatever the map's order.
	var first, problem string
	for name, r := range c.Plausible {
		if p := rangeProblem(name, r); p != "" && (first == "" || name < first) {
			first, problem = name, p
		}
	}
	if first != "" {
		return fail("Plausible", first+": "+problem)
	}
	return nil
}

func isMeasure(name string) bool {
	_, ok := byName[name]
	return ok
}

func rangeProblem(name string, r Range) string {
	switch {
	case name != "age" && !isMeasure(name):
		return "not a numeric field"
	case !(r.Min <= r.Max):
		return "minimum above maximum"
	}
	return ""
}

// run is one patient's normalisation, collecting problems as it goes.
type run struct {
	p      *record.Patient
	c      Config
	ref    time.Time // the reference day
	ranges []Range   // plausible ranges of the measures
	birth  *time.Time
	death  *time.Time
	vals   []record.Value // the record's values, appended in field order
	errs   []*record.InputError

	// The last date parsed: a visit's observations share their date.
	lastDate string
	lastTime time.Time
}

func (n *run) fail(where, field, reason string) {
	if where == "" {
		where = n.p.Where
	}
	n.errs = append(n.errs, &record.InputError{Source: n.p.Source, Where: where, Field: field, Reason: reason})
}

// date parses a source date; "" is the reference day. ok is false, and a
// problem recorded, if s is not a date.
func (n *run) date(s, where, field string) (t time.Time, ok bool) {
	if s == "" {
		return n.ref, true
	}
	if s == n.lastDate {
		return n.lastTime, true
	}
	t, err := record.ParseDate(s)
	if err != nil {
		n.fail(where, field, "date: "+err.Error())
		return t, false
	}
	n.lastDate, n.lastTime = s, t
	return t, true
}

// civil is the calendar day of t, in t's own time zone, as midnight UTC.
func civil(t time.Time) time.Time {
	return time.Date(t.Year(), t.Month(), t.Day(), 0, 0, 0, 0, time.UTC)
}

// counts reports whether something dated t falls in the window.
func (n *run) counts(t time.Time) bool {
	d := civil(t)
	return !d.After(n.ref) && (n.c.WindowDays <= 0 || d.After(n.ref.AddDate(0, 0, -n.c.WindowDays)))
}

func (n *run) identifying() {
	p := n.p
	var ssn, mrn string
	var ids []string
	for _, id := range p.Identifiers {
		switch {
		case id.Type == "SS" && ssn == "":
			ssn = id.Value
		case id.Type == "MR" && mrn == "":
			mrn = id.Value
		}
		ids = append(ids, id.Type+"|"+id.System+"|"+id.Value)
	}
	var zip, addr string
	if len(p.Addresses) > 0 {
		a := p.Addresses[0]
		zip = a.PostalCode
		addr = joinNonEmpty(", ", append(slices.Clone(a.Lines), a.City, a.District, a.State, a.Country)...)
	}
	n.vals = append(n.vals,
		text(p.ID),
		text(strings.Join(p.Names, "; ")),
		text(dateOnly(p.BirthDate, n.birth)),
		text(dateOnly(p.DeceasedDate, n.death)),
		text(zip),
		text(addr),
		text(strings.Join(p.Telecom, "; ")),
		text(ssn),
		text(mrn),
		text(strings.Join(ids, "; ")),
		text(strings.Join(p.Text, "\n\n")),
	)
}

// lifeDate parses a birth or death date; nil if absent or malformed.
func (n *run) lifeDate(s, field string) *time.Time {
	if s == "" {
		return nil
	}
	t, err := record.ParseDate(s)
	if err != nil {
		n.fail("", field, err.Error())
		return nil
	}
	t = civil(t)
	return &t
}

// dateOnly drops a valid date's time of day: the de-identification rules
// work on dates.
func dateOnly(s string, valid *time.Time) string {
	if valid == nil {
		return ""
	}
	return s[:min(len(s), len("2006-01-02"))]
}

// age is the age in whole years at the reference date, or at death if
// that came first: the dead do not age.
func (n *run) age() record.Value {
	if n.birth == nil {
		return record.Null()
	}
	end := n.ref
	if n.death != nil && n.death.Before(end) {
		end = *n.death
	}
	b := *n.birth
	if b.After(end) {
		n.fail("", "birth_date", "after the reference date (or the death date)")
		return record.Null()
	}
	years := end.Year() - b.Year()
	if end.Month() < b.Month() || end.Month() == b.Month() && end.Day() < b.Day() {
		years--
	}
	if r := n.c.rangeOf("age", ageRange); float64(years) < r.Min || float64(years) > r.Max {
		n.fail("", "age", fmt.Sprintf("implausible: outside %g–%g years", r.Min, r.Max))
		return record.Null()
	}
	return record.Num(float64(years))
}

// rangeOf is a field's plausible range: the Config's, or the default.
func (c Config) rangeOf(field string, def Range) Range {
	if r, ok := c.Plausible[field]; ok {
		return r
	}
	return def
}

// observations appends the measures, then smoker.
func (n *run) observations() {
	type acc struct {
		sum    float64
		count  int
		latest float64
		at     time.Time
	}
	accs := make([]acc, len(measures))
	var smoke struct {
		code  string
		at    time.Time
		found bool
	}
	for _, o := range n.p.Observations {
		if !inSystem(loincSystems, o.System) {
			continue
		}
		if o.Code == smokingCode {
			if o.ValueCode == "" {
				n.fail(o.Where, "smoker", "smoking status is not coded")
				continue
			}
			if _, known := smokers[o.ValueCode]; !known {
				n.fail(o.Where, "smoker", "smoking status code not in the table of current, former and never smoker codes")
				continue
			}
			t, ok := n.date(o.Date, o.Where, "smoker")
			if ok && n.counts(t) && (!smoke.found || !t.Before(smoke.at)) {
				smoke.code, smoke.at, smoke.found = o.ValueCode, t, true
			}
			continue
		}
		i, known := byCode[o.Code]
		if !known {
			continue
		}
		m := &measures[i]
		name := m.field.Name
		if !o.HasValue {
			n.fail(o.Where, name, "no numeric value")
			continue
		}
		conv, ok := m.units[o.Unit]
		if !ok {
			n.fail(o.Where, name, unitReason(m, o.Unit))
			continue
		}
		v := conv(o.Value)
		// Written so that NaN, which fails every comparison, is rejected.
		if r := n.ranges[i]; !(v >= r.Min && v <= r.Max) {
			n.fail(o.Where, name, fmt.Sprintf("implausible: outside %g–%g %s", r.Min, r.Max, m.field.Unit))
			continue
		}
		t, ok := n.date(o.Date, o.Where, name)
		if !ok || !n.counts(t) {
			continue
		}
		a := &accs[i]
		a.sum += v
		a.count++
		if a.count == 1 || !t.Before(a.at) {
			a.latest, a.at = v, t
		}
	}
	for _, a := range accs {
		switch {
		case a.count == 0:
			n.vals = append(n.vals, record.Null())
		case n.c.Selection == Mean:
			n.vals = append(n.vals, record.Num(a.sum/float64(a.count)))
		default:
			n.vals = append(n.vals, record.Num(a.latest))
		}
	}
	if b := smokers[smoke.code]; smoke.found && b != nil {
		n.vals = append(n.vals, record.Bool(*b))
	} else {
		n.vals = append(n.vals, record.Null())
	}
}

func unitReason(m *measure, unit string) string {
	if unit == "" {
		return "missing unit"
	}
	accepted := make([]string, 0, len(m.units))
	for u := range m.units {
		accepted = append(accepted, u)
	}
	slices.Sort(accepted)
	// Never the unit itself: it is free text of the source, and a unit
	// field has been seen to carry a name or an SSN.
	return fmt.Sprintf("unknown unit for LOINC %s (accepted: %s)", m.codes[0], strings.Join(accepted, ", "))
}

// diagnoses appends the condition flags: true if a matching diagnosis
// began on or before the reference date (or has no date). A diagnosis
// that abated still counts: a past infarction is still a risk factor.
func (n *run) diagnoses() {
	flags := make([]bool, len(diagnoses))
	for _, c := range n.p.Conditions {
		i := diagnosisOf(c.System, c.Code)
		if i < 0 {
			continue
		}
		t, ok := n.date(c.Onset, c.Where, diagnoses[i].field.Name)
		if ok && !civil(t).After(n.ref) {
			flags[i] = true
		}
	}
	for _, f := range flags {
		n.vals = append(n.vals, record.Bool(f))
	}
}

func diagnosisOf(system, code string) int {
	switch {
	case inSystem(snomedSystems, system):
		return slices.IndexFunc(diagnoses, func(d diagnosis) bool { return slices.Contains(d.snomed, code) })
	case inSystem(icd10Systems, system):
		code = strings.ToUpper(strings.ReplaceAll(code, ".", ""))
		return slices.IndexFunc(diagnoses, func(d diagnosis) bool {
			return slices.ContainsFunc(d.icd10, func(cat string) bool { return strings.HasPrefix(code, cat) })
		})
	}
	return -1
}

// treated says whether an antihypertensive was being taken on the
// reference date: one was prescribed on or before it and is still active,
// or was stopped (or completed) but renewed — by any antihypertensive —
// after the reference date and within renewalDays of it being prescribed.
func (n *run) treated() record.Value {
	type rx struct {
		day    time.Time
		status string
	}
	var rxs []rx
	for _, m := range n.p.Medications {
		if !inSystem(rxnormSystems, m.System) || antihypertensives[m.Code] == "" {
			continue
		}
		t, ok := n.date(m.Date, m.Where, "bp_treated")
		if ok {
			rxs = append(rxs, rx{civil(t), m.Status})
		}
	}
	for _, r := range rxs {
		if r.day.After(n.ref) {
			continue
		}
		switch r.status {
		case "active", "":
			return record.Bool(true)
		case "stopped", "completed":
			renewed := slices.ContainsFunc(rxs, func(next rx) bool {
				return next.day.After(n.ref) && next.day.Sub(r.day) <= renewalDays*24*time.Hour
			})
			if renewed {
				return record.Bool(true)
			}
		}
	}
	return record.Bool(false)
}

func text(s string) record.Value {
	if s == "" {
		return record.Null()
	}
	return record.Str(s)
}

func joinNonEmpty(sep string, parts ...string) string {
	parts = slices.DeleteFunc(parts, func(s string) bool { return s == "" })
	return strings.Join(parts, sep)
}

// outcomes appends one value per known outcome: the source's, or null.
func (n *run) outcomes() {
	for _, o := range n.p.Outcomes {
		switch {
		case !slices.Contains(Outcomes, o.Name) && !slices.Contains(TimeOutcomes, o.Name):
			n.errs = append(n.errs, &record.InputError{Source: n.p.Source, Where: o.Where, Field: o.Name,
				Reason: fmt.Sprintf("unknown outcome (known: %s)", strings.Join(append(slices.Clone(Outcomes), TimeOutcomes...), ", "))})
		case slices.Contains(TimeOutcomes, o.Name) != o.IsTime:
			want := "a yes/no outcome (role outcome)"
			if !o.IsTime {
				want = "a time outcome in years (role outcome_time)"
			}
			n.errs = append(n.errs, &record.InputError{Source: n.p.Source, Where: o.Where, Field: o.Name, Reason: "is " + want})
		case o.IsTime && !(o.Years >= 0 && o.Years <= MaxOutcomeYears):
			n.errs = append(n.errs, &record.InputError{Source: n.p.Source, Where: o.Where, Field: o.Name,
				Reason: fmt.Sprintf("outside the plausible range 0–%d years", MaxOutcomeYears)})
		}
	}
	for _, name := range Outcomes {
		v := record.Null()
		for _, o := range n.p.Outcomes {
			if o.Name == name && !o.IsTime {
				v = record.Bool(o.Value)
			}
		}
		n.vals = append(n.vals, v)
	}
	for _, name := range TimeOutcomes {
		v := record.Null()
		for _, o := range n.p.Outcomes {
			if o.Name == name && o.IsTime {
				v = record.Num(o.Years)
			}
		}
		n.vals = append(n.vals, v)
	}
}
