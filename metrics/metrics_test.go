package metrics

import (
	"errors"
	"io"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

var sets = Sets{
	TxTypes:     []string{"submit_job", "fail_job"},
	Codes:       []string{"ok", "invalid_state"},
	JobStatuses: []string{"admitted", "failed"},
	Refusals:    []string{"data_unavailable"},
	Routes:      []string{"/", "GET /v1/jobs/{id}"},
}

func scrapeText(t *testing.T, m *Metrics) string {
	t.Helper()
	w := httptest.NewRecorder()
	m.Handler().ServeHTTP(w, httptest.NewRequest("GET", "/metrics", nil))
	b, _ := io.ReadAll(w.Body)
	return string(b)
}

func wantLines(t *testing.T, text string, lines ...string) {
	t.Helper()
	for _, l := range lines {
		if !strings.Contains(text, "\n"+l+"\n") {
			t.Errorf("no line %q in the scrape", l)
		}
	}
}

// A value outside its label's closed set is counted, as "other": whatever
// string a caller passes, it does not reach the scrape.
func TestLabelsComeFromClosedSets(t *testing.T) {
	m := New(sets, Sources{})
	t0 := time.Unix(1_700_000_000, 0)
	m.ObserveBlock(Block{Height: 7, Time: t0, Txs: []Tx{
		{Type: "submit_job", Code: "ok"},
		{Type: "patient 123-45-6789", Code: "ok"},
		{Type: "fail_job", Code: "ok", Outcome: OutcomeRefusal, Reason: "Jane Doe's file"},
		{Type: "fail_job", Code: "ok", Outcome: OutcomeRefusal, Reason: "data_unavailable"},
		{Type: "submit_job", Code: "code_999"},
	}})
	m.ObserveRequest("GET /v1/jobs/{id}", 200, time.Millisecond)
	m.ObserveRequest("GET /v1/jobs/12345", 404, time.Millisecond) // a path, not a pattern
	m.ObserveRequest("/", 777, time.Millisecond)
	text := scrapeText(t, m)
	for _, leak := range []string{"123-45-6789", "Jane", "/v1/jobs/12345", `"777"`} {
		if strings.Contains(text, leak) {
			t.Errorf("the scrape contains %q", leak)
		}
	}
	wantLines(t, text,
		`medchain_txs_total{code="ok",type="submit_job"} 1`,
		`medchain_txs_total{code="ok",type="other"} 1`,
		`medchain_txs_total{code="other",type="submit_job"} 1`,
		`medchain_worker_runs_total{outcome="refusal"} 2`,
		`medchain_worker_runs_total{outcome="result"} 0`,
		`medchain_worker_refusals_total{reason="data_unavailable"} 1`,
		`medchain_worker_refusals_total{reason="other"} 1`,
		`medchain_api_requests_total{route="GET /v1/jobs/{id}",status="200"} 1`,
		`medchain_api_requests_total{route="other",status="404"} 1`,
		`medchain_api_requests_total{route="/",status="other"} 1`,
		`medchain_block_height 7`,
	)
}

// The interval is measured between consecutive heights only.
func TestBlockInterval(t *testing.T) {
	m := New(sets, Sources{})
	t0 := time.Unix(1_700_000_000, 0)
	m.ObserveBlock(Block{Height: 1, Time: t0})
	m.ObserveBlock(Block{Height: 2, Time: t0.Add(500 * time.Millisecond)})
	m.ObserveBlock(Block{Height: 9, Time: t0.Add(time.Hour)}) // a gap: not an interval
	m.ObserveBlock(Block{Height: 10, Time: t0.Add(time.Hour + 2*time.Second)})
	wantLines(t, scrapeText(t, m),
		`medchain_block_interval_seconds_count 2`,
		`medchain_block_interval_seconds_sum 2.5`,
		`medchain_block_height 10`,
	)
}

// Sources are read at scrape time; a job state outside the set is
// "other"; a failing source leaves its metric out, and its error (which
// could name a stored key) is not served.
func TestSources(t *testing.T) {
	jobs := map[string]int{"admitted": 3, "weird-state": 2}
	var jobsErr error
	m := New(sets, Sources{
		Mempool:     func() int { return 4 },
		Connections: func() int { return 2 },
		Jobs:        func() (map[string]int, error) { return jobs, jobsErr },
	})
	text := scrapeText(t, m)
	wantLines(t, text,
		`medchain_mempool_txs 4`, `medchain_api_open_connections 2`,
		`medchain_jobs{status="admitted"} 3`, `medchain_jobs{status="failed"} 0`, `medchain_jobs{status="other"} 2`)
	if strings.Contains(text, "weird") {
		t.Error("an unknown job state reached the scrape")
	}
	jobsErr = errors.New("read s/job/secret-key: corrupt")
	text = scrapeText(t, m)
	if strings.Contains(text, "medchain_jobs{") || strings.Contains(text, "secret-key") {
		t.Errorf("a failing source: %s", text)
	}
	wantLines(t, text, `medchain_mempool_txs 4`)
}

func BenchmarkObserveBlock(b *testing.B) {
	m := New(sets, Sources{})
	txs := make([]Tx, 100)
	for i := range txs {
		txs[i] = Tx{Type: "submit_job", Code: "ok"}
	}
	t0 := time.Unix(1_700_000_000, 0)
	b.ReportAllocs()
	for i := range b.N {
		m.ObserveBlock(Block{Height: int64(i + 1), Time: t0.Add(time.Duration(i) * time.Second), Txs: txs})
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*len(txs)), "ns/tx")
}

func BenchmarkObserveRequest(b *testing.B) {
	m := New(sets, Sources{})
	b.ReportAllocs()
	for range b.N {
		m.ObserveRequest("GET /v1/jobs/{id}", 200, time.Millisecond)
	}
}

func BenchmarkScrape(b *testing.B) {
	m := New(sets, Sources{Mempool: func() int { return 1 }, Jobs: func() (map[string]int, error) { return map[string]int{"admitted": 1}, nil }})
	m.ObserveBlock(Block{Height: 1, Txs: []Tx{{Type: "submit_job", Code: "ok"}}})
	for _, r := range sets.Routes {
		m.ObserveRequest(r, 200, time.Millisecond)
	}
	b.ReportAllocs()
	for range b.N {
		w := httptest.NewRecorder()
		m.Handler().ServeHTTP(w, httptest.NewRequest("GET", "/metrics", nil))
	}
}
