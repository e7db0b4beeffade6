package zkmodel_test

import (
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/medchain/medchain/analysis"
	"github.com/medchain/medchain/compute"
	"github.com/medchain/medchain/outputctl"
	"github.com/medchain/medchain/zkmodel"
)

func writeFile(t *testing.T, body string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "result.json")
	if err := os.WriteFile(p, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// A compute job's released logistic model can be committed directly: its
// coefficients become the weights, its feature names the features, and the
// job is recorded as the one that trained it. Other releases are refused.
func TestModelFromJobResult(t *testing.T) {
	mf, job, err := zkmodel.ReadJobResult(writeFile(t, `{"job": 7, "release_kind": "regression", "release": {"regression": {"model":
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
		`[]`: "no result",
		`{"job": 1, "release_kind": "regression", "release": {}, "colour": "red"}`: "unknown field",
	} {
		_, _, err := zkmodel.ReadJobResult(writeFile(t, body))
		var ie *zkmodel.Error
		if err == nil || !strings.Contains(err.Error(), want) || !errors.As(err, &ie) || ie.Input != zkmodel.InputJobResult {
			t.Errorf("%s: err = %v, want a job-result error with %q", body, err, want)
		}
	}
}

// resultFile is what `medchain job result --out` writes for a job whose
// sites released these models: a JSON list of whole decrypted results,
// with everything a regression release carries besides the model.
func resultFile(t *testing.T, models ...analysis.Model) string {
	t.Helper()
	return writeFile(t, string(resultJSON(t, models...)))
}

func resultJSON(t testing.TB, models ...analysis.Model) []byte {
	t.Helper()
	var rs []*compute.Result
	for i, m := range models {
		rel, err := json.Marshal(outputctl.RegressionRelease{
			Regression:        analysis.Regression{Link: m.Link, Outcome: "cvd_10y", StatName: "z", N: 1200, Events: 130, Model: m},
			Noisy:             true,
			EpsilonSpentMilli: 500,
		})
		if err != nil {
			t.Fatal(err)
		}
		rs = append(rs, &compute.Result{Format: "medchain-result/1", Job: 12, Dataset: []string{"st-mary-cvd", "northside-cvd"}[i],
			Version: 1, Analysis: "logistic_regression", Purpose: "research", Release: rel, ReleaseKind: compute.KindPooledRegression})
	}
	b, err := json.MarshalIndent(rs, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	return append(b, '\n')
}

// The file `medchain job result --out` writes — a list of whole results —
// is read as it is: a pooled study's sites all release the same fit; sites
// that released different models are refused, naming how to take one.
func TestModelFromJobResultFile(t *testing.T) {
	m := analysis.Model{Link: analysis.Logit, Features: []string{"age", "sbp"}, Intercept: -8, Coefficients: []float64{0.06, 0.02}}
	mf, job, err := zkmodel.ReadJobResult(resultFile(t, m, m))
	if err != nil {
		t.Fatal(err)
	}
	if job != 12 || mf.Intercept != -8 || !slices.Equal(mf.Weights, m.Coefficients) || len(mf.Features) != 2 || mf.Features[0].Name != "age" {
		t.Fatalf("got job %d, model %+v", job, mf)
	}
	other := m
	other.Coefficients = []float64{0.06, 0.03}
	if _, _, err := zkmodel.ReadJobResult(resultFile(t, m, other)); err == nil || !strings.Contains(err.Error(), "--dataset") {
		t.Fatalf("two different models: %v", err)
	}
}

func TestParseFeature(t *testing.T) {
	f, err := zkmodel.ParseFeature("sbp:loinc:8480-6:mm[Hg]")
	if err != nil || f.Name != "sbp" || f.System != "loinc" || f.Code != "8480-6" || f.Unit != "mm[Hg]" {
		t.Fatalf("%+v, %v", f, err)
	}
	if f, err := zkmodel.ParseFeature("age"); err != nil || f.Name != "age" || f.System != "" {
		t.Fatalf("%+v, %v", f, err)
	}
	for _, bad := range []string{"", ":loinc", "a:b:c:d:e"} {
		if _, err := zkmodel.ParseFeature(bad); err == nil {
			t.Errorf("%q was accepted", bad)
		}
	}
}

func TestRiskLabels(t *testing.T) {
	got := zkmodel.RiskLabels([]float64{0.05, 0.1, 0.2})
	if want := []string{"<5%", "5-10%", "10-20%", ">=20%"}; !slices.Equal(got, want) {
		t.Fatalf("got %q, want %q", got, want)
	}
	if got := zkmodel.RiskLabels([]float64{0.075}); !slices.Equal(got, []string{"<7.5%", ">=7.5%"}) {
		t.Fatalf("got %q", got)
	}
}
