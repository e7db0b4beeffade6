package deid

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/medchain/medchain/record"
	"github.com/medchain/medchain/vocab"
)

// Rules is a de-identification profile as a data manager writes it. See the
// package documentation for the file format.
type Rules struct {
	Profile     string `json:"profile"`
	Description string `json:"description,omitempty"`
	// IDField names the field that identifies the patient (default
	// "patient_id"). It must have a pseudonym rule; its pseudonym becomes
	// the row's Pseudonym, not a column, and it seeds date_shift and perturb.
	IDField string `json:"id_field,omitempty"`
	// Default is the method for fields no rule names: "redact" (the
	// default) or "keep". Kept-by-default fields are stored as text.
	Default string `json:"default,omitempty"`
	Rules   []Rule `json:"rules"`

	// Source names the file the rules came from, for error messages.
	Source string `json:"-"`
}

// Rule says what happens to one field.
type Rule struct {
	Field  string `json:"field"`
	Method string `json:"method"`
	Params Params `json:"params,omitzero"`
	// Type is the schema type of the output column (one of
	// vocab.FieldTypes). Required for keep, which cannot guess it;
	// other methods have a natural type used when Type is empty.
	Type string `json:"type,omitempty"`
	// Note is for people (e.g. the HIPAA identifier class); it does not
	// change the output, so it is not part of the profile hash.
	Note string `json:"note,omitempty"`
}

// Params are the settings of a rule's method. Which ones a method takes is
// in the package documentation; any other is an error.
type Params struct {
	MinDays    *int              `json:"min_days,omitempty"`   // date_shift
	MaxDays    *int              `json:"max_days,omitempty"`   // date_shift
	Length     *int              `json:"length,omitempty"`     // pseudonym: hex characters kept
	Top        *float64          `json:"top,omitempty"`        // generalise: values ≥ top become top
	Bottom     *float64          `json:"bottom,omitempty"`     // generalise: values ≤ bottom become bottom
	Bin        *float64          `json:"bin,omitempty"`        // generalise: bin width
	Map        map[string]string `json:"map,omitempty"`        // generalise: category → category
	Other      *string           `json:"other,omitempty"`      // generalise: category for unmapped values (else null)
	Max        *float64          `json:"max,omitempty"`        // perturb: noise bound
	Decimals   *int              `json:"decimals,omitempty"`   // perturb: round the result
	Restricted []string          `json:"restricted,omitempty"` // zip3: 3-digit areas that become "000"
}

// The methods.
const (
	Keep       = "keep"
	Redact     = "redact"
	DateShift  = "date_shift"
	YearOnly   = "year_only"
	Pseudonym  = "pseudonym"
	Generalise = "generalise"
	Perturb    = "perturb"
	ZIP3       = "zip3"
)

// Methods lists every method.
var Methods = []string{Keep, Redact, DateShift, YearOnly, Pseudonym, Generalise, Perturb, ZIP3}

// paramNames says which params each method accepts and which it requires.
var paramNames = map[string]struct{ required, optional []string }{
	Keep:       {},
	Redact:     {},
	DateShift:  {required: []string{"min_days", "max_days"}},
	YearOnly:   {},
	Pseudonym:  {optional: []string{"length"}},
	Generalise: {optional: []string{"top", "bottom", "bin", "map", "other"}},
	Perturb:    {required: []string{"max"}, optional: []string{"decimals"}},
	ZIP3:       {optional: []string{"restricted"}},
}

// HIPAARestrictedZIP3 are the 3-digit ZIP areas with 20,000 people or fewer
// (2000 Census, as listed by HHS for Safe Harbor); they become "000".
var HIPAARestrictedZIP3 = []string{"036", "059", "063", "102", "203", "556", "692", "790", "821", "823", "830", "831", "878", "879", "884", "890", "893"}

// DefaultPseudonymLength is the pseudonym length in hex characters (128 bits).
const DefaultPseudonymLength = 32

