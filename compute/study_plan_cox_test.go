package compute_test

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"github.com/medchain/medchain/analysis"
	"github.com/medchain/medchain/compute"
	"github.com/medchain/medchain/federated"
	"github.com/medchain/medchain/ledger"
	"github.com/medchain/medchain/normalize"
)

// A pooled Cox study is planned from the params and the schema alone: the
// grid (one of the public grids) in millionths, each column centred at the midpoint of its public
// range (the plausible range normalize enforces, [0, 1] for a boolean or a
// factor level) with the half-width as its bound.
func TestPlanSurvivalStudy(t *testing.T) {
	schema := normalize.Schema()
	raw := json.RawMessage(`{"time":"cvd_time","event":"cvd_event","grid":[2,4,6,8,10],"features":["age","smoker","sex"],"factors":[{"column":"sex","levels":["female","male"]}],"ties":"breslow"}`)
	m := &ledger.SubmitJob{Datasets: []string{"a", "b"}, Analysis: "survival", Params: raw}
	if !compute.NeedsStudy(m) {
		t.Fatal("a survival job with features over two datasets needs no study")
	}
	req, err := compute.PlanStudyFor("survival", raw, schema, nil)
	if err != nil {
		t.Fatal(err)
	}
	s := req.Spec
	if s.Link != federated.LinkCox || s.Columns != 3 || s.Cox.Ties != "breslow" || len(s.Cox.Grid) != 5 || s.Cox.Grid[0] != 2_000_000 || s.Cox.Grid[4] != 10_000_000 {
		t.Fatalf("spec %+v, cox %+v", s, s.Cox)
	}
	age := normalize.DefaultConfig().Plausible["age"]
	if want := int64((age.Min + age.Max) / 2 * 1024); s.Cox.Center[0] != want {
		t.Errorf("age centred at %d/1024, want %d/1024 (plausible %v–%v)", s.Cox.Center[0], want, age.Min, age.Max)
	}
	if s.Cox.Center[1] != 512 || s.MaxAbs[1] != 512 || s.Cox.Center[2] != 512 || s.MaxAbs[2] != 512 {
		t.Errorf("0/1 columns: centres %v, bounds %v", s.Cox.Center, s.MaxAbs)
	}
	if err := s.Validate(); err != nil {
		t.Fatal(err)
	}
	// Curves alone are per site: no study.
	if compute.NeedsStudy(&ledger.SubmitJob{Datasets: []string{"a", "b"}, Analysis: "survival", Params: json.RawMessage(`{"time":"cvd_time","event":"cvd_event","grid":[5]}`)}) {
		t.Error("a survival job without features needs a study")
	}
	for _, tc := range []struct{ params, param, reason string }{
		{`{"time":"cvd_time","event":"cvd_event","grid":[5]}`, "features", "give its features"},
		{`{"time":"cvd_time","event":"cvd_event","grid":[5],"features":["age"],"group":{"column":"smoker","levels":["false","true"]}}`, "group", "no groups"},
		{`{"time":"cvd_time","event":"cvd_event","grid":[0.1234567],"features":["age"]}`, "grid[0]", "at most 6 decimals"},
		{`{"time":"cvd_time","event":"cvd_event","grid":[1,2,3,4,5,6,7,8,9,10],"features":["age","sbp","total_chol","hdl","smoker","diabetes","bmi"]}`, "features", "make steps of"},
		// The requester's own grid, which a binary search of one-point
		// grids once used to date a site's events: refused before signing,
		// with the public grids listed.
		{`{"time":"cvd_time","event":"cvd_event","grid":[4,8,12],"features":["age"]}`, "grid", "one of the public grids, the same for every requester: [5,10], [5,10,15]"},
		{`{"time":"cvd_time","event":"cvd_event","grid":[0.4375],"features":["age"]}`, "grid", "public grids"},
		// A cohort chosen by its own follow-up.
		{`{"time":"cvd_time","event":"cvd_event","grid":[5,10],"features":["age"],"filter":[{"column":"cvd_time","op":"<=","value":0.4375}]}`, "filter[0].column", "own outcome (cvd_time)"},
	} {
		_, err := compute.PlanStudyFor("survival", json.RawMessage(tc.params), schema, nil)
		var pe *analysis.ParamError
		if !errors.As(err, &pe) || pe.Param != tc.param || !strings.Contains(pe.Reason, tc.reason) {
			t.Errorf("%s: %v, want %s: …%s…", tc.params, err, tc.param, tc.reason)
		}
	}
}
