package compute

import (
	"encoding/json"
	"errors"
	"math/rand/v2"
	"testing"

	"github.com/medchain/medchain/outputctl"
)

// Under a policy with an epsilon and without exact_regression, a survival
// job's curves are released from the noisy grid histogram and its log-rank
// test is left out; a Cox model is refused as an exact regression is —
// before the rows are read, as analysis_error. With exact_regression both
// come out.
func TestSurvivalUnderThePolicy(t *testing.T) {
	tab := researchTable(t, 3000)
	releaser := func(exact bool) *outputctl.Releaser {
		return &outputctl.Releaser{
			Policy: outputctl.Policy{MinCohort: 20, EpsilonMilli: 1000, ExactRegression: exact},
			Budget: &outputctl.Budget{TotalMilli: 5000},
			Noise:  rand.NewChaCha8([32]byte{'s'}),
		}
	}
	curves := json.RawMessage(`{"time":"cvd_time","event":"cvd_event","grid":[3,6,9,12],"group":{"column":"smoker","levels":["false","true"]}}`)
	kind, rel, err := runAnalysis(tab, "survival", curves, releaser(false))
	if err != nil {
		t.Fatal(err)
	}
	sr := rel.(outputctl.SurvivalRelease)
	if kind != KindSurvival || !sr.Noisy || sr.EpsilonSpentMilli != 1000 || sr.LogRank != nil || !sr.LogRankWithheld || len(sr.Curves) != 2 || len(sr.Curves[0].Points) == 0 {
		t.Fatalf("curves under epsilon: kind %q, noisy %v, spent %d, log-rank %v withheld %v, %d curves", kind, sr.Noisy, sr.EpsilonSpentMilli, sr.LogRank, sr.LogRankWithheld, len(sr.Curves))
	}
	cox := json.RawMessage(`{"time":"cvd_time","event":"cvd_event","grid":[5,10],"features":["age","smoker"]}`)
	r := releaser(false)
	_, _, err = runAnalysis(tab, "survival", cox, r)
	if !errors.Is(err, outputctl.ErrNoPrivateRegression) || failReason(err) != "analysis_error" || r.Budget.SpentMilli != 0 {
		t.Fatalf("Cox without exact_regression: %v (reason %q, spent %d)", err, failReason(err), r.Budget.SpentMilli)
	}
	_, rel, err = runAnalysis(tab, "survival", cox, releaser(true))
	if err != nil {
		t.Fatal(err)
	}
	if sr := rel.(outputctl.SurvivalRelease); sr.Cox == nil || sr.Cox.Concordance == nil || len(sr.Cox.Coefficients) != 2 {
		t.Fatalf("Cox with exact_regression: %+v", sr.Cox)
	}
	// A grid that leaves every interval with a handful of events: the
	// rows are there, the release merges intervals rather than showing
	// small counts.
	fine := json.RawMessage(`{"time":"cvd_time","event":"cvd_event","grid":[0.1,0.2,0.3,0.4,0.5,0.6,0.7,0.8,0.9,1,5]}`)
	_, rel, err = runAnalysis(tab, "survival", fine, &outputctl.Releaser{Policy: outputctl.Policy{MinCohort: 20}})
	if err != nil {
		t.Fatal(err)
	}
	c := rel.(outputctl.SurvivalRelease).Curves[0]
	if len(c.Merged) == 0 {
		t.Errorf("a tenth-of-a-year grid merged nothing: %+v", c)
	}
	for _, p := range c.Points {
		if p.NEvent > 0 && p.NEvent < 11 {
			t.Errorf("point %v releases %d events", p.Time, p.NEvent)
		}
	}
}