// DefaultIDField is the patient id field when the rules do not name one.
const DefaultIDField = "patient_id"

// Load reads a rules file strictly: unknown keys, unknown methods, missing
// or stray params and duplicate fields are errors naming the file and rule.
func Load(path string) (*Rules, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("deid: %w", err)
	}
	return Parse(filepath.Base(path), b)
}

// Parse is Load for rules already in memory; name is used in errors.
func Parse(name string, data []byte) (*Rules, error) {
	var file struct {
		Profile     string            `json:"profile"`
		Description string            `json:"description"`
		IDField     string            `json:"id_field"`
		Default     string            `json:"default"`
		Rules       []json.RawMessage `json:"rules"`
	}
	if err := strictDecode(data, &file); err != nil {
		return nil, &record.InputError{Source: name, Reason: err.Error()}
	}
	r := &Rules{Profile: file.Profile, Description: file.Description, IDField: file.IDField, Default: file.Default, Source: name}
	for i, raw := range file.Rules {
		var ru Rule
		if err := strictDecode(raw, &ru); err != nil {
			// Name the field if the rule has one, so the data manager
			// finds the rule by what it is about, not only by its place.
			var named struct{ Field string }
			json.Unmarshal(raw, &named)
			return nil, &record.InputError{Source: name, Where: fmt.Sprintf("rules[%d]", i), Field: named.Field, Reason: err.Error()}
		}
		r.Rules = append(r.Rules, ru)
	}
	if _, err := r.compile(); err != nil {
		return nil, err
	}
	return r, nil
}

func strictDecode(data []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		var te *json.UnmarshalTypeError
		if errors.As(err, &te) && te.Field != "" {
			return fmt.Errorf("%s: want %s", te.Field, jsonKind(te.Type.Kind().String()))
		}
		return err
	}
	if _, err := dec.Token(); err != io.EOF {
		return errors.New("trailing data after the JSON object")
	}
	return nil
}

func jsonKind(goKind string) string {
	switch goKind {
	case "int":
		return "a whole number"
	case "float64":
		return "a number"
	case "string":
		return "a string"
	case "map":
		return "an object"
	case "slice":
		return "a list"
	}
	return goKind
}

// Hash is the hex SHA-256 of the profile's canonical encoding: everything
// that changes the output (id field, default, each rule's field, method,
// resolved type and params with defaults filled in), with rules sorted by
// field. Names, descriptions, notes, rule order and redact rules that
// repeat a redact default do not count. This is
// the de-identification profile hash published on the ledger.
func (r *Rules) Hash() (string, error) {
	c, err := r.compile()
	if err != nil {
		return "", err
	}
	b, err := json.Marshal(c.canonical())
	if err != nil {
		return "", err
	}
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:]), nil
}

// compiled is a validated rule set, ready to apply.
type compiled struct {
	idField string
	def     string
	byField map[string]*rule
}

// rule is a validated Rule with its params resolved.
type rule struct {
	field, method, typ string
	minDays, maxDays   int
	length             int
	top, bottom        *float64
	bin                float64
	mapping            map[string]string
	other              *string
	max                float64
	decimals           *int
	restricted         map[string]bool
}

