package main

import (
	"bytes"
	"context"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
)

// TestDemo plays `medchain demo` end to end: three institutions publish,
// patients decide, the pooled study runs through the ledger, the result
// verifies, the tokens land. The consented cohort is known from the demo's
// own set-up: St Mary's 1,500 minus patient-2's refusal, Northside's 200
// enrolled (patient-3 revoked, the rest never opted in), Lakeview's 800.
func TestDemo(t *testing.T) {
	if testing.Short() {
		t.Skip("runs a whole network")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	var out bytes.Buffer
	if err := runDemo(ctx, filepath.Join(t.TempDir(), "home"), &out, false); err != nil {
		t.Fatalf("demo: %v\n%s", err, out.String())
	}
	text := out.String()
	for _, want := range []string{
		"job 0 completed",
		"pooled fit on 2499 consented patients",
		"rita-researcher      1000000 →    999760  (-240)",
		"st-mary-worker             0 →        10  (+10)",
		"st-mary-cvd        patient pool 30 tokens",
	} {
		if !strings.Contains(text, want) {
			t.Errorf("demo output lacks %q", want)
		}
	}
	if strings.Contains(text, "FAIL") {
		t.Error("a verification check failed")
	}
	if n := len(regexp.MustCompile(`(?m)^   ok   `).FindAllString(text, -1)); n != 12 {
		t.Errorf("%d verification checks passed, want 4 for each of 3 sites", n)
	}
	if t.Failed() {
		t.Log(text)
	}
}
