// Package deid de-identifies normalised patient records by a declarative
// rule set that a hospital's data manager can read and change.
//
// A rule set (a "profile") is a JSON file:
//
//	{
//	  "profile": "hipaa-safe-harbor",
//	  "description": "…",                 // optional
//	  "id_field": "patient_id",            // optional; the default
//	  "default": "redact",                 // fields no rule names: "redact" (default) or "keep"
//	  "rules": [
//	    {"field": "patient_id", "method": "pseudonym", "params": {"length": 32}},
//	    {"field": "zip",        "method": "zip3"},
//	    {"field": "age",        "method": "generalise", "params": {"top": 90}, "type": "integer"},
//	    {"field": "sbp",        "method": "keep", "type": "number", "note": "systolic BP, mmHg"}
//	  ]
//	}
//
// Each rule names a record field, a method, the method's params and, where
// wanted, the output column's schema type (one of vocab.FieldTypes; keep
// requires it, other methods default to their natural type) and a note for
// people. A field may have one rule. Fields no rule names get the default
// method, so a field the profile did not foresee is dropped, never leaked;
// fields kept by default are stored as text.
//
// Methods and their params:
//
//	keep        —                          the value unchanged (its kind must match the type)
//	redact      —                          the field is dropped: no column
//	date_shift  min_days, max_days         the date moved by a per-patient number of days in
//	                                       [min_days, max_days], from HMAC(secret, patient id):
//	                                       the same for every date of a patient, so intervals
//	                                       within a patient survive; output YYYY-MM-DD, time dropped
//	year_only   —                          the year of a date, as a number (type "year")
//	pseudonym   length (16…64, default 32) hex HMAC-SHA256 under the institution's secret,
//	                                       truncated; on the id field it becomes Row.Pseudonym
//	generalise  top, bottom, bin           numbers: ≥ top → top, ≤ bottom → bottom, values in
//	                                       between floored to a multiple of bin
//	            map, other                 categories: mapped; unlisted → other, or null
//	perturb     max, decimals              plus deterministic noise, uniform in [-max, max], from
//	                                       HMAC(secret, field, patient id); rounded to decimals
//	                                       (or to an integer for type "integer")
//	zip3        restricted                 the first 3 digits of a ZIP or ZIP+4; restricted areas
//	                                       (default HIPAARestrictedZIP3) and non-ZIPs → "000"
//
// Null and missing values stay null under every method: a missing ZIP stays
// missing rather than becoming "000", which would claim a restricted area.
//
// Top-coding is how Safe Harbor's "90+" is stored in a numeric column: the
// value is the top itself (an age of 90 means 90 or older), and the schema
// column says so (Column.TopCode, Column.Label). Bins never move a
// top-coded value.
//
// perturb is not differential privacy: the noise is bounded and fixed per
// patient and field, which stops exact matching on the value but gives no
// formal guarantee. Differential privacy is applied to results, by the
// compute worker, against the dataset's privacy budget.
//
// The profile hash (Rules.Hash) covers everything that changes the output
// and nothing else; it is published on the ledger with each dataset
// version. The secret is never part of it.
package deid

import (
	"cmp"
	"crypto/hmac"
	"crypto/sha256"
	"fmt"
	"hash"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"unicode/utf8"

	"github.com/medchain/medchain/record"
	"github.com/medchain/medchain/vocab"
)

// MinSecretLen is the shortest institution secret New accepts.
const MinSecretLen = 16

// Deidentifier applies a rule set under an institution's secret and counts
// what it did. It is safe for concurrent use.
type Deidentifier struct {
	c    *compiled
	hmac sync.Pool // of hash.Hash keyed with the secret

	mu       sync.Mutex
	counters map[string]*counter // by field; the default method's fields are added as met
	plan     atomic.Pointer[plan]
}

type counter struct {
	method string
	n      [numOutcomes]atomic.Int64
}

// New prepares rules for use with the institution's secret (at least
// MinSecretLen bytes; 32 random bytes is the intent). The secret keys every
// pseudonym, date shift and noise value, so it must be kept as long as the
// pseudonyms must stay stable, and never published.
func New(r *Rules, secret []byte) (*Deidentifier, error) {
	if len(secret) < MinSecretLen {
		return nil, fmt.Errorf("deid: the secret is %d bytes, want at least %d", len(secret), MinSecretLen)
	}
	c, err := r.compile()
	if err != nil {
		return nil, err
	}
	key := slices.Clone(secret)
	d := &Deidentifier{c: c, counters: map[string]*counter{}}
	d.hmac.New = func() any { return hmac.New(sha256.New, key) }
	for f, ru := range c.byField {
		d.counters[f] = &counter{method: ru.method}
	}
	return d, nil
}

