package record

import (
	"strings"
	"testing"
	"time"
)

func TestParseDate(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want time.Time // zero: an error
	}{
		{"1969-03-27", time.Date(1969, 3, 27, 0, 0, 0, 0, time.UTC)},
		{"1969-03", time.Date(1969, 3, 1, 0, 0, 0, 0, time.UTC)},
		{"1969", time.Date(1969, 1, 1, 0, 0, 0, 0, time.UTC)},
		{"2019-03-28T12:26:53-07:00", time.Date(2019, 3, 28, 19, 26, 53, 0, time.UTC)},
		{"2019-03-28T12:26:53.796-07:00", time.Date(2019, 3, 28, 19, 26, 53, 796e6, time.UTC)},
		{"2019-03-28T12:26:53Z", time.Date(2019, 3, 28, 12, 26, 53, 0, time.UTC)},
		{"2019-03-28T12:26:53", time.Date(2019, 3, 28, 12, 26, 53, 0, time.UTC)},
		{"2019-03-28 12:26:53", time.Date(2019, 3, 28, 12, 26, 53, 0, time.UTC)},
		{"2019-03-28T12:26", time.Date(2019, 3, 28, 12, 26, 0, 0, time.UTC)},
		{"", time.Time{}},
		{"1969-13-27", time.Time{}},
		{"27/03/1969", time.Time{}},
		{"1969-3-27", time.Time{}},
		{"69", time.Time{}},
		{"yesterday", time.Time{}},
	} {
		got, err := ParseDate(tc.in)
		if tc.want.IsZero() {
			if err == nil || strings.Contains(err.Error(), tc.in) && tc.in != "" {
				t.Errorf("ParseDate(%q) = %v, %v; want an error not repeating the input", tc.in, got, err)
			}
			continue
		}
		if err != nil || !got.Equal(tc.want) {
			t.Errorf("ParseDate(%q) = %v, %v; want %v", tc.in, got, err, tc.want)
		}
	}
}
