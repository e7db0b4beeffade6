package compute_test

import (
	"encoding/json"
	"testing"

	"github.com/medchain/medchain/analysis"
	"github.com/medchain/medchain/client"
	"github.com/medchain/medchain/ledger"
	"github.com/medchain/medchain/synth"
)

// TestStudyRefusesEmptySiteBeforeIterationZero: a pooled study over an
// opt-in site where no patient has consented. That site has no rows, which
// the public consents on the ledger show; its worker refuses the study
// before anything is summed (no_consent), without reading its data, so its
// epsilon and price go back. (Here its worker happens to run first; a site
// that contributed before the refusal reached the ledger has touched its
// data and is charged as for any refusal.)
func TestStudyRefusesEmptySiteBeforeIterationZero(t *testing.T) {
	e, sites, _, stop := studyEnv(t, []studySite{
		{org: "st-mary", admin: "st-mary-admin", dataset: "es-sm", n: 300},
	})
	defer stop()
	empty := studySite{org: "northside", admin: "northside-admin", dataset: "es-ns", n: 300}
	var people []synth.Person
	empty.worker, people, _ = e.site(empty.org, empty.admin, empty.dataset, empty.n, 77, ledger.ConsentOptIn)
	nsBefore, err := e.c.DatasetBudget(e.ctx, empty.dataset)
	if err != nil {
		t.Fatal(err)
	}
	id := e.submitStudy([]string{"es-sm", "es-ns"}, analysis.RegressionParams{Outcome: "cvd_10y", Features: studyFeatures}, 0)
	j := e.runUntil(id, []studySite{empty, sites[0]}, nil)
	if j.Status != ledger.JobFailed || j.Reason != "es-ns: no_consent" {
		t.Fatalf("job %d: %s (%s), want failed with es-ns: no_consent", id, j.Status, j.Reason)
	}
	view, err := e.c.Study(e.ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	if len(view.Sums) != 0 || view.Study.Iteration != 0 {
		t.Fatalf("refused after %d sums (iteration %d)", len(view.Sums), view.Study.Iteration)
	}
	for _, s := range j.Sites {
		if s.Dataset == empty.dataset && s.Touched != "" {
			t.Errorf("the empty site is marked as having read data")
		}
	}
	if b, err := e.c.DatasetBudget(e.ctx, empty.dataset); err != nil || b.SpentMilli != nsBefore.SpentMilli {
		t.Errorf("empty site's budget %+v %v, want %d spent as before", b, err, nsBefore.SpentMilli)
	}

	// Once one patient consents, the same study is not refused for it.
	e.patient(empty.org, people[0], permit(ledger.ScopeDataset, empty.dataset, "research"))
	raw, _ := json.Marshal(analysis.RegressionParams{Outcome: "cvd_10y", Features: studyFeatures})
	rita := e.key("rita-researcher")
	m := e.study(&ledger.SubmitJob{Datasets: []string{"es-sm", "es-ns"}, Analysis: "logistic_regression", Params: raw,
		Purpose: "research", MaxPrice: 10000, ResultKey: rita.EncPub()})
	id2, err := client.JobID(e.submit(rita, m))
	if err != nil {
		t.Fatal(err)
	}
	j = e.runUntil(id2, []studySite{empty, sites[0]}, nil)
	if j.Reason == "es-ns: no_consent" {
		t.Fatalf("job %d refused for want of consent although a patient consented", id2)
	}
	// One consenting patient is far below the minimum cohort: refused for
	// that, after reading the data.
	if j.Status != ledger.JobFailed || j.Reason != "es-ns: cohort_too_small" {
		t.Fatalf("job %d: %s (%s), want failed with es-ns: cohort_too_small", id2, j.Status, j.Reason)
	}
}
