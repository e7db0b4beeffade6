package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// A compute job's released logistic model can be committed directly: its
// coefficients become the weights, its feature names the features, and the
// job is recorded as the one that trained it. Other releases are refused.
func TestModelFromJobResult(t *testing.T) {
	write := func(body string) string {
		p := filepath.Join(t.TempDir(), "result.json")
		if err := os.WriteFile(p, []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	mf, job, err := modelFromJobResult(write(`{"job": 7, "release_kind": "regression", "release": {"regression": {"model":
		{"link": "logit", "features": ["age", "log(sbp)"], "intercept": -7.5, "coefficients": [0.05, 1.2]}}}}`))
	if err != nil {
		t.Fatal(err)
	}
	if job != 7 || mf.Intercept != -7.5 || len(mf.Weights) != 2 || mf.Weights[1] != 1.2 ||
		len(mf.Features) != 2 || mf.Features[1].Name != "log(sbp)" {
		t.Fatalf("got job %d, model %+v", job, mf)
	}
	for body, want := range map[string]string{
		`{"job": 1, "release_kind": "count", "release": {}}`: "not a regression",
		`{"job": 1, "release_kind": "regression", "release": {"regression": {"model":
			{"link": "cloglog", "features": ["age"], "intercept": 0, "coefficients": [1]}}}}`: "only logistic",
		`{"job": 1, "release_kind": "regression", "release": {"regression": {"model":
			{"link": "logit", "features": ["age", "sbp"], "intercept": 0, "coefficients": [1]}}}}`: "coefficients",
	} {
		if _, _, err := modelFromJobResult(write(body)); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%s: err = %v, want %q", body, err, want)
		}
	}
}
