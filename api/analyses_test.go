package api_test

import (
	"encoding/json"
	"net/http"
	"os"
	"reflect"
	"strings"
	"testing"

	"github.com/medchain/medchain/analysis"
	"github.com/medchain/medchain/api"
	"github.com/medchain/medchain/compute"
	"github.com/medchain/medchain/jobparams"
	"github.com/medchain/medchain/ledger"
)

// TestValidateJob checks params against a dataset's schema through the
// API, before anything is signed: the jobparams check a worker makes.
func TestValidateJob(t *testing.T) {
	const ds = "api-validate"
	do(t, "st-mary-admin", &ledger.RegisterDataset{ID: ds, Version: 1, Title: "Validate", RecordBand: "1k-10k",
		Schema:      []ledger.Field{{Name: "age", Type: "integer"}, {Name: "sex", Type: "code"}, {Name: "cvd_10y", Type: "boolean"}},
		ContentRoot: testRoot, Locator: "vault://st-mary/validate"})
	body := func(analysis, params string) []byte {
		b, err := json.Marshal(api.ValidateRequest{Datasets: []string{ds}, Analysis: analysis, Params: json.RawMessage(params)})
		if err != nil {
			t.Fatal(err)
		}
		return b
	}

	status, b := call(t, "POST", "/v1/jobs/validate", body("cohort_count", `{"filter":[{"column":"age","op":">=","value":40}]}`))
	var v api.Validation
	if err := json.Unmarshal(b, &v); err != nil || status != http.StatusOK || !v.Valid || len(v.Versions) != 1 || v.Versions[0] != (api.CheckedVersion{Dataset: ds, Version: 1}) {
		t.Fatalf("valid params: %d %s", status, b)
	}

	for _, tc := range []struct {
		analysis, params      string
		param, reason, column string
		message               string
	}{
		{"cohort_count", `{"where":{"age":{"gte":40}}}`, "params.where", "unknown_parameter", "",
			`dataset api-validate: params.where: unknown parameter "where"; the analysis takes "filter"`},
		{"logistic_regression", `{"outcome":"cvd_10y","features":["age","sex"]}`, "params.features[1]", "wrong_type", "sex",
			`dataset api-validate: params.features[1]: column "sex" is a code column: declare it in factors, with its levels, to use it as a categorical predictor`},
		{"logistic_regression", `{"outcome":"cvd_10y","features":["sbp"]}`, "params.features[0]", "no_such_column", "",
			`dataset api-validate: params.features[0]: no column "sbp" in the dataset; its columns are "age", "sex", "cvd_10y"`},
		{"survival", `{"time":"cvd_time","event":"cvd_10y","grid":[5]}`, "params.time", "no_such_column", "",
			`dataset api-validate: params.time: no column "cvd_time" in the dataset; its columns are "age", "sex", "cvd_10y"`},
		{"code:ab", `{}`, "params.columns", "missing_parameter", "", `dataset api-validate: params.columns: columns is required`},
	} {
		e := apiErr(t, "POST", "/v1/jobs/validate", body(tc.analysis, tc.params), http.StatusBadRequest, "invalid_field")
		if e.Param != tc.param || e.Reason != tc.reason || e.Column != tc.column {
			t.Errorf("%s %s: got param %q reason %q column %q, want %q %q %q", tc.analysis, tc.params, e.Param, e.Reason, e.Column, tc.param, tc.reason, tc.column)
		}
		if !strings.Contains(e.Message, tc.message) {
			t.Errorf("%s %s: message %q, want %q", tc.analysis, tc.params, e.Message, tc.message)
		}
	}
	// With a purpose, an opt-in dataset nobody consented to is refused:
	// it has no rows for the job.
	policy := func(model string) {
		do(t, "st-mary-admin", &ledger.SetPolicy{Dataset: ds, Policy: ledger.Policy{
			Purposes: []string{"research"}, Requesters: ledger.Requesters{Kinds: []ledger.AccountKind{ledger.KindResearcher}},
			Analyses: ledger.Analyses{Builtins: []string{"cohort_count"}}, MinCohort: 11, EpsilonPerJobMilli: 400, EpsilonTotalMilli: 1000,
			Price: 20, Split: ledger.RewardSplit{InstitutionBps: 6000, PatientPoolBps: 3000, WorkerBps: 1000},
			Attestation: ledger.AttestSoftware, ConsentModel: model}})
	}
	policy(ledger.ConsentOptIn)
	withPurpose := []byte(`{"datasets":["` + ds + `"],"analysis":"cohort_count","params":{},"purpose":"research"}`)
	e := apiErr(t, "POST", "/v1/jobs/validate", withPurpose, http.StatusBadRequest, "invalid_field")
	if e.Reason != "no_consent" || e.Param != "datasets" || !strings.Contains(e.Message, "dataset api-validate: the dataset is opt-in and no patient's consent permits research on it") {
		t.Errorf("opt-in without consents: %+v", e)
	}
	policy(ledger.ConsentOptOut)
	status, b = call(t, "POST", "/v1/jobs/validate", withPurpose)
	if status != http.StatusOK {
		t.Errorf("opt-out: %d %s", status, b)
	}
	// The answer says the price (the policy's) and, for one dataset, no study.
	v = api.Validation{}
	if err := json.Unmarshal(b, &v); err != nil || v.Price != 20 || v.Study != nil {
		t.Errorf("one dataset under a policy: %s, want price 20 and no study", b)
	}
	// A logistic regression over two datasets is one pooled model: the
	// answer declares its study exactly as the CLI plans it (what a browser
	// then signs), and prices both datasets (the second has no policy).
	do(t, "st-mary-admin", &ledger.RegisterDataset{ID: ds + "-2", Version: 1, Title: "Validate 2", RecordBand: "1k-10k",
		Schema:      []ledger.Field{{Name: "age", Type: "integer"}, {Name: "sex", Type: "code"}, {Name: "cvd_10y", Type: "boolean"}},
		ContentRoot: testRoot, Locator: "vault://st-mary/validate-2"})
	pooled := json.RawMessage(`{"outcome":"cvd_10y","features":["age*sex"],"factors":[{"column":"sex","levels":["F","M"]}]}`)
	pb, _ := json.Marshal(api.ValidateRequest{Datasets: []string{ds, ds + "-2"}, Analysis: "logistic_regression", Params: pooled})
	status, b = call(t, "POST", "/v1/jobs/validate", pb)
	v = api.Validation{}
	if err := json.Unmarshal(b, &v); err != nil || status != http.StatusOK || v.Price != 20 || v.Study == nil {
		t.Fatalf("pooled study: %d %s", status, b)
	}
	want, err := compute.PlanStudy(pooled, []ledger.Field{{Name: "age", Type: "integer"}, {Name: "sex", Type: "code"}, {Name: "cvd_10y", Type: "boolean"}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(v.Study, want) {
		t.Errorf("validate planned %+v, the CLI plans %+v", v.Study, want)
	}
	// A pooled study needs a public bound for every column of its design:
	// a column with no plausible range cannot be planned, and the answer
	// says so before anything is signed.
	for _, id := range []string{ds + "-3", ds + "-4"} {
		do(t, "st-mary-admin", &ledger.RegisterDataset{ID: id, Version: 1, Title: "Validate " + id, RecordBand: "1k-10k",
			Schema:      []ledger.Field{{Name: "frailty_score", Type: "number"}, {Name: "cvd_10y", Type: "boolean"}},
			ContentRoot: testRoot, Locator: "vault://st-mary/" + id})
	}
	unbounded, _ := json.Marshal(api.ValidateRequest{Datasets: []string{ds + "-3", ds + "-4"}, Analysis: "logistic_regression",
		Params: json.RawMessage(`{"outcome":"cvd_10y","features":["frailty_score"]}`)})
	e = apiErr(t, "POST", "/v1/jobs/validate", unbounded, http.StatusBadRequest, "invalid_field")
	if e.Param != "params" || e.Reason != "bad_value" || !strings.Contains(e.Message, `frailty_score`) || !strings.Contains(e.Message, "plausible range") {
		t.Errorf("an unplannable pooled study: %+v", e)
	}
	// A Cox model over several datasets runs on a public grid only: a grid
	// of the requester's own is refused before anything is signed, and
	// the answer lists the public grids.
	for _, id := range []string{ds + "-5", ds + "-6"} {
		do(t, "st-mary-admin", &ledger.RegisterDataset{ID: id, Version: 1, Title: "Validate " + id, RecordBand: "1k-10k",
			Schema:      []ledger.Field{{Name: "age", Type: "integer"}, {Name: "cvd_time", Type: "number"}, {Name: "cvd_event", Type: "boolean"}},
			ContentRoot: testRoot, Locator: "vault://st-mary/" + id})
	}
	cox := func(grid string) []byte {
		b, _ := json.Marshal(api.ValidateRequest{Datasets: []string{ds + "-5", ds + "-6"}, Analysis: "survival",
			Params: json.RawMessage(`{"time":"cvd_time","event":"cvd_event","features":["age"],"grid":` + grid + `}`)})
		return b
	}
	e = apiErr(t, "POST", "/v1/jobs/validate", cox("[0.4375]"), http.StatusBadRequest, "invalid_field")
	if e.Reason != "bad_value" || !strings.Contains(e.Param, "grid") || !strings.Contains(e.Message, analysis.PooledCoxGridList()) {
		t.Errorf("a pooled Cox model on the requester's grid: %+v", e)
	}
	if status, b := call(t, "POST", "/v1/jobs/validate", cox("[5,10,15,20]")); status != http.StatusOK {
		t.Errorf("a pooled Cox model on a public grid: %d %s", status, b)
	}
	apiErr(t, "POST", "/v1/jobs/validate", []byte(`{"datasets":["nope"],"analysis":"cohort_count","params":{}}`), http.StatusNotFound, "not_found")
	apiErr(t, "POST", "/v1/jobs/validate", []byte(`{"datasets":[],"analysis":"cohort_count","params":{}}`), http.StatusBadRequest, "invalid_field")
	apiErr(t, "POST", "/v1/jobs/validate", []byte(`{"dataset":"x"}`), http.StatusBadRequest, "malformed")
}

func TestAnalyses(t *testing.T) {
	l := getOK[api.AnalysisList](t, "/v1/analyses")
	if len(l.Analyses) != len(jobparams.Analyses()) {
		t.Fatalf("%d analyses, want %d", len(l.Analyses), len(jobparams.Analyses()))
	}
	s := getOK[jobparams.Spec](t, "/v1/analyses/logistic_regression")
	want, _ := jobparams.Describe("logistic_regression")
	if s.Name != want.Name || !reflect.DeepEqual(s.Params, want.Params) || !reflect.DeepEqual(s.Examples, want.Examples) {
		t.Fatalf("GET /v1/analyses/logistic_regression: %+v", s)
	}
	if s := getOK[jobparams.Spec](t, "/v1/analyses/survival"); s.Name != "survival" || len(s.Examples) == 0 {
		t.Errorf("GET /v1/analyses/survival: %+v", s)
	}
	apiErr(t, "GET", "/v1/analyses/code:ab", nil, http.StatusNotFound, "not_found")
}

// TestOpenAPIParamsSchemas checks that the document's AnalysisParams_NAME
// schemas are jobparams's formats, so the document follows the worker.
func TestOpenAPIParamsSchemas(t *testing.T) {
	var d struct {
		Components struct {
			Schemas map[string]any `json:"schemas"`
		} `json:"components"`
	}
	raw := mustRead(t, "openapi.json")
	if err := json.Unmarshal(raw, &d); err != nil {
		t.Fatal(err)
	}
	for _, name := range jobparams.Analyses() {
		want, _ := jobparams.JSONSchema(name)
		wb, _ := json.Marshal(want)
		var w any
		if err := json.Unmarshal(wb, &w); err != nil {
			t.Fatal(err)
		}
		if got := d.Components.Schemas["AnalysisParams_"+name]; !reflect.DeepEqual(got, w) {
			t.Errorf("openapi.json AnalysisParams_%s differs from jobparams.JSONSchema(%q):\n got %v\nwant %s", name, name, got, wb)
		}
	}
}

func mustRead(t *testing.T, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(name)
	if err != nil {
		t.Fatal(err)
	}
	return b
}
