package deid

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/medchain/medchain/record"
)

func asInputError(err error, target **record.InputError) bool { return errors.As(err, target) }

func TestLoadErrors(t *testing.T) {
	const id = `{"field": "patient_id", "method": "pseudonym"}`
	for _, tc := range []struct {
		name, src string
		where     string // InputError.Where
		field     string
		reason    string // substring of the reason
	}{
		{"unknown method", `{"profile": "p", "rules": [` + id + `, {"field": "age", "method": "blur"}]}`, "rules[1]", "age", `unknown method "blur"`},
		{"missing param", `{"profile": "p", "rules": [` + id + `, {"field": "dob", "method": "date_shift", "params": {"min_days": -5}}]}`, "rules[1]", "dob", `needs param "max_days"`},
		{"stray param", `{"profile": "p", "rules": [` + id + `, {"field": "zip", "method": "zip3", "params": {"top": 3}}]}`, "rules[1]", "zip", `takes no param "top"`},
		{"unknown param", `{"profile": "p", "rules": [` + id + `, {"field": "age", "method": "generalise", "params": {"topp": 90}}]}`, "rules[1]", "age", `unknown field "topp"`},
		{"param type", `{"profile": "p", "rules": [` + id + `, {"field": "age", "method": "generalise", "params": {"top": "90"}}]}`, "rules[1]", "age", "params.top: want a number"},
		{"fractional days", `{"profile": "p", "rules": [` + id + `, {"field": "dob", "method": "date_shift", "params": {"min_days": -1.5, "max_days": 3}}]}`, "rules[1]", "dob", "params.min_days: want a whole number"},
		{"duplicate field", `{"profile": "p", "rules": [` + id + `, {"field": "zip", "method": "zip3"}, {"field": "zip", "method": "redact"}]}`, "rules[2]", "zip", "rules[1] already has a rule"},
		{"unknown key", `{"profile": "p", "rulez": []}`, "", "", `unknown field "rulez"`},
		{"no profile", `{"rules": [` + id + `]}`, "profile", "", "name is required"},
		{"bad default", `{"profile": "p", "default": "zip3", "rules": [` + id + `]}`, "default", "", "must be"},
		{"no id rule", `{"profile": "p", "rules": []}`, "id_field", "patient_id", "needs a pseudonym rule"},
		{"id not pseudonym", `{"profile": "p", "id_field": "mrn", "rules": [{"field": "mrn", "method": "redact"}]}`, "id_field", "mrn", "needs a pseudonym rule"},
		{"keep without type", `{"profile": "p", "rules": [` + id + `, {"field": "sbp", "method": "keep"}]}`, "rules[1]", "sbp", "keep needs a type"},
		{"unknown type", `{"profile": "p", "rules": [` + id + `, {"field": "sbp", "method": "keep", "type": "float"}]}`, "rules[1]", "sbp", `unknown type "float"`},
		{"type mismatch", `{"profile": "p", "rules": [` + id + `, {"field": "zip", "method": "zip3", "type": "number"}]}`, "rules[1]", "zip", "cannot be stored as number"},
		{"bad prefix", `{"profile": "p", "rules": [` + id + `, {"field": "zip", "method": "zip3", "params": {"restricted": ["20"]}}]}`, "rules[1]", "zip", "not a 3-digit ZIP prefix"},
		{"empty generalise", `{"profile": "p", "rules": [` + id + `, {"field": "age", "method": "generalise"}]}`, "rules[1]", "age", "needs top, bottom, bin or map"},
		{"mixed generalise", `{"profile": "p", "rules": [` + id + `, {"field": "age", "method": "generalise", "params": {"top": 90, "map": {}}}]}`, "rules[1]", "age", "not both"},
		{"bottom above top", `{"profile": "p", "rules": [` + id + `, {"field": "age", "method": "generalise", "params": {"top": 9, "bottom": 10}}]}`, "rules[1]", "age", "below top"},
		{"short pseudonym", `{"profile": "p", "rules": [{"field": "patient_id", "method": "pseudonym", "params": {"length": 8}}]}`, "rules[0]", "patient_id", "16…64"},
		{"no field", `{"profile": "p", "rules": [` + id + `, {"method": "redact"}]}`, "rules[1]", "", "field is required"},
		{"trailing", `{"profile": "p", "rules": [` + id + `]} {}`, "", "", "trailing data"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "hospital-rules.json")
			if err := os.WriteFile(path, []byte(tc.src), 0o600); err != nil {
				t.Fatal(err)
			}
			_, err := Load(path)
			var ie *record.InputError
			if !errors.As(err, &ie) {
				t.Fatalf("err = %v, want an InputError", err)
			}
			if ie.Source != "hospital-rules.json" || ie.Where != tc.where || ie.Field != tc.field || !strings.Contains(ie.Reason, tc.reason) {
				t.Errorf("err = %q (where %q, field %q), want where %q, field %q, reason containing %q", err, ie.Where, ie.Field, tc.where, tc.field, tc.reason)
			}
		})
	}
}

