// Package record holds the data types that flow through the vault's ingest
// pipeline:
//
//	source (CSV, FHIR) ──read──▶ Patient ──normalise──▶ Record ──de-identify──▶ Row ──seal──▶ vault
//
// A Patient and a Record are identified data: they live only in memory on
// the institution's node, are never logged, and never appear in an error
// message (errors name the file, row or JSON path and the field, never the
// value). A Row is what the vault stores, encrypted.
package record

import (
	"errors"
	"time"

	"github.com/medchain/medchain/vocab"
)

// Patient is one patient as read from a source, identifiers included.
type Patient struct {
	Source string // file name, for error messages
	Where  string // row number or JSON path of the patient resource

	ID            string // source patient id (FHIR id, MRN column)
	Identifiers   []Identifier
	Names         []string
	Telecom       []string
	Addresses     []Address
	BirthDate     string // YYYY-MM-DD as in the source
	DeceasedDate  string
	Sex           string // "male", "female", "other", "unknown"
	MaritalStatus string
	Text          []string // free-text narrative found anywhere in the patient's resources

	Observations []Observation
	Conditions   []Condition
	Medications  []Medication
	Outcomes     []Outcome // study outcomes the institution holds (e.g. a 10-year CVD event)

	// Original is the patient's record as the source gave it (a FHIR
	// Bundle's bytes, a CSV row with its header), identifiable: ingest
	// keeps it sealed apart from the research rows (vault originals) for
	// the patient to ask for, and nothing else reads it. Nil when the
	// source keeps none (NDJSON exports).
	Original *Original
}

// Original is a source record's bytes and their media type.
type Original struct {
	MediaType string // application/fhir+json, text/csv
	Data      []byte
}

// Identifier is an institutional identifier (SSN, MRN, driver's licence, passport…).
type Identifier struct {
	Type   string // e.g. "SS", "MR", "DL", "PPN" (HL7 v2 identifier type codes)
	System string
	Value  string
}

// Address is a postal address.
type Address struct {
	Lines      []string
	City       string
	District   string
	State      string
	PostalCode string
	Country    string
}

// Observation is a measurement or a coded finding.
type Observation struct {
	Where     string  // JSON path or row/column, for error messages
	System    string  // "http://loinc.org", …
	Code      string  // e.g. 8480-6
	Value     float64 // numeric value, if HasValue
	HasValue  bool
	Unit      string // UCUM unit as in the source
	ValueCode string // coded value (e.g. SNOMED smoking status)
	Date      string // effective date-time as in the source
}

// Condition is a diagnosis.
type Condition struct {
	Where     string
	System    string // SNOMED CT or ICD-10
	Code      string
	Onset     string
	Abatement string
}

// Medication is a prescription or administration.
type Medication struct {
	Where  string
	System string // RxNorm
	Code   string
	Date   string
	Status string
}

// Outcome is a study outcome recorded for a patient: a yes/no outcome
// (Value), or a time outcome (IsTime, Years: a follow-up time in years
// from the reference date, such as the time to a CVD event or to the end
// of follow-up).
type Outcome struct {
	Where  string
	Name   string // e.g. "cvd_10y", "cvd_time"
	Value  bool
	IsTime bool
	Years  float64
}

// Kind is the type of a Value.
type Kind uint8

// Value kinds.
const (
	KindNull Kind = iota
	KindNumber
	KindText
	KindBool
)

// Value is one cell: a number, a string or a boolean, or null.
type Value struct {
	Kind Kind
	Num  float64
	Str  string
	B    bool
}

// Num, Str, Bool and Null build values.
func Num(f float64) Value { return Value{Kind: KindNumber, Num: f} }
func Str(s string) Value  { return Value{Kind: KindText, Str: s} }
func Bool(b bool) Value   { return Value{Kind: KindBool, B: b} }
func Null() Value         { return Value{} }

// Record is one normalised patient: named fields (identifiers and
// quasi-identifiers included, e.g. "patient_id", "birth_date", "zip",
// "name"), ready for the de-identification rules, which decide what
// survives into a Row.
type Record struct {
	Source string
	Where  string
	Fields []string // names, in schema order
	Values []Value  // aligned with Fields
}

// Get returns a field's value and whether the record has the field.
func (r *Record) Get(name string) (Value, bool) {
	for i, f := range r.Fields {
		if f == name {
			return r.Values[i], true
		}
	}
	return Value{}, false
}

// Row is one de-identified research row, as stored (encrypted) in the vault.
type Row struct {
	Pseudonym string  // keyed-hash pseudonym of the patient id
	Values    []Value // aligned with the dataset's schema
}

// Schema is a dataset's column list, as published on the ledger.
type Schema = []vocab.Field

// InputError is the one error type of the ingest pipeline: what is wrong
// with the input and exactly where — file, row or JSON path, field — and
// never the offending value itself, which may identify a patient.
type InputError struct {
	Source string // file name
	Where  string // "row 17", "Bundle.entry[3].resource.component[0].valueQuantity"
	Field  string // column or feature name, if any
	Reason string // what is wrong, without the value
}

func (e *InputError) Error() string {
	s := e.Source
	if e.Where != "" {
		s += ": " + e.Where
	}
	if e.Field != "" {
		s += ": " + e.Field
	}
	return s + ": " + e.Reason
}

// dateTimeLayouts are the date-time forms sources write: FHIR's dateTime
// (RFC 3339, with a zone) and the zone-less forms spreadsheets export.
var dateTimeLayouts = []string{time.RFC3339Nano, "2006-01-02T15:04:05", "2006-01-02 15:04:05", "2006-01-02T15:04"}

// ParseDate parses a date or date-time as the sources write them: YYYY,
// YYYY-MM, YYYY-MM-DD, or a date-time (RFC 3339, or without a zone, with a
// "T" or a space). A partial date stands for the first day of its period.
// The error never repeats the input, which may be a birth date.
func ParseDate(s string) (time.Time, error) {
	layouts := dateTimeLayouts
	switch len(s) {
	case len("2006"):
		layouts = []string{"2006"}
	case len("2006-01"):
		layouts = []string{"2006-01"}
	case len("2006-01-02"):
		layouts = []string{"2006-01-02"}
	}
	for _, l := range layouts {
		if t, err := time.Parse(l, s); err == nil {
			return t, nil
		}
	}
	return time.Time{}, errBadDate
}

var errBadDate = errors.New("not a date (want YYYY-MM-DD, YYYY-MM, YYYY or an RFC 3339 date-time)")