func (r *Rules) compile() (*compiled, error) {
	fail := func(where, field, format string, args ...any) error {
		return &record.InputError{Source: r.Source, Where: where, Field: field, Reason: fmt.Sprintf(format, args...)}
	}
	if strings.TrimSpace(r.Profile) == "" {
		return nil, fail("profile", "", "a profile name is required")
	}
	c := &compiled{idField: r.IDField, def: r.Default, byField: map[string]*rule{}}
	if c.idField == "" {
		c.idField = DefaultIDField
	}
	if c.def == "" {
		c.def = Redact
	}
	if c.def != Redact && c.def != Keep {
		return nil, fail("default", "", "must be %q or %q, not %q", Redact, Keep, c.def)
	}
	seen := map[string]int{}
	for i, ru := range r.Rules {
		where := fmt.Sprintf("rules[%d]", i)
		if ru.Field == "" {
			return nil, fail(where, "", "field is required")
		}
		if j, dup := seen[ru.Field]; dup {
			return nil, fail(where, ru.Field, "duplicate field: rules[%d] already has a rule for it", j)
		}
		seen[ru.Field] = i
		cr, err := compileRule(ru)
		if err != nil {
			return nil, fail(where, ru.Field, "%s", err)
		}
		c.byField[ru.Field] = cr
	}
	if id := c.byField[c.idField]; id == nil || id.method != Pseudonym {
		return nil, fail("id_field", c.idField, "the patient id field needs a %s rule", Pseudonym)
	}
	return c, nil
}

func compileRule(ru Rule) (*rule, error) {
	names, ok := paramNames[ru.Method]
	if !ok {
		return nil, fmt.Errorf("unknown method %q (methods: %s)", ru.Method, strings.Join(Methods, ", "))
	}
	given := ru.Params.given()
	for _, p := range given {
		if !slices.Contains(names.required, p) && !slices.Contains(names.optional, p) {
			return nil, fmt.Errorf("%s takes no param %q", ru.Method, p)
		}
	}
	for _, p := range names.required {
		if !slices.Contains(given, p) {
			return nil, fmt.Errorf("%s needs param %q", ru.Method, p)
		}
	}
	p := ru.Params
	cr := &rule{field: ru.Field, method: ru.Method}
	natural := ""
	switch ru.Method {
	case Keep:
		if ru.Type == "" {
			return nil, fmt.Errorf("keep needs a type (%s)", strings.Join(vocab.FieldTypes, ", "))
		}
	case Redact:
		if ru.Type != "" {
			return nil, errors.New("redact makes no column, so it takes no type")
		}
	case DateShift:
		cr.minDays, cr.maxDays = *p.MinDays, *p.MaxDays
		if cr.minDays > cr.maxDays {
			return nil, errors.New("min_days is greater than max_days")
		}
		if cr.maxDays-cr.minDays > 100*366 {
			return nil, errors.New("min_days…max_days spans more than a century")
		}
		natural = "string"
	case YearOnly:
		natural = "year"
	case Pseudonym:
		cr.length = DefaultPseudonymLength
		if p.Length != nil {
			cr.length = *p.Length
		}
		if cr.length < 16 || cr.length > 64 {
			return nil, errors.New("length must be 16…64 hex characters")
		}
		natural = "string"
	case Generalise:
		cr.top, cr.bottom, cr.mapping, cr.other = p.Top, p.Bottom, p.Map, p.Other
		if p.Bin != nil {
			if *p.Bin <= 0 {
				return nil, errors.New("bin must be positive")
			}
			cr.bin = *p.Bin
		}
		numeric := p.Top != nil || p.Bottom != nil || p.Bin != nil
		switch {
		case numeric && p.Map != nil:
			return nil, errors.New("generalise either numbers (top, bottom, bin) or categories (map), not both")
		case p.Map != nil:
			natural = "code"
		case p.Other != nil:
			return nil, errors.New("other goes with map")
		case numeric:
			natural = "number"
		default:
			return nil, errors.New("generalise needs top, bottom, bin or map")
		}
		if p.Top != nil && p.Bottom != nil && *p.Bottom >= *p.Top {
			return nil, errors.New("bottom must be below top")
		}
	case Perturb:
		cr.max, cr.decimals = *p.Max, p.Decimals
		if cr.max <= 0 {
			return nil, errors.New("max must be positive")
		}
		if p.Decimals != nil && (*p.Decimals < 0 || *p.Decimals > 9) {
			return nil, errors.New("decimals must be 0…9")
		}
		natural = "number"
	case ZIP3:
		list := p.Restricted
		if list == nil {
			list = HIPAARestrictedZIP3
		}
		cr.restricted = map[string]bool{}
		for _, z := range list {
			if len(z) != 3 || strings.Trim(z, "0123456789") != "" {
				return nil, fmt.Errorf("restricted: %q is not a 3-digit ZIP prefix", z)
			}
			cr.restricted[z] = true
		}
		natural = "code"
	}
	cr.typ = natural
	if ru.Type != "" {
		if !slices.Contains(vocab.FieldTypes, ru.Type) {
			return nil, fmt.Errorf("unknown type %q (types: %s)", ru.Type, strings.Join(vocab.FieldTypes, ", "))
		}
		if natural != "" && kindOf(ru.Type) != kindOf(natural) {
			return nil, fmt.Errorf("%s makes a %s, which cannot be stored as %s", ru.Method, natural, ru.Type)
		}
		cr.typ = ru.Type
	}
	return cr, nil
}

