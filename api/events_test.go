package api_test

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/medchain/medchain/api"
	"github.com/medchain/medchain/api/apitest"
	"github.com/medchain/medchain/keys"
	"github.com/medchain/medchain/ledger"
)

type sse struct {
	name, data string
}

// openEvents opens an event stream and returns its events as they arrive
// (the channel closes when the stream ends) and a function that closes it.
func openEvents(t *testing.T, url string) (<-chan sse, func()) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	req, err := http.NewRequestWithContext(ctx, "GET", url, nil)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		cancel()
		t.Fatal(err)
	}
	if resp.StatusCode != http.StatusOK || resp.Header.Get("Content-Type") != "text/event-stream" {
		cancel()
		resp.Body.Close()
		t.Fatalf("GET %s: %d %s", url, resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	out := make(chan sse, 1024)
	go func() {
		defer close(out)
		defer resp.Body.Close()
		sc := bufio.NewScanner(resp.Body)
		var ev sse
		for sc.Scan() {
			line := sc.Text()
			switch {
			case line == "":
				if ev.name != "" {
					out <- ev
				}
				ev = sse{}
			case strings.HasPrefix(line, "event: "):
				ev.name = strings.TrimPrefix(line, "event: ")
			case strings.HasPrefix(line, "data: "):
				ev.data = strings.TrimPrefix(line, "data: ")
			}
		}
	}()
	return out, cancel
}

// next waits for the next event named name, skipping others.
func next(t *testing.T, evs <-chan sse, name string, within time.Duration) sse {
	t.Helper()
	deadline := time.After(within)
	for {
		select {
		case ev, ok := <-evs:
			if !ok {
				t.Fatalf("the stream ended before a %q event", name)
			}
			if ev.name == name {
				return ev
			}
		case <-deadline:
			t.Fatalf("no %q event within %v", name, within)
		}
	}
}

// TestEvents: a stream opened on a job sends the latest block, then each
// newly committed height in order, and the job's state each time its ledger
// record changes: admitted when opened, failed after its worker refuses it.
func TestEvents(t *testing.T) {
	const ds = "api-events"
	rita := key(t, "rita-researcher")
	wk, err := keys.Generate("events-worker")
	if err != nil {
		t.Fatal(err)
	}
	do(t, "st-mary-admin", &ledger.RegisterAccount{PubKey: wk.PubKey(), EncKey: wk.EncPub(), Kind: ledger.KindWorker, Org: "st-mary",
		Possession: ledger.ProvePossession(wk.Sign, apitest.ChainID, "st-mary")})
	do(t, "st-mary-admin", &ledger.RegisterWorker{Address: wk.Address(), Attestation: ledger.AttestTypeSoftware, Measurement: strings.Repeat("5e", 32)})
	do(t, "st-mary-admin", &ledger.RegisterDataset{ID: ds, Version: 1, Title: "Events", RecordBand: "1k-10k",
		Schema: []ledger.Field{{Name: "age", Type: "integer"}}, ContentRoot: testRoot, Locator: "vault://st-mary/events"})
	do(t, "st-mary-admin", &ledger.SetPolicy{Dataset: ds, Policy: ledger.Policy{
		Purposes: []string{"research"}, Requesters: ledger.Requesters{Kinds: []ledger.AccountKind{ledger.KindResearcher}},
		Analyses: ledger.Analyses{Builtins: []string{"cohort_count"}}, MinCohort: 11, EpsilonPerJobMilli: 100, EpsilonTotalMilli: 1000,
		Price: 20, Split: ledger.RewardSplit{InstitutionBps: 6000, PatientPoolBps: 3000, WorkerBps: 1000},
		Attestation: ledger.AttestSoftware, ConsentModel: ledger.ConsentOptOut}})
	id := jobID(t, do(t, "rita-researcher", &ledger.SubmitJob{Datasets: []string{ds}, Analysis: "cohort_count",
		Params: json.RawMessage(`{"where": {"age": {"gte": 40}}}`), Purpose: "research", MaxPrice: 20, ResultKey: rita.EncPub()}))

	evs, stop := openEvents(t, fmt.Sprintf("%s/v1/events?job=%d", tn.URL, id))
	defer stop()
	var first api.BlockEvent
	if err := json.Unmarshal([]byte(next(t, evs, "block", 10*time.Second).data), &first); err != nil || first.Height <= 0 || len(first.AppHash) == 0 {
		t.Fatalf("first block event: %+v %v", first, err)
	}
	var je api.JobEvent
	if err := json.Unmarshal([]byte(next(t, evs, "job", 10*time.Second).data), &je); err != nil || je.ID != id || je.Status != ledger.JobAdmitted {
		t.Fatalf("job event on opening: %+v %v", je, err)
	}
	// New blocks arrive in order (100 ms blocks).
	prev := first.Height
	for range 3 {
		var b api.BlockEvent
		if err := json.Unmarshal([]byte(next(t, evs, "block", 10*time.Second).data), &b); err != nil {
			t.Fatal(err)
		}
		if b.Height <= prev {
			t.Fatalf("block %d after %d", b.Height, prev)
		}
		prev = b.Height
	}
	// The worker refuses the job's params: the job fails, and the stream says so.
	res := commit(t, sign(t, wk, &ledger.FailJob{Job: id, Dataset: ds, Reason: "invalid_params",
		Refusal: &ledger.Refusal{Code: "bad_value", Param: "where.age", Column: "age"}}), ledger.CodeOK)
	if err := json.Unmarshal([]byte(next(t, evs, "job", 10*time.Second).data), &je); err != nil || je.ID != id || je.Status != ledger.JobFailed {
		t.Fatalf("job event after the refusal: %+v %v", je, err)
	}
	if je.Height < res.Result.Height {
		t.Fatalf("the failure committed at %d was reported at height %d", res.Result.Height, je.Height)
	}

	// A bad job id is refused before the stream opens.
	if e := apiErr(t, "GET", "/v1/events?job=x", nil, http.StatusBadRequest, "invalid_field"); e.Param != "job" {
		t.Fatalf("bad job: %+v", e)
	}
	apiErr(t, "GET", "/v1/events?job=999999", nil, http.StatusNotFound, "not_found")
}

// TestEventsLimitAndShutdown: a server bounds its open streams (one more
// is refused with 429 until one closes), and every stream ends when the
// server's base context ends, as when the node stops, so its graceful
// shutdown does not wait for clients that never hang up.
func TestEventsLimitAndShutdown(t *testing.T) {
	// One scan at a time: open streams must not take that slot.
	s := api.NewServer(tn.Node, api.Config{EventStreams: 2, Limits: api.Limits{Scan: api.Limit{Rate: 1000, Burst: 1000, Concurrent: 1}}})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	base, stopBase := context.WithCancel(context.Background())
	srv := &http.Server{Handler: s.Handler(), BaseContext: func(net.Listener) context.Context { return base }, WriteTimeout: 2 * time.Second}
	go srv.Serve(ln)
	defer srv.Close()
	url := "http://" + ln.Addr().String() + "/v1/events"

	a, closeA := openEvents(t, url)
	b, closeB := openEvents(t, url)
	defer closeB()
	next(t, a, "block", 10*time.Second)
	next(t, b, "block", 10*time.Second)
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusTooManyRequests {
		t.Fatalf("a third stream: %d, want 429", resp.StatusCode)
	}
	if resp, err := http.Get("http://" + ln.Addr().String() + "/v1/datasets"); err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("a scan route while two streams are open: %v %v", resp, err)
	} else {
		resp.Body.Close()
	}
	closeA()
	waitStreams(t, s, 1)
	c, closeC := openEvents(t, url)
	defer closeC()
	next(t, c, "block", 10*time.Second)

	// Streams outlive the server's write timeout (2 s here): each event has
	// its own deadline.
	time.Sleep(2500 * time.Millisecond)
	next(t, b, "block", 10*time.Second)

	stopBase()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := srv.Shutdown(ctx); err != nil {
		t.Fatalf("shutdown with open streams: %v", err)
	}
	for _, evs := range []<-chan sse{b, c} {
		for range evs { // drain until the stream ends
		}
	}
	waitStreams(t, s, 0)
}

func waitStreams(t *testing.T, s *api.Server, want int) {
	t.Helper()
	for range 100 {
		if s.OpenEventStreams() == want {
			return
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("%d streams open, want %d", s.OpenEventStreams(), want)
}

func BenchmarkEventFrame(b *testing.B) {
	for range b.N {
		api.FrameEvent("block", 123456, api.BlockEvent{Height: 123456, AppHash: make([]byte, 32), AuditSize: 99})
	}
}

// BenchmarkEventStreamOpen is what a page pays to start following the
// chain: open GET /v1/events on a real node and read its first block event.
func BenchmarkEventStreamOpen(b *testing.B) {
	for range b.N {
		resp, err := http.Get(tn.URL + "/v1/events")
		if err != nil {
			b.Fatal(err)
		}
		sc := bufio.NewScanner(resp.Body)
		for sc.Scan() && !strings.HasPrefix(sc.Text(), "data: ") {
		}
		resp.Body.Close()
	}
}
