// Package csvsrc reads patients from CSV files, one row per patient, with
// a Mapping that says what each column holds: an identifier, a
// demographic, an observation (code, unit, date), or a condition or
// medication flag.
//
// Every problem is a *record.InputError naming the file, the row (as a
// spreadsheet numbers it: the header is row 1) and the column, and the
// reason — never the cell, which may identify a patient.
package csvsrc

import (
	"bytes"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"math"
	"slices"
	"strconv"
	"strings"

	"github.com/medchain/medchain/record"
)

// plan is what to do with one column of the file.
type plan struct {
	name   string
	col    Column
	date   int  // index of the column's date column, or -1
	isDate bool // another column's date column
}

// Read reads a CSV file with a header row and calls fn with the patient of
// each following row. It stops at the first problem. name is the file
// name, used in errors.
func Read(name string, r io.Reader, m Mapping, fn func(*record.Patient) error) error {
	return ReadRows(name, r, m, func(p *record.Patient, bad *record.InputError) error {
		if bad != nil {
			return bad
		}
		return fn(p)
	})
}

// ReadRows is Read for callers that set bad rows aside rather than stop:
// it calls fn with each row's patient, or with what is wrong with the row,
// and goes on to the next row. It stops at a problem with the header or
// the mapping, a read error, or an error from fn.
func ReadRows(name string, r io.Reader, m Mapping, fn func(*record.Patient, *record.InputError) error) error {
	if err := m.Check(); err != nil {
		return err
	}
	cr := csv.NewReader(r)
	cr.ReuseRecord = true
	header, err := cr.Read()
	var pe *csv.ParseError
	switch {
	case err == io.EOF:
		return &record.InputError{Source: name, Where: "row 1", Reason: "empty file: no header row"}
	case errors.As(err, &pe):
		return parseError(name, 1, pe)
	case err != nil:
		return fmt.Errorf("%s: reading: %w", name, err)
	}
	header = slices.Clone(header) // the reader reuses its record; originals need the header later
	plans, err := planColumns(name, header, m)
	if err != nil {
		return err
	}
	nObs := 0
	for _, pl := range plans {
		if pl.col.Role == RoleObservation {
			nObs++
		}
	}
	seen := make(map[string]int) // patient id → row, to catch a patient given twice
	for row := 2; ; row++ {
		rec, err := cr.Read()
		if err == io.EOF {
			return nil
		}
		var p *record.Patient
		var bad *record.InputError
		switch {
		case errors.As(err, &pe):
			bad = parseError(name, row, pe)
		case err != nil:
			return fmt.Errorf("%s: reading: %w", name, err)
		default:
			p, bad = readRow(name, row, rec, plans, nObs)
			if p != nil {
				if p.Original, err = original(header, rec); err != nil {
					return fmt.Errorf("%s: row %d: %w", name, row, err)
				}
			}
		}
		if p != nil {
			if first, ok := seen[p.ID]; ok {
				p, bad = nil, &record.InputError{Source: name, Where: "row " + strconv.Itoa(row), Field: m.idColumn(),
					Reason: "the same patient id as row " + strconv.Itoa(first) + ": one row per patient"}
			} else {
				seen[p.ID] = row
			}
		}
		if err := fn(p, bad); err != nil {
			return err
		}
	}
}

func (m Mapping) idColumn() string {
	for name, c := range m.Columns {
		if c.Role == RolePatientID {
			return name
		}
	}
	return ""
}

// parseError reports a malformed row. encoding/csv's messages say what is
// wrong ("wrong number of fields", "bare \" in non-quoted-field") without
// quoting the data.
func parseError(name string, row int, pe *csv.ParseError) *record.InputError {
	reason := pe.Err.Error()
	if errors.Is(pe.Err, csv.ErrFieldCount) {
		reason += " (not the header's count)"
	} else {
		reason += fmt.Sprintf(" (line %d, byte %d)", pe.Line, pe.Column)
	}
	return &record.InputError{Source: name, Where: "row " + strconv.Itoa(row), Reason: reason}
}

// planColumns matches the header with the mapping: every column of the
// file must be mapped, and every mapped column must be in the file.
func planColumns(name string, header []string, m Mapping) ([]plan, error) {
	fail := func(col, reason string) error {
		return &record.InputError{Source: name, Where: "row 1", Field: col, Reason: reason}
	}
	index := make(map[string]int, len(header))
	for i, h := range header {
		if i == 0 {
			h = strings.TrimPrefix(h, "\uFEFF") // the byte-order mark spreadsheets write
		}
		h = strings.TrimSpace(h)
		if h == "" {
			return nil, fail("", fmt.Sprintf("column %d has no name", i+1))
		}
		if _, dup := index[h]; dup {
			return nil, fail(h, "two columns with this name")
		}
		if _, ok := m.Columns[h]; !ok {
			return nil, fail(h, "not in the mapping "+m.Path+" (map it, or give it role ignore)")
		}
		index[h] = i
	}
	for _, c := range sortedKeys(m.Columns) {
		if _, ok := index[c]; !ok {
			return nil, fail(c, "in the mapping "+m.Path+" but not in the file")
		}
	}
	plans := make([]plan, len(index))
	for h, i := range index {
		c := m.Columns[h]
		plans[i] = plan{name: h, col: c, date: -1}
		if c.DateColumn != "" {
			plans[i].date = index[c.DateColumn]
		}
	}
	for _, pl := range plans {
		if pl.date >= 0 {
			plans[pl.date].isDate = true
		}
	}
	return plans, nil
}

