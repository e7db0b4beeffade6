package deid

import (
	"encoding/binary"
	"encoding/hex"
	"errors"
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/medchain/medchain/record"
)

// outcome is what a rule did to one value, for the report. Every
// application counts as applied; the others are details worth a line.
type outcome uint8

const (
	applied outcome = iota
	topCoded
	bottomCoded
	unmapped
	restrictedZIP
	invalidZIP
	numOutcomes
)

func (o outcome) label(method string) string {
	switch o {
	case topCoded:
		return method + ": top-coded"
	case bottomCoded:
		return method + ": bottom-coded"
	case unmapped:
		return method + ": unmapped category"
	case restrictedZIP:
		return method + ": restricted area → 000"
	case invalidZIP:
		return method + ": not a US ZIP → 000"
	}
	return method
}

// patient carries what the keyed methods derive from the patient id.
type patient struct {
	d  *Deidentifier
	id string
}

// apply runs the rule on a non-null value. Every call that succeeds counts
// as applied; the outcome it returns is a detail on top (applied if none).
// Errors say what is wrong without the value, which may identify a patient.
func (r *rule) apply(v record.Value, p patient) (record.Value, outcome, error) {
	switch r.method {
	case Keep:
		if v.Kind != kindOf(r.typ) {
			return v, 0, errors.New("value is " + kindName(v.Kind) + " but the rule's type is " + r.typ)
		}
		return v, applied, nil
	case DateShift:
		t, err := fullDate(v)
		if err != nil {
			return v, 0, err
		}
		return record.Str(t.AddDate(0, 0, p.d.shiftDays(p.id, r)).Format(time.DateOnly)), applied, nil
	case YearOnly:
		y, err := year(v)
		if err != nil {
			return v, 0, err
		}
		return record.Num(float64(y)), applied, nil
	case Pseudonym:
		s, err := text(v)
		if err != nil {
			return v, 0, err
		}
		return record.Str(p.d.pseudonym(r.field, s, r.length)), applied, nil
	case Generalise:
		if r.mapping != nil {
			return r.generaliseCategory(v)
		}
		if v.Kind != record.KindNumber {
			return v, 0, errors.New("generalise with top, bottom or bin needs a number")
		}
		g, o := r.generaliseNumber(v.Num)
		return record.Num(g), o, nil
	case Perturb:
		if v.Kind != record.KindNumber {
			return v, 0, errors.New("perturb needs a number")
		}
		x := v.Num + r.max*p.d.unitNoise(r.field, p.id)
		switch {
		case r.decimals != nil:
			x = roundTo(x, *r.decimals)
		case r.typ == "integer":
			x = math.Round(x)
		}
		return record.Num(x), applied, nil
	case ZIP3:
		return r.zip3(v)
	}
	panic("deid: method without an implementation: " + r.method)
}

// generaliseNumber top- and bottom-codes, then bins what lies between: a
// top-coded 90 stays 90 whatever the bin width, so "90+" keeps its meaning.
func (r *rule) generaliseNumber(x float64) (float64, outcome) {
	switch {
	case r.top != nil && x >= *r.top:
		return *r.top, topCoded
	case r.bottom != nil && x <= *r.bottom:
		return *r.bottom, bottomCoded
	case r.bin > 0:
		return math.Floor(x/r.bin) * r.bin, applied
	}
	return x, applied
}

func (r *rule) generaliseCategory(v record.Value) (record.Value, outcome, error) {
	s, err := text(v)
	if err != nil {
		return v, 0, err
	}
	if g, ok := r.mapping[s]; ok {
		return record.Str(g), applied, nil
	}
	// An unlisted category may be rare enough to single someone out, so
	// it never passes through unchanged.
	if r.other != nil {
		return record.Str(*r.other), unmapped, nil
	}
	return record.Null(), unmapped, nil
}

// zip3 keeps the 3-digit area of a US ZIP or ZIP+4. Restricted areas and
// anything that is not a ZIP become "000": the geography is suppressed
// rather than the row lost, and the report counts both. A blank ZIP is
// missing and stays missing.
func (r *rule) zip3(v record.Value) (record.Value, outcome, error) {
	var s string
	switch v.Kind {
	case record.KindText:
		s = strings.TrimSpace(v.Str)
		if s == "" {
			return record.Null(), applied, nil
		}
	case record.KindNumber: // a CSV reader may have parsed the ZIP, dropping leading zeros
		if v.Num != math.Trunc(v.Num) || v.Num < 0 || v.Num > 99999 {
			return record.Str("000"), invalidZIP, nil
		}
		s = leftPad(strconv.Itoa(int(v.Num)), 5)
	default:
		return v, 0, errors.New("zip3 needs a ZIP code as text")
	}
	switch {
	case !isZIP(s):
		return record.Str("000"), invalidZIP, nil
	case r.restricted[s[:3]]:
		return record.Str("000"), restrictedZIP, nil
	}
	return record.Str(s[:3]), applied, nil
}

