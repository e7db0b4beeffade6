package csvsrc

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"

	"github.com/medchain/medchain/record"
)

// Role says what a column holds.
type Role string

// Column roles. The identifying ones (name … free_text) are read so the
// de-identification rules can remove them; the clinical ones become
// observations, conditions and medications.
const (
	RolePatientID   Role = "patient_id"
	RoleName        Role = "name"
	RoleBirthDate   Role = "birth_date"
	RoleSex         Role = "sex"
	RoleZIP         Role = "zip"
	RoleAddress     Role = "address"
	RolePhone       Role = "phone"
	RoleSSN         Role = "ssn"
	RoleMRN         Role = "mrn"
	RoleDeathDate   Role = "death_date"
	RoleFreeText    Role = "free_text"
	RoleObservation Role = "observation"
	RoleCondition   Role = "condition"
	RoleMedication  Role = "medication"
	RoleIgnore      Role = "ignore"
	// RoleOutcome is a boolean study outcome; the column's code names it
	// (e.g. "cvd_10y"; normalize knows which outcomes exist).
	RoleOutcome Role = "outcome"
	// RoleOutcomeTime is a time outcome in years (e.g. "cvd_time", the
	// follow-up to a CVD event or to its censoring); the column's code
	// names it.
	RoleOutcomeTime Role = "outcome_time"
)

// Roles lists every role.
var Roles = []Role{
	RolePatientID, RoleName, RoleBirthDate, RoleSex, RoleZIP, RoleAddress, RolePhone, RoleSSN, RoleMRN,
	RoleDeathDate, RoleFreeText, RoleObservation, RoleCondition, RoleMedication, RoleOutcome, RoleOutcomeTime, RoleIgnore,
}

// single are the roles at most one column may have: a second birth date
// column would leave it unclear which one is right.
var single = []Role{RolePatientID, RoleBirthDate, RoleSex, RoleZIP, RoleDeathDate}

// Mapping says what each column of a CSV file holds. In JSON:
//
//	{
//	  "description": "clinic export, 2024",
//	  "columns": {
//	    "id":        {"role": "patient_id"},
//	    "dob":       {"role": "birth_date"},
//	    "sbp":       {"role": "observation", "system": "http://loinc.org", "code": "8480-6",
//	                  "unit": "mm[Hg]", "date_column": "visit_date"},
//	    "smoking":   {"role": "observation", "system": "http://loinc.org", "code": "72166-2",
//	                  "value": "code", "value_codes": {"yes": "77176002", "no": "8517006"}},
//	    "htn":       {"role": "condition", "system": "http://snomed.info/sct", "code": "59621000"},
//	    "visit_date": {"role": "ignore"}
//	  }
//	}
//
// Every column of the file must be mapped (ignore is a role), so a new
// column in an export — perhaps an identifier — is never read unnoticed.
type Mapping struct {
	Path        string            `json:"-"` // where the mapping was loaded from, for errors
	Description string            `json:"description,omitempty"`
	Columns     map[string]Column `json:"columns"`
}

// Column is one column's mapping.
type Column struct {
	Role Role `json:"role"`
	// System and Code identify what an observation measures (LOINC), or
	// the condition (SNOMED CT, ICD-10) or medication (RxNorm) that a
	// true cell records.
	System string `json:"system,omitempty"`
	Code   string `json:"code,omitempty"`
	// Unit is the UCUM unit of an observation's numbers.
	Unit string `json:"unit,omitempty"`
	// DateColumn names the column holding the date of an observation, the
	// onset of a condition or the start of a medication; without one, the
	// value is taken as current at the reference date.
	DateColumn string `json:"date_column,omitempty"`
	// Value is "number" (the default) or "code" for an observation whose
	// cells are codes, such as a smoking status.
	Value string `json:"value,omitempty"`
	// ValueCodes translates the cells of a coded observation ("yes") into
	// codes ("77176002"); without it the cells are the codes.
	ValueCodes map[string]string `json:"value_codes,omitempty"`
}

// LoadMapping reads a mapping file and checks it.
func LoadMapping(path string) (Mapping, error) {
	f, err := os.Open(path)
	if err != nil {
		return Mapping{}, err
	}
	defer f.Close()
	return ParseMapping(path, f)
}