func TestLoadSafeHarborFile(t *testing.T) {
	r, err := Load("profiles/safe_harbor.json")
	if err != nil {
		t.Fatal(err)
	}
	h1, _ := r.Hash()
	h2, _ := SafeHarbor().Hash()
	if h1 != h2 {
		t.Error("the file and SafeHarbor() hash differently")
	}
}

func TestHash(t *testing.T) {
	hash := func(src string) string {
		t.Helper()
		r, err := Parse("h.json", []byte(src))
		if err != nil {
			t.Fatal(err)
		}
		h, err := r.Hash()
		if err != nil {
			t.Fatal(err)
		}
		return h
	}
	base := hash(`{"profile": "a", "rules": [{"field": "patient_id", "method": "pseudonym"}, {"field": "zip", "method": "zip3"}, {"field": "age", "method": "generalise", "params": {"top": 90}}]}`)
	if len(base) != 64 || strings.Trim(base, "0123456789abcdef") != "" {
		t.Fatalf("hash %q is not hex SHA-256", base)
	}
	same := map[string]string{
		"reordered, renamed, annotated": `{"profile": "b", "description": "d", "rules": [{"field": "age", "method": "generalise", "params": {"top": 90.0}, "note": "n"}, {"field": "zip", "method": "zip3"}, {"field": "patient_id", "method": "pseudonym"}]}`,
		"defaults spelled out": `{"profile": "a", "id_field": "patient_id", "default": "redact", "rules": [{"field": "patient_id", "method": "pseudonym", "params": {"length": 32}},
			{"field": "zip", "method": "zip3", "params": {"restricted": ["893", "036", "059", "063", "102", "203", "556", "692", "790", "821", "823", "830", "831", "878", "879", "884", "890"]}},
			{"field": "age", "method": "generalise", "params": {"top": 90}, "type": "number"}]}`,
		"redact rule repeating the default": `{"profile": "a", "rules": [{"field": "patient_id", "method": "pseudonym"}, {"field": "zip", "method": "zip3"}, {"field": "age", "method": "generalise", "params": {"top": 90}}, {"field": "ssn", "method": "redact"}]}`,
	}
	for name, src := range same {
		if h := hash(src); h != base {
			t.Errorf("%s: hash changed", name)
		}
	}
	different := map[string]string{
		"top":        `{"profile": "a", "rules": [{"field": "patient_id", "method": "pseudonym"}, {"field": "zip", "method": "zip3"}, {"field": "age", "method": "generalise", "params": {"top": 85}}]}`,
		"restricted": `{"profile": "a", "rules": [{"field": "patient_id", "method": "pseudonym"}, {"field": "zip", "method": "zip3", "params": {"restricted": ["203"]}}, {"field": "age", "method": "generalise", "params": {"top": 90}}]}`,
		"default":    `{"profile": "a", "default": "keep", "rules": [{"field": "patient_id", "method": "pseudonym"}, {"field": "zip", "method": "zip3"}, {"field": "age", "method": "generalise", "params": {"top": 90}}]}`,
		"type":       `{"profile": "a", "rules": [{"field": "patient_id", "method": "pseudonym"}, {"field": "zip", "method": "zip3"}, {"field": "age", "method": "generalise", "params": {"top": 90}, "type": "integer"}]}`,
		"length":     `{"profile": "a", "rules": [{"field": "patient_id", "method": "pseudonym", "params": {"length": 64}}, {"field": "zip", "method": "zip3"}, {"field": "age", "method": "generalise", "params": {"top": 90}}]}`,
		"extra rule": `{"profile": "a", "rules": [{"field": "patient_id", "method": "pseudonym"}, {"field": "zip", "method": "zip3"}, {"field": "age", "method": "generalise", "params": {"top": 90}}, {"field": "sex", "method": "keep", "type": "code"}]}`,
	}
	for name, src := range different {
		if h := hash(src); h == base {
			t.Errorf("%s: hash unchanged", name)
		}
	}
}
