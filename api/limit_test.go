package api

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"
)

// clock is a settable clock for the limiters.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) add(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

// serve runs one request from remote through h.
func serve(h http.Handler, method, path, remote, body string) *httptest.ResponseRecorder {
	r := httptest.NewRequest(method, path, strings.NewReader(body))
	r.RemoteAddr = remote
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	return w
}

// wantLimited checks a 429 answer: Retry-After in whole seconds, and the
// API's error body with the rate_limited code.
func wantLimited(t *testing.T, w *httptest.ResponseRecorder, retry string) {
	t.Helper()
	if w.Code != http.StatusTooManyRequests {
		t.Fatalf("status %d, want 429: %s", w.Code, w.Body)
	}
	if got := w.Header().Get("Retry-After"); got != retry {
		t.Errorf("Retry-After %q, want %q", got, retry)
	}
	var body struct{ Error Error }
	if err := json.Unmarshal(w.Body.Bytes(), &body); err != nil {
		t.Fatal(err)
	}
	if body.Error.Code != CodeRateLimited || body.Error.Name != "rate_limited" || body.Error.Message == "" {
		t.Errorf("error body: %+v", body.Error)
	}
}

var noContent = http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusNoContent) })

// A client gets its burst at once, then the rate; other clients have their
// own buckets; an IPv6 client is its /64.
func TestLimitPerClient(t *testing.T) {
	c := &clock{t: time.Unix(1_000_000, 0)}
	h := newLimiter("verify", Limit{Rate: 0.5, Burst: 2}, c.now).wrap(noContent)
	for i := range 2 {
		if w := serve(h, "POST", "/", "192.0.2.1:5000", ""); w.Code != http.StatusNoContent {
			t.Fatalf("request %d of the burst: %d", i, w.Code)
		}
	}
	wantLimited(t, serve(h, "POST", "/", "192.0.2.1:5001", ""), "2") // one token every 2 s
	if w := serve(h, "POST", "/", "192.0.2.2:5000", ""); w.Code != http.StatusNoContent {
		t.Fatalf("another client: %d", w.Code)
	}
	c.add(1500 * time.Millisecond)
	wantLimited(t, serve(h, "POST", "/", "192.0.2.1:5002", ""), "1") // 0.5 s to go, rounded up
	c.add(500 * time.Millisecond)
	if w := serve(h, "POST", "/", "192.0.2.1:5003", ""); w.Code != http.StatusNoContent {
		t.Fatalf("after the refill: %d", w.Code)
	}
	// IPv6: the same /64 is one client, another /64 another.
	for range 2 {
		serve(h, "POST", "/", "[2001:db8:1:2::1]:443", "")
	}
	wantLimited(t, serve(h, "POST", "/", "[2001:db8:1:2:ffff::9]:443", ""), "2")
	if w := serve(h, "POST", "/", "[2001:db8:1:3::1]:443", ""); w.Code != http.StatusNoContent {
		t.Fatalf("another /64: %d", w.Code)
	}
	// An IPv4-mapped address is the IPv4 client.
	wantLimited(t, serve(h, "POST", "/", "[::ffff:192.0.2.1]:80", ""), "2")
}

// The concurrency cap holds over all clients: with one slot taken, a
// request from anywhere is refused until it is free again.
func TestLimitConcurrent(t *testing.T) {
	release, entered := make(chan struct{}), make(chan struct{})
	slow := http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		entered <- struct{}{}
		<-release
		w.WriteHeader(http.StatusNoContent)
	})
	h := newLimiter("verify", Limit{Concurrent: 1}, time.Now).wrap(slow)
	done := make(chan int)
	go func() { done <- serve(h, "POST", "/", "192.0.2.1:1", "").Code }()
	<-entered
	wantLimited(t, serve(h, "POST", "/", "198.51.100.7:1", ""), "1")
	close(release)
	if code := <-done; code != http.StatusNoContent {
		t.Fatalf("first request: %d", code)
	}
	go func() { <-entered }()
	if w := serve(h, "POST", "/", "198.51.100.7:1", ""); w.Code != http.StatusNoContent {
		t.Fatalf("after the slot is free: %d", w.Code)
	}
}

// The limiter forgets clients whose bucket is full again, so a sweep of
// many addresses does not grow it without bound.
func TestLimitForgetsIdleClients(t *testing.T) {
	c := &clock{t: time.Unix(1_000_000, 0)}
	l := newLimiter("scan", Limit{Rate: 10, Burst: 1}, c.now)
	for i := range 20 * minSweep {
		addr := fmt.Sprintf("10.%d.%d.%d:1", i>>16&255, i>>8&255, i&255)
		if _, ok := l.allow(clientOf(addr)); !ok {
			t.Fatalf("client %s refused on its first request", addr)
		}
		c.add(10 * time.Millisecond) // 100 new clients a second: each bucket refills in 0.1 s
	}
	if n := len(l.clients); n > 2*minSweep {
		t.Fatalf("%d clients remembered after %d, most of them idle", n, 20*minSweep)
	}
}