// isZIP accepts 12345, 12345-6789 and 123456789.
func isZIP(s string) bool {
	switch {
	case len(s) == 5 || len(s) == 9:
		return digits(s)
	case len(s) == 10:
		return digits(s[:5]) && s[5] == '-' && digits(s[6:])
	}
	return false
}

func digits(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return s != ""
}

func leftPad(s string, n int) string {
	for len(s) < n {
		s = "0" + s
	}
	return s
}

// fullDate reads YYYY-MM-DD, with or without a time after it (the time is
// dropped: it is a date element too).
func fullDate(v record.Value) (time.Time, error) {
	if v.Kind != record.KindText || len(v.Str) < 10 {
		return time.Time{}, errors.New("date_shift needs a full date (YYYY-MM-DD)")
	}
	t, err := time.Parse(time.DateOnly, v.Str[:10])
	if err != nil || (len(v.Str) > 10 && v.Str[10] != 'T' && v.Str[10] != ' ') {
		return time.Time{}, errors.New("date_shift needs a full date (YYYY-MM-DD)")
	}
	return t, nil
}

// year reads the year of YYYY, YYYY-MM, YYYY-MM-DD or a date-time.
func year(v record.Value) (int, error) {
	bad := errors.New("year_only needs a date (YYYY, YYYY-MM-DD or a date-time)")
	if v.Kind != record.KindText || len(v.Str) < 4 || !digits(v.Str[:4]) || (len(v.Str) > 4 && v.Str[4] != '-') {
		return 0, bad
	}
	y, _ := strconv.Atoi(v.Str[:4])
	return y, nil
}

func text(v record.Value) (string, error) {
	switch v.Kind {
	case record.KindText:
		return v.Str, nil
	case record.KindNumber: // numeric ids and codes read from CSV
		return strconv.FormatFloat(v.Num, 'f', -1, 64), nil
	}
	return "", errors.New("value is " + kindName(v.Kind) + ", not text")
}

// asText renders a value kept by default, whose column is text.
func asText(v record.Value) record.Value {
	switch v.Kind {
	case record.KindNumber:
		return record.Str(strconv.FormatFloat(v.Num, 'f', -1, 64))
	case record.KindBool:
		return record.Str(strconv.FormatBool(v.B))
	}
	return v
}

func kindName(k record.Kind) string {
	switch k {
	case record.KindNumber:
		return "a number"
	case record.KindText:
		return "text"
	case record.KindBool:
		return "a boolean"
	}
	return "null"
}

func roundTo(x float64, decimals int) float64 {
	p := math.Pow10(decimals)
	return math.Round(x*p) / p
}

// The keyed derivations. Each HMAC input starts with a label and NUL, so
// no two uses of the secret can produce the same MAC input.

// pseudonym is hex(HMAC-SHA256(secret, "pseudonym\x00" field "\x00" value)),
// truncated.
func (d *Deidentifier) pseudonym(field, value string, length int) string {
	sum := d.mac("pseudonym", field, value)
	return hex.EncodeToString(sum[:])[:length]
}

// shiftDays is the patient's date shift: HMAC(secret, "date_shift\x00" id)
// reduced into [min, max]. It ignores the field, so every date of one
// patient moves by the same number of days and intervals survive. The
// modulo bias is below 2⁻⁴⁰ for any allowed range.
func (d *Deidentifier) shiftDays(id string, r *rule) int {
	sum := d.mac("date_shift", id)
	span := uint64(r.maxDays - r.minDays + 1)
	return r.minDays + int(binary.BigEndian.Uint64(sum[:8])%span)
}

// unitNoise is uniform in [-1, 1), from HMAC(secret, "perturb\x00" field
// "\x00" id): the same patient and field always get the same noise, so
// re-ingesting cannot be averaged away.
func (d *Deidentifier) unitNoise(field, id string) float64 {
	sum := d.mac("perturb", field, id)
	u := float64(binary.BigEndian.Uint64(sum[:8])>>11) / (1 << 53)
	return 2*u - 1
}
