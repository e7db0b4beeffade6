package jobparams_test

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"github.com/medchain/medchain/analysis"
	"github.com/medchain/medchain/jobparams"
)

// A pooled Cox model runs on a public grid only; curves alone and the
// other analyses have no study rule. The refusal is a bad_value of "grid"
// that lists the public grids — what a worker records on the ledger when
// it refuses before opening the data.
func TestCheckStudy(t *testing.T) {
	for _, g := range analysis.PooledCoxGrids {
		raw, _ := json.Marshal(analysis.SurvivalParams{Time: "cvd_time", Event: "cvd_event", Grid: g, Features: []string{"age"}})
		if err := jobparams.CheckStudy("survival", raw); err != nil {
			t.Errorf("public grid %v: %v", g, err)
		}
	}
	for _, tc := range []struct{ name, params string }{
		{"survival", `{"time":"cvd_time","event":"cvd_event","grid":[0.4375]}`},
		{"logistic_regression", `{"outcome":"cvd_10y","features":["age"]}`},
	} {
		if err := jobparams.CheckStudy(tc.name, json.RawMessage(tc.params)); err != nil {
			t.Errorf("%s %s: %v", tc.name, tc.params, err)
		}
	}
	for _, grid := range []string{"[0.4375]", "[4,8,12]", "[5,10,15,20,25]", "[10,5]"} {
		err := jobparams.CheckStudy("survival", json.RawMessage(`{"time":"cvd_time","event":"cvd_event","features":["age"],"grid":`+grid+`}`))
		var e *jobparams.Error
		if !errors.As(err, &e) || e.Code != jobparams.BadValue || e.Param != "grid" || !strings.Contains(e.Message, analysis.PooledCoxGridList()) {
			t.Errorf("grid %s: %v, want bad_value of grid listing the public grids", grid, err)
		}
	}
}

// The API's check of a job over several datasets applies the same rule;
// over one dataset a survival grid is the requester's.
func TestCheckSitesPublicGrid(t *testing.T) {
	raw := json.RawMessage(`{"time":"cvd_time","event":"cvd_event","grid":[4,8,12],"features":["age"]}`)
	if err := jobparams.CheckSites("survival", raw, 1); err != nil {
		t.Errorf("one dataset: %v", err)
	}
	var e *jobparams.Error
	if err := jobparams.CheckSites("survival", raw, 3); !errors.As(err, &e) || e.Param != "grid" {
		t.Errorf("three datasets: %v, want a refusal of grid", err)
	}
}

// TestCheckSitesTreesStudy: a boosted-trees job over several datasets is
// refused before signing, as every worker would refuse it; on one dataset
// it stands.
func TestCheckSitesTreesStudy(t *testing.T) {
	raw := json.RawMessage(`{"outcome":"cvd_10y","features":["age","sbp"]}`)
	if err := jobparams.CheckSites("boosted_trees", raw, 1); err != nil {
		t.Errorf("one dataset: %v", err)
	}
	var e *jobparams.Error
	if err := jobparams.CheckSites("boosted_trees", raw, 2); !errors.As(err, &e) || e.Param != "datasets" || !strings.Contains(e.Message, "switched off") {
		t.Errorf("two datasets: %v, want a refusal naming datasets", err)
	}
}