// Through the server: the proof route is limited, the status route and
// the other cheap routes never are, and a refused request never reaches
// the backend (here there is none).
func TestServerLimitsCostlyRoutesOnly(t *testing.T) {
	c := &clock{t: time.Unix(1_000_000, 0)}
	s := NewServer(nil, Config{Now: c.now, Limits: Limits{Verify: Limit{Rate: 1, Burst: 1}, Scan: Limit{Rate: 1, Burst: 1}}})
	h := s.Handler()
	// A body that is not a VerifyRequest is refused before the backend is
	// asked anything: 400 the first time, 429 the second.
	if w := serve(h, "POST", "/v1/models/m/verify", "192.0.2.1:1", "{"); w.Code != http.StatusBadRequest {
		t.Fatalf("first verify: %d %s", w.Code, w.Body)
	}
	wantLimited(t, serve(h, "POST", "/v1/models/m/verify", "192.0.2.1:1", "{"), "1")
	// Scan: a bad parameter answers 400 before any read, then 429.
	if w := serve(h, "GET", "/v1/consents?limit=0", "192.0.2.1:1", ""); w.Code != http.StatusBadRequest {
		t.Fatalf("first scan: %d %s", w.Code, w.Body)
	}
	wantLimited(t, serve(h, "GET", "/v1/consents?limit=0", "192.0.2.1:1", ""), "1")
	// Cheap routes: many times over, never 429.
	for range 50 {
		if w := serve(h, "GET", "/v1/jobs/x", "192.0.2.1:1", ""); w.Code != http.StatusBadRequest {
			t.Fatalf("cheap route: %d %s", w.Code, w.Body)
		}
	}
	for _, r := range s.routes() {
		if (r.path == "/v1/status" || r.path == "/v1/openapi.json") && r.class != cheap {
			t.Errorf("%s %s is limited; it must always answer", r.method, r.path)
		}
		if r.method == "POST" && r.class == cheap {
			t.Errorf("%s %s takes a body the node must process, and is not limited", r.method, r.path)
		}
	}
}

func TestLimitsValidate(t *testing.T) {
	if err := DefaultLimits().Validate(); err != nil {
		t.Fatalf("defaults: %v", err)
	}
	for _, c := range []struct {
		l    Limits
		want string
	}{
		{Limits{Verify: Limit{Rate: 5}}, "limits.verify.burst: must be at least 1"},
		{Limits{Scan: Limit{Rate: -1, Burst: 1}}, "limits.scan.rate: -1 is not a rate"},
		{Limits{Submit: Limit{Concurrent: -2}}, "limits.submit.concurrent: -2 is negative"},
	} {
		if err := c.l.Validate(); err == nil || !strings.HasPrefix(err.Error(), c.want) {
			t.Errorf("%+v: %v, want %q", c.l, err, c.want)
		}
	}
}

func BenchmarkLimiterAllow(b *testing.B) {
	l := newLimiter("verify", Limit{Rate: 1e9, Burst: 1 << 30}, time.Now)
	clients := []string{"192.0.2.1:1", "192.0.2.2:1", "[2001:db8::1]:1", "198.51.100.3:1"}
	b.ReportAllocs()
	b.ResetTimer()
	for i := range b.N {
		l.allow(clientOf(clients[i%len(clients)]))
	}
}

// The OpenAPI document names the 429 answer on exactly the limited routes.
func TestOpenAPIDocumentsLimits(t *testing.T) {
	var doc struct {
		Paths map[string]map[string]struct {
			Responses map[string]any `json:"responses"`
		} `json:"paths"`
	}
	if err := json.Unmarshal(openAPIDoc, &doc); err != nil {
		t.Fatal(err)
	}
	for _, r := range (&Server{}).routes() {
		_, has := doc.Paths[r.path][strings.ToLower(r.method)].Responses["429"]
		if has != (r.class != cheap) {
			t.Errorf("%s %s: documents 429 %t, limited %t", r.method, r.path, has, r.class != cheap)
		}
	}
}

// BenchmarkRefusedVerify is the whole cost of a refused proof request
// through the server's handler: what a flood costs the node per request
// once a client is over its limit.
func BenchmarkRefusedVerify(b *testing.B) {
	h := NewServer(nil, Config{Limits: Limits{Verify: Limit{Rate: 1e-9, Burst: 1}}}).Handler()
	body := strings.Repeat("x", 2800)                           // the size of a 128-feature verify request
	serve(h, "POST", "/v1/models/m/verify", "192.0.2.1:1", "{") // takes the one token
	b.ReportAllocs()
	b.ResetTimer()
	for range b.N {
		if w := serve(h, "POST", "/v1/models/m/verify", "192.0.2.1:1", body); w.Code != http.StatusTooManyRequests {
			b.Fatalf("status %d", w.Code)
		}
	}
}

// POST /v1/txs?wait=commit may wait longer than the server's write
// timeout allows other routes; its deadline is moved, so the answer still
// arrives. The same slow handler without the extension is cut off.
func TestLongAnswerOutlivesWriteTimeout(t *testing.T) {
	slow := http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		time.Sleep(600 * time.Millisecond)
		io.WriteString(w, "committed")
	})
	if longAnswers["POST /v1/txs"] <= commitWait {
		t.Fatalf("POST /v1/txs may take %s, less than its %s wait", longAnswers["POST /v1/txs"], commitWait)
	}
	for _, c := range []struct {
		h      http.Handler
		answer bool
	}{{extendWrite(5*time.Second, slow), true}, {slow, false}} {
		srv := httptest.NewUnstartedServer(c.h)
		srv.Config.WriteTimeout = 200 * time.Millisecond
		srv.Start()
		resp, err := http.Get(srv.URL)
		var body []byte
		if err == nil {
			body, err = io.ReadAll(resp.Body)
			resp.Body.Close()
		}
		if got := err == nil && string(body) == "committed"; got != c.answer {
			t.Errorf("extended %t: answered %t (%v), want %t", c.answer, got, err, c.answer)
		}
		srv.Close()
	}
}