// ParseMapping reads a mapping from r and checks it; name is used in errors.
func ParseMapping(name string, r io.Reader) (Mapping, error) {
	fail := func(where, reason string) error {
		return &record.InputError{Source: name, Where: where, Reason: reason}
	}
	data, err := io.ReadAll(r)
	if err != nil {
		return Mapping{}, err
	}
	// Columns are decoded one by one, strictly, so that a misspelt field
	// ("sytem") is an error naming its column rather than silently empty.
	var top struct {
		Description string                     `json:"description"`
		Columns     map[string]json.RawMessage `json:"columns"`
	}
	if err := strictDecode(data, &top); err != nil {
		return Mapping{}, fail("", "not a mapping: "+strings.TrimPrefix(err.Error(), "json: "))
	}
	if top.Columns == nil {
		return Mapping{}, fail("columns", "missing")
	}
	m := Mapping{Path: name, Description: top.Description, Columns: make(map[string]Column, len(top.Columns))}
	for _, name := range sortedKeys(top.Columns) {
		var c Column
		if err := strictDecode(top.Columns[name], &c); err != nil {
			return Mapping{}, fail("columns."+name, strings.TrimPrefix(err.Error(), "json: "))
		}
		m.Columns[name] = c
	}
	return m, m.Check()
}

func strictDecode(data []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return err
	}
	if dec.More() {
		return errors.New("data after the JSON value")
	}
	return nil
}

// Check reports the first problem with the mapping, naming the JSON field
// ("columns.sbp.unit"). LoadMapping calls it; Read calls it for mappings
// built in code.
func (m Mapping) Check() error {
	fail := func(col, field, reason string) error {
		return &record.InputError{Source: m.Path, Where: "columns." + col + "." + field, Reason: reason}
	}
	if len(m.Columns) == 0 {
		return &record.InputError{Source: m.Path, Where: "columns", Reason: "no columns"}
	}
	firstOf := make(map[Role]string)
	for _, name := range sortedKeys(m.Columns) {
		c := m.Columns[name]
		if !slices.Contains(Roles, c.Role) {
			return fail(name, "role", fmt.Sprintf("unknown role %q (want one of %s)", c.Role, roleList()))
		}
		if prev, ok := firstOf[c.Role]; ok && slices.Contains(single, c.Role) {
			return fail(name, "role", fmt.Sprintf("a second %s column (the first is %q)", c.Role, prev))
		}
		if _, ok := firstOf[c.Role]; !ok {
			firstOf[c.Role] = name
		}
		clinical := c.Role == RoleObservation || c.Role == RoleCondition || c.Role == RoleMedication
		switch {
		case clinical && c.System == "":
			return fail(name, "system", "missing: say which code system "+string(c.Role)+" codes come from")
		case clinical && c.Code == "":
			return fail(name, "code", "missing")
		case !clinical && (c.System != "" || c.Code != "" || c.Unit != "" || c.DateColumn != ""):
			return fail(name, "role", "only observation, condition and medication columns take system, code, unit or date_column")
		}
		if c.DateColumn != "" {
			if _, ok := m.Columns[c.DateColumn]; !ok {
				return fail(name, "date_column", fmt.Sprintf("names column %q, which the mapping does not have", c.DateColumn))
			}
		}
		if c.Role != RoleObservation && (c.Value != "" || c.ValueCodes != nil) {
			return fail(name, "value", "only observation columns take value or value_codes")
		}
		if c.Role == RoleObservation {
			switch c.Value {
			case "", "number":
				if c.Unit == "" {
					return fail(name, "unit", "missing: say the UCUM unit of the numbers")
				}
				if c.ValueCodes != nil {
					return fail(name, "value_codes", `only coded observations ("value": "code") take value_codes`)
				}
			case "code":
				if c.Unit != "" {
					return fail(name, "unit", "a coded observation has no unit")
				}
			default:
				return fail(name, "value", fmt.Sprintf(`unknown value type %q (want "number" or "code")`, c.Value))
			}
		}
	}
	if _, ok := firstOf[RolePatientID]; !ok {
		return &record.InputError{Source: m.Path, Where: "columns", Reason: "no patient_id column"}
	}
	return nil
}

func roleList() string {
	s := make([]string, len(Roles))
	for i, r := range Roles {
		s[i] = string(r)
	}
	return strings.Join(s, ", ")
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}