func readRow(name string, row int, rec []string, plans []plan, nObs int) (*record.Patient, *record.InputError) {
	where := "row " + strconv.Itoa(row)
	p := &record.Patient{Source: name, Where: where, Observations: make([]record.Observation, 0, nObs)}
	var addr record.Address
	var names []string
	for i, pl := range plans {
		cell := strings.TrimSpace(rec[i])
		if cell == "" {
			continue // missing, not false or zero
		}
		fail := func(reason string) *record.InputError {
			return &record.InputError{Source: name, Where: where, Field: pl.name, Reason: reason}
		}
		date := ""
		if pl.date >= 0 {
			date = strings.TrimSpace(rec[pl.date]) // checked when its own column comes
		}
		if pl.isDate {
			if _, err := record.ParseDate(cell); err != nil {
				return nil, fail(err.Error())
			}
		}
		switch pl.col.Role {
		case RolePatientID:
			p.ID = cell
		case RoleName:
			names = append(names, cell)
		case RoleBirthDate, RoleDeathDate:
			if _, err := record.ParseDate(cell); err != nil {
				return nil, fail(err.Error())
			}
			if pl.col.Role == RoleBirthDate {
				p.BirthDate = cell
			} else {
				p.DeceasedDate = cell
			}
		case RoleSex:
			sex, ok := lookupFold(sexes, cell)
			if !ok {
				return nil, fail("not a sex (want male, female, other, unknown, or M, F, O, U)")
			}
			p.Sex = sex
		case RoleZIP:
			addr.PostalCode = cell
		case RoleAddress:
			addr.Lines = append(addr.Lines, cell)
		case RolePhone:
			p.Telecom = append(p.Telecom, cell)
		case RoleSSN:
			p.Identifiers = append(p.Identifiers, record.Identifier{Type: "SS", System: "http://hl7.org/fhir/sid/us-ssn", Value: cell})
		case RoleMRN:
			p.Identifiers = append(p.Identifiers, record.Identifier{Type: "MR", Value: cell})
		case RoleFreeText:
			p.Text = append(p.Text, cell)
		case RoleObservation:
			o := record.Observation{Where: where + ", column " + pl.name, System: pl.col.System, Code: pl.col.Code, Unit: pl.col.Unit, Date: date}
			if pl.col.Value == "code" {
				o.ValueCode = cell
				if pl.col.ValueCodes != nil {
					if o.ValueCode = pl.col.ValueCodes[cell]; o.ValueCode == "" {
						return nil, fail("not one of the mapping's value_codes")
					}
				}
			} else {
				v, err := strconv.ParseFloat(cell, 64)
				if err != nil || math.IsNaN(v) || math.IsInf(v, 0) {
					return nil, fail("not a number")
				}
				o.Value, o.HasValue = v, true
			}
			p.Observations = append(p.Observations, o)
		case RoleOutcome:
			yes, ok := lookupFold(booleans, cell)
			if !ok {
				return nil, fail("not a boolean (want 1/0, true/false, yes/no, y/n, t/f)")
			}
			code := pl.col.Code
			if code == "" {
				code = pl.name
			}
			p.Outcomes = append(p.Outcomes, record.Outcome{Where: where + ", column " + pl.name, Name: code, Value: yes})
		case RoleOutcomeTime:
			v, err := strconv.ParseFloat(cell, 64)
			if err != nil || math.IsNaN(v) || math.IsInf(v, 0) {
				return nil, fail("not a number of years")
			}
			code := pl.col.Code
			if code == "" {
				code = pl.name
			}
			p.Outcomes = append(p.Outcomes, record.Outcome{Where: where + ", column " + pl.name, Name: code, IsTime: true, Years: v})
		case RoleCondition, RoleMedication:
			yes, ok := lookupFold(booleans, cell)
			if !ok {
				return nil, fail("not a boolean (want 1/0, true/false, yes/no, y/n, t/f)")
			}
			if !yes {
				continue
			}
			cellWhere := where + ", column " + pl.name
			if pl.col.Role == RoleCondition {
				p.Conditions = append(p.Conditions, record.Condition{Where: cellWhere, System: pl.col.System, Code: pl.col.Code, Onset: date})
			} else {
				p.Medications = append(p.Medications, record.Medication{Where: cellWhere, System: pl.col.System, Code: pl.col.Code, Date: date, Status: "active"})
			}
		}
	}
	if p.ID == "" {
		for _, pl := range plans {
			if pl.col.Role == RolePatientID {
				return nil, &record.InputError{Source: name, Where: where, Field: pl.name, Reason: "empty patient id"}
			}
		}
	}
	if len(names) > 0 {
		// Name columns (given, family) together make one name.
		p.Names = []string{strings.Join(names, " ")}
	}
	if addr.PostalCode != "" || len(addr.Lines) > 0 {
		p.Addresses = []record.Address{addr}
	}
	return p, nil
}

// lookupFold looks a cell up case-insensitively; the keys are lower case.
func lookupFold[V any](m map[string]V, cell string) (V, bool) {
	if v, ok := m[cell]; ok {
		return v, true
	}
	v, ok := m[strings.ToLower(cell)]
	return v, ok
}

var sexes = map[string]string{
	"male": "male", "m": "male", "female": "female", "f": "female",
	"other": "other", "o": "other", "unknown": "unknown", "u": "unknown",
}

var booleans = map[string]bool{
	"1": true, "true": true, "yes": true, "y": true, "t": true,
	"0": false, "false": false, "no": false, "n": false, "f": false,
}

// original is a row as a CSV file of its own: the header, then the row.
func original(header, row []string) (*record.Original, error) {
	var b bytes.Buffer
	w := csv.NewWriter(&b)
	w.Write(header)
	w.Write(row)
	w.Flush()
	if err := w.Error(); err != nil {
		return nil, err
	}
	return &record.Original{MediaType: "text/csv", Data: b.Bytes()}, nil
}