// mac is HMAC-SHA256(secret, label NUL part NUL part …).
func (d *Deidentifier) mac(label string, parts ...string) [sha256.Size]byte {
	h := d.hmac.Get().(hash.Hash)
	h.Reset()
	h.Write([]byte(label))
	for _, p := range parts {
		h.Write([]byte{0})
		h.Write([]byte(p))
	}
	var sum [sha256.Size]byte
	h.Sum(sum[:0])
	d.hmac.Put(h)
	return sum
}

// PatientPseudonym is the pseudonym Apply gives a patient id, for the parts
// of the node that must find a patient's rows (consent, device readings).
func (d *Deidentifier) PatientPseudonym(id string) string {
	return d.pseudonym(d.c.idField, id, d.c.byField[d.c.idField].length)
}

// Column is one column of the de-identified schema: the ledger field plus
// what generalisation means for reading its values.
type Column struct {
	vocab.Field
	Method string `json:"method"`
	// TopCode, if set, is a value that stands for itself or more: with
	// top 90 an age of 90 means "90+".
	TopCode *float64 `json:"top_code,omitempty"`
	// BottomCode, if set, stands for itself or less.
	BottomCode *float64 `json:"bottom_code,omitempty"`
}

// Label renders a value of the column for people: "90+" for a top-coded
// age, "≤20" for a bottom-coded value, else the number.
func (c Column) Label(x float64) string {
	s := strconv.FormatFloat(x, 'f', -1, 64)
	switch {
	case c.TopCode != nil && x == *c.TopCode:
		return s + "+"
	case c.BottomCode != nil && x == *c.BottomCode:
		return "≤" + s
	}
	return s
}

// LedgerSchema is the schema as published on the ledger.
func LedgerSchema(cols []Column) record.Schema {
	out := make(record.Schema, len(cols))
	for i, c := range cols {
		out[i] = c.Field
	}
	return out
}

// Schema is the columns that records with these fields turn into: the
// fields that survive, in input order, with their types. The patient id
// field is not a column; it becomes the row's Pseudonym.
func (d *Deidentifier) Schema(fields []string) []Column {
	in := make(record.Schema, len(fields))
	for i, f := range fields {
		in[i] = vocab.Field{Name: f}
	}
	return d.SchemaFor(in)
}

// SchemaFor is Schema for fields described by a source schema (such as the
// normaliser's): where the method keeps the value's meaning (keep, perturb,
// generalise of numbers) the column keeps the field's code system, code
// and unit; the type is always the rule's.
func (d *Deidentifier) SchemaFor(in record.Schema) []Column {
	var cols []Column
	for _, f := range in {
		if f.Name == d.c.idField {
			continue
		}
		r := d.c.byField[f.Name]
		switch {
		case r == nil && d.c.def == Keep:
			cols = append(cols, Column{Field: vocab.Field{Name: f.Name, Type: "string"}, Method: Keep})
		case r == nil || r.method == Redact:
		default:
			col := Column{Field: vocab.Field{Name: f.Name, Type: r.typ}, Method: r.method}
			if r.method == Keep || r.method == Perturb || (r.method == Generalise && r.mapping == nil) {
				col.System, col.Code, col.Unit = f.System, f.Code, f.Unit
			}
			if r.method == Generalise {
				col.TopCode, col.BottomCode = r.top, r.bottom
			}
			cols = append(cols, col)
		}
	}
	return cols
}

// plan is the rule set resolved for one field list, so Apply does no map
// lookups per value. Records of one ingest share a field list.
type plan struct {
	fields []string
	steps  []step
	id     int // index of the id field
	ncols  int
}

type step struct {
	r   *rule // nil: the default method
	ctr *counter
	col int // output column, or -1
}

