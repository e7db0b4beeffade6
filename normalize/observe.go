package normalize

import (
	"errors"
	"fmt"

	"github.com/medchain/medchain/vocab"
)

// Why one observation, checked on its own, is refused. Observe wraps one
// of these; the messages name the code and unit, never the value.
var (
	// ErrUnknownCode: the LOINC code is not one of the numeric measures.
	ErrUnknownCode = errors.New("not a LOINC code of a numeric measure")
	// ErrUnknownUnit: the unit is not one the measure accepts.
	ErrUnknownUnit = errors.New("unit not accepted for the measure")
	// ErrImplausible: the converted value is outside the plausible range.
	ErrImplausible = errors.New("implausible value")
)

// Observe checks one observation — a LOINC code, a UCUM unit and a value —
// by the same tables and plausible ranges as Normalize (c's ranges where
// it overrides them; RefDate is not needed), and returns the research
// field it measures and the value converted to that field's unit. Streams
// of single readings (medical devices) are checked this way, one at a
// time, so that a reading is refused on the same terms as a row would be.
func (c Config) Observe(code, unit string, value float64) (vocab.Field, float64, error) {
	i, ok := byCode[code]
	if !ok {
		return vocab.Field{}, 0, fmt.Errorf("LOINC %s: %w", code, ErrUnknownCode)
	}
	m := &measures[i]
	conv, ok := m.units[unit]
	if !ok {
		return vocab.Field{}, 0, fmt.Errorf("%s: %w", unitReason(m, unit), ErrUnknownUnit)
	}
	f := schema[fieldIndex(m.field.Name)]
	v := conv(value)
	// Written so that NaN, which fails every comparison, is refused.
	if r := c.rangeOf(m.field.Name, Range{m.min, m.max}); !(v >= r.Min && v <= r.Max) {
		return f, 0, fmt.Errorf("%s: outside %g–%g %s: %w", m.field.Name, r.Min, r.Max, m.field.Unit, ErrImplausible)
	}
	return f, v, nil
}

// fieldIndex is the index in schema of a research field.
func fieldIndex(name string) int {
	for i, f := range schema {
		if f.Name == name {
			return i
		}
	}
	panic("normalize: no research field " + name)
}
