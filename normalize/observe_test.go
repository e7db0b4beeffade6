package normalize_test

import (
	"errors"
	"math"
	"strings"
	"testing"

	"github.com/medchain/medchain/normalize"
)

func TestObserve(t *testing.T) {
	c := normalize.DefaultConfig()
	f, v, err := c.Observe("8480-6", "kPa", 16)
	if err != nil || f.Name != "sbp" || f.Unit != "mm[Hg]" || math.Abs(v-120.01) > 0.01 {
		t.Fatalf("sbp 16 kPa: field %q unit %q value %g err %v", f.Name, f.Unit, v, err)
	}
	if f, v, err := c.Observe("8867-4", "/min", 72); err != nil || f.Name != "heart_rate" || v != 72 {
		t.Fatalf("heart rate: %q %g %v", f.Name, v, err)
	}
	for _, tc := range []struct {
		code, unit string
		value      float64
		want       error
	}{
		{"1234-5", "/min", 72, normalize.ErrUnknownCode},
		{"8867-4", "mmHg", 72, normalize.ErrUnknownUnit},
		{"8867-4", "/min", 500, normalize.ErrImplausible},
		{"8867-4", "/min", math.NaN(), normalize.ErrImplausible},
		{"8480-6", "mm[Hg]", math.Inf(1), normalize.ErrImplausible},
	} {
		_, _, err := c.Observe(tc.code, tc.unit, tc.value)
		if !errors.Is(err, tc.want) {
			t.Errorf("%s %s: got %v, want %v", tc.code, tc.unit, err, tc.want)
		}
		if err != nil && strings.Contains(err.Error(), "500") {
			t.Errorf("the error names the value: %v", err)
		}
	}
	// The configuration's ranges apply, as in Normalize.
	c.Plausible["heart_rate"] = normalize.Range{Min: 30, Max: 200}
	if _, _, err := c.Observe("8867-4", "/min", 250); !errors.Is(err, normalize.ErrImplausible) {
		t.Fatalf("override ignored: %v", err)
	}
}