func (d *Deidentifier) planFor(fields []string) (*plan, error) {
	if p := d.plan.Load(); p != nil && slices.Equal(p.fields, fields) {
		return p, nil
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	p := &plan{fields: slices.Clone(fields), steps: make([]step, len(fields)), id: -1}
	for i, f := range fields {
		if slices.Contains(fields[:i], f) {
			return nil, fmt.Errorf("duplicate field %q", f)
		}
		r := d.c.byField[f]
		ctr := d.counters[f]
		if ctr == nil {
			ctr = &counter{method: d.c.def + " (default)"}
			d.counters[f] = ctr
		}
		st := step{r: r, ctr: ctr, col: -1}
		switch {
		case f == d.c.idField:
			p.id = i
		case (r == nil && d.c.def == Keep) || (r != nil && r.method != Redact):
			st.col = p.ncols
			p.ncols++
		}
		p.steps[i] = st
	}
	d.plan.Store(p)
	return p, nil
}

// Apply de-identifies one record. The Row's Values follow
// Schema(rec.Fields); its Pseudonym comes from the id field. An error is a
// *record.InputError naming the record and field, never the value; the
// rows that fail are not counted in the report.
func (d *Deidentifier) Apply(rec *record.Record) (record.Row, error) {
	fail := func(field, reason string) (record.Row, error) {
		return record.Row{}, &record.InputError{Source: rec.Source, Where: rec.Where, Field: field, Reason: reason}
	}
	if len(rec.Fields) != len(rec.Values) {
		return fail("", fmt.Sprintf("%d fields but %d values", len(rec.Fields), len(rec.Values)))
	}
	p, err := d.planFor(rec.Fields)
	if err != nil {
		return fail("", err.Error())
	}
	if p.id < 0 {
		return fail(d.c.idField, "the patient id field is missing")
	}
	id, err := text(rec.Values[p.id])
	if err != nil || strings.TrimSpace(id) == "" {
		return fail(d.c.idField, "the patient id is empty or not text")
	}
	pt := patient{d: d, id: id}
	row := record.Row{Values: make([]record.Value, p.ncols)}
	// Outcomes are counted only once the whole row has succeeded.
	outs := make([]outcome, len(p.steps))
	const skip = numOutcomes // null input: nothing applied
	for i, st := range p.steps {
		v := rec.Values[i]
		if v.Kind == record.KindNull {
			outs[i] = skip
			continue
		}
		switch {
		case st.r == nil && st.col >= 0: // kept by default, as text
			row.Values[st.col] = asText(v)
		case st.r == nil || st.r.method == Redact:
		default:
			out, o, err := st.r.apply(v, pt)
			if err != nil {
				return fail(rec.Fields[i], err.Error())
			}
			if i == p.id {
				row.Pseudonym = out.Str
			} else {
				row.Values[st.col] = out
			}
			outs[i] = o
		}
	}
	for i, st := range p.steps {
		if outs[i] == skip {
			continue
		}
		st.ctr.n[applied].Add(1)
		if outs[i] != applied {
			st.ctr.n[outs[i]].Add(1)
		}
	}
	return row, nil
}

// Count is how many values of a field a method (or one of its outcomes,
// such as "generalise: top-coded") was applied to.
type Count struct {
	Field  string `json:"field"`
	Method string `json:"method"`
	N      int64  `json:"n"`
}

// Report is every rule application so far, sorted by field then method, so
// that an ingest report prints the same way every time.
type Report []Count

// Report returns the counts of every rule application so far. Null values
// are not counted: nothing was applied to them.
func (d *Deidentifier) Report() Report {
	d.mu.Lock()
	defer d.mu.Unlock()
	var r Report
	for f, c := range d.counters {
		for o := range numOutcomes {
			if n := c.n[o].Load(); n > 0 {
				r = append(r, Count{Field: f, Method: o.label(c.method), N: n})
			}
		}
	}
	slices.SortFunc(r, func(a, b Count) int {
		return cmp.Or(strings.Compare(a.Field, b.Field), strings.Compare(a.Method, b.Method))
	})
	return r
}

// String prints one "field  method  count" line per entry.
func (r Report) String() string {
	var b strings.Builder
	fw, mw := 0, 0
	for _, c := range r {
		fw, mw = max(fw, len(c.Field)), max(mw, utf8.RuneCountInString(c.Method))
	}
	for _, c := range r {
		pad := strings.Repeat(" ", mw-utf8.RuneCountInString(c.Method))
		fmt.Fprintf(&b, "%-*s  %s%s  %d\n", fw, c.Field, c.Method, pad, c.N)
	}
	return b.String()
}