// given lists the params that are set, by their JSON names.
func (p Params) given() []string {
	var out []string
	add := func(set bool, name string) {
		if set {
			out = append(out, name)
		}
	}
	add(p.MinDays != nil, "min_days")
	add(p.MaxDays != nil, "max_days")
	add(p.Length != nil, "length")
	add(p.Top != nil, "top")
	add(p.Bottom != nil, "bottom")
	add(p.Bin != nil, "bin")
	add(p.Map != nil, "map")
	add(p.Other != nil, "other")
	add(p.Max != nil, "max")
	add(p.Decimals != nil, "decimals")
	add(p.Restricted != nil, "restricted")
	return out
}

// kindOf is the record.Value kind a schema type holds.
func kindOf(typ string) record.Kind {
	switch typ {
	case "number", "integer", "year":
		return record.KindNumber
	case "boolean":
		return record.KindBool
	}
	return record.KindText
}

// canonical is the hashed form: resolved, defaults filled in, sorted.
func (c *compiled) canonical() any {
	type canonRule struct {
		Field      string            `json:"field"`
		Method     string            `json:"method"`
		Type       string            `json:"type,omitempty"`
		MinDays    *int              `json:"min_days,omitempty"`
		MaxDays    *int              `json:"max_days,omitempty"`
		Length     int               `json:"length,omitempty"`
		Top        *float64          `json:"top,omitempty"`
		Bottom     *float64          `json:"bottom,omitempty"`
		Bin        float64           `json:"bin,omitempty"`
		Map        map[string]string `json:"map,omitempty"`
		Other      *string           `json:"other,omitempty"`
		Max        float64           `json:"max,omitempty"`
		Decimals   *int              `json:"decimals,omitempty"`
		Restricted []string          `json:"restricted,omitempty"`
	}
	fields := make([]string, 0, len(c.byField))
	for f := range c.byField {
		fields = append(fields, f)
	}
	slices.Sort(fields)
	rules := make([]canonRule, 0, len(fields))
	for _, f := range fields {
		r := c.byField[f]
		if r.method == Redact && c.def == Redact {
			continue // the same as no rule
		}
		cr := canonRule{Field: r.field, Method: r.method, Type: r.typ, Length: r.length, Top: r.top, Bottom: r.bottom,
			Bin: r.bin, Map: r.mapping, Other: r.other, Max: r.max, Decimals: r.decimals}
		if r.method == DateShift {
			cr.MinDays, cr.MaxDays = &r.minDays, &r.maxDays
		}
		if r.restricted != nil {
			cr.Restricted = make([]string, 0, len(r.restricted))
			for z := range r.restricted {
				cr.Restricted = append(cr.Restricted, z)
			}
			slices.Sort(cr.Restricted)
		}
		rules = append(rules, cr)
	}
	return struct {
		Format  string      `json:"format"`
		IDField string      `json:"id_field"`
		Default string      `json:"default"`
		Rules   []canonRule `json:"rules"`
	}{"medchain-deid/1", c.idField, c.def, rules}
}
