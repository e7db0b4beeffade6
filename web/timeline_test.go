package web_test

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"testing"

	"github.com/medchain/medchain/api"
	"github.com/medchain/medchain/ledger"
	"github.com/medchain/medchain/web"
)

// TestJobTimeline draws, with the job page's code in Chromium, the timeline
// of a pooled study that went wrong — a site dropped for missing an
// iteration's deadline, a round restarted, another site refusing the params
// — from a job as the ledger records it (marshalled from the Go types the
// API serves). Every event is on the timeline, in height order, and a
// refusal says its code, parameter and column: what the ledger carries.
func TestJobTimeline(t *testing.T) {
	browser := chromium(t)
	split := ledger.RewardSplit{InstitutionBps: 6000, PatientPoolBps: 3000, WorkerBps: 1000}
	site := func(ds, org string, price uint64) ledger.JobSite {
		return ledger.JobSite{Dataset: ds, Version: 1, Org: org, Price: price, EpsilonMilli: 500, Split: split, MinCohort: 11}
	}
	job := ledger.Job{ID: 7, Requester: strings.Repeat("ab", 20), Purpose: "research", Analysis: "logistic_regression",
		Params: json.RawMessage(`{}`), Escrow: 0, Status: ledger.JobFailed, Admitted: 40, Deadline: 640, Closed: 95,
		Reason: "lakeview-cvd: invalid_params",
		Sites:  []ledger.JobSite{site("st-mary-cvd", "st-mary", 100), site("northside-cvd", "northside", 80), site("lakeview-cvd", "lakeview", 60)},
		Study: &ledger.Study{Round: 1, Participants: []string{"st-mary-cvd", "lakeview-cvd"},
			Rounds: []ledger.StudyRound{
				{Round: 0, Participants: []string{"st-mary-cvd", "northside-cvd", "lakeview-cvd"}, Started: 40, Ended: 80, EndReason: "northside-cvd dropped"},
				{Round: 1, Participants: []string{"st-mary-cvd", "lakeview-cvd"}, FirstIteration: 3, Started: 80},
			},
			Excluded: []ledger.StudyExclusion{{Dataset: "northside-cvd", Kind: ledger.ExcludedDropped, Round: 0, Iteration: 3, Height: 80, Reason: "missed the iteration deadline"}}}}
	job.Sites[1].Excluded = ledger.ExcludedDropped
	job.Sites[2].Refusal = &ledger.Refusal{Code: "no_such_column", Param: "features[2]", Column: "bmi"}
	three := []string{"st-mary-cvd", "northside-cvd", "lakeview-cvd"}
	view := api.StudyView{Job: 7, Status: job.Status, Study: job.Study, Posted: []string{}, Sums: []ledger.StudySum{
		{Job: 7, Iteration: 0, Round: 0, Phase: "step", Participants: three, Height: 52},
		{Job: 7, Iteration: 1, Round: 0, Phase: "step", Participants: three, Height: 61},
		{Job: 7, Iteration: 2, Round: 0, Phase: "step", Participants: three, Height: 70},
	}}
	body, err := json.Marshal(map[string]any{"job": job, "study": view})
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	mux.Handle("/", web.Handler())
	mux.HandleFunc("/test/job.json", func(w http.ResponseWriter, r *http.Request) { w.Write(body) })
	mux.HandleFunc("/test/timeline.html", func(w http.ResponseWriter, r *http.Request) { http.ServeFile(w, r, "testdata/timeline.html") })
	srv := httptest.NewServer(mux)
	defer srv.Close()

	dom := dumpDOM(t, browser, srv.URL+"/test/timeline.html")
	m := regexp.MustCompile(`(?s)<pre id="out">(.*?)</pre>`).FindStringSubmatch(dom)
	if m == nil || strings.HasPrefix(m[1], "ERROR") || m[1] == "running" {
		t.Fatalf("harness: %v", m)
	}
	var lines []string
	if err := json.Unmarshal([]byte(htmlUnescape(m[1])), &lines); err != nil {
		t.Fatal(err)
	}
	want := []string{
		"#40 : admitted: 240 tokens escrowed; st-mary-cvd v1 (ε 0.5), northside-cvd v1 (ε 0.5), lakeview-cvd v1 (ε 0.5); deadline height 640",
		"#40 : study round 0 started with st-mary-cvd, northside-cvd, lakeview-cvd",
		"#52 : iteration 1 summed on the ledger (round 0, 3 sites; only the sum is stored)",
		"#61 : iteration 2 summed on the ledger (round 0, 3 sites; only the sum is stored)",
		"#70 : iteration 3 summed on the ledger (round 0, 3 sites; only the sum is stored)",
		"#80 bad: study round 0 ended: northside-cvd dropped",
		"#80 : study round 1 started with st-mary-cvd, lakeview-cvd",
		"#80 bad: northside-cvd dropped in round 0, iteration 3: missed the iteration deadline",
		"#95 bad: lakeview-cvd refused the job: no_such_column at features[2] (column bmi)",
		"#95 bad: failed: lakeview-cvd: invalid_params — the escrow of every site that released nothing is refunded",
	}
	if strings.Join(lines, "\n") != strings.Join(want, "\n") {
		t.Fatalf("timeline:\n%s\nwant:\n%s", strings.Join(lines, "\n"), strings.Join(want, "\n"))
	}
}
