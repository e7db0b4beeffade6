package api

import (
	"fmt"
	"math"
	"net/http"
	"net/netip"
	"runtime"
	"strconv"
	"sync"
	"time"

	"golang.org/x/time/rate"

	"github.com/medchain/medchain/ledger"
)

// The API is public: anyone who can reach the port can call it. Most
// routes read one object and cost microseconds; a few cost what the caller
// chooses to make them cost, and those are limited, per client and in
// total, so a flood on them cannot take the node's cores from the rest
// (/v1/status, the node's own workers, consensus).

// Limit bounds one class of costly routes.
type Limit struct {
	// Rate is the sustained number of requests per second a client may
	// make; 0 means no per-client limit.
	Rate float64 `json:"rate"`
	// Burst is how many requests a client may make at once before the rate
	// applies (at least 1 when Rate is set).
	Burst int `json:"burst"`
	// Concurrent caps how many requests of the class are served at once,
	// over all clients together; 0 means no cap. It is what holds when a
	// flood comes from many addresses.
	Concurrent int `json:"concurrent"`
}

// Limits are the per-class limits of the costly routes. A client is an IP
// address (for IPv6, its /64 network, which one subscriber usually holds
// whole); forwarding headers are ignored, because anyone can set them. A
// node behind a proxy sees the proxy's address and should be limited
// there.
type Limits struct {
	// Verify covers POST /v1/models/{id}/verify: a zero-knowledge proof
	// check per request, ~10 ms of CPU for a 128-feature model, whatever
	// the proof's worth.
	Verify Limit `json:"verify"`
	// Submit covers POST /v1/txs: decoding and a signature check per
	// request before the mempool's own admission.
	Submit Limit `json:"submit"`
	// Scan covers the routes whose cost grows with the ledger's data:
	// lists, the consent pages, state and audit proofs, result downloads.
	Scan Limit `json:"scan"`
}

// DefaultLimits are generous for a person, a dashboard or an institution's
// workers (each polls a few routes a few times a second), stop one client
// from taking more than a fifth of a core with proofs, and leave at least
// half the machine's cores to everything else whoever sends them.
func DefaultLimits() Limits {
	return Limits{
		Verify: Limit{Rate: 20, Burst: 40, Concurrent: max(1, runtime.NumCPU()/2)},
		Submit: Limit{Rate: 100, Burst: 400},
		Scan:   Limit{Rate: 100, Burst: 400, Concurrent: 16},
	}
}

// Validate names the first bad field ("limits.verify.burst: ...").
func (l Limits) Validate() error {
	for _, c := range []struct {
		name string
		l    Limit
	}{{"verify", l.Verify}, {"submit", l.Submit}, {"scan", l.Scan}} {
		if err := c.l.validate(); err != nil {
			return fmt.Errorf("limits.%s.%w", c.name, err)
		}
	}
	return nil
}

func (l Limit) validate() error {
	switch {
	case l.Rate < 0 || math.IsNaN(l.Rate) || math.IsInf(l.Rate, 0):
		return fmt.Errorf("rate: %v is not a rate (requests per second, 0 for none)", l.Rate)
	case l.Burst < 0:
		return fmt.Errorf("burst: %d is negative", l.Burst)
	case l.Rate > 0 && l.Burst == 0:
		return fmt.Errorf("burst: must be at least 1 when rate is set (%v/s)", l.Rate)
	case l.Concurrent < 0:
		return fmt.Errorf("concurrent: %d is negative (0 for no cap)", l.Concurrent)
	}
	return nil
}

// class says which limit a route falls under.
type class int

const (
	cheap  class = iota // one lookup: never limited
	verify              // Limits.Verify
	submit              // Limits.Submit
	scan                // Limits.Scan
	// stream is GET /v1/events: opening one is rate-limited as a scan, but
	// an open stream holds no scan slot (it would hold it for hours); the
	// streams have their own bound, Config.EventStreams.
	stream
)

// CodeRateLimited is the code of a 429 answer: the request was refused for
// load, before anything looked at it. It is the ledger's rate_limited, the
// code a transaction gets when its signer is over a genesis rate limit: one
// name and one number for "too much, come back later", whoever refused.
const CodeRateLimited = ledger.CodeRateLimited

// rateLimited is the 429 error; Retry-After says when to come back.
func rateLimited(format string, args ...any) *Error {
	return &Error{Code: CodeRateLimited, Name: "rate_limited", Message: fmt.Sprintf(format, args...)}
}

// limiter enforces one Limit.
type limiter struct {
	name  string
	limit Limit
	now   func() time.Time
	slots chan struct{} // nil: no cap on concurrent requests

	mu      sync.Mutex
	clients map[netip.Prefix]*rate.Limiter
	sweepAt int
}

// minSweep is the client count below which idle clients are not swept.
const minSweep = 1024

func newLimiter(name string, l Limit, now func() time.Time) *limiter {
	lim := &limiter{name: name, limit: l, now: now, clients: map[netip.Prefix]*rate.Limiter{}, sweepAt: minSweep}
	if l.Concurrent > 0 {
		lim.slots = make(chan struct{}, l.Concurrent)
	}
	return lim
}

// clientOf is the client a request is counted against: its IPv4 address or
// its IPv6 /64. An address that does not parse (not a TCP peer) shares one
// bucket with every other such request.
func clientOf(remoteAddr string) netip.Prefix {
	ap, err := netip.ParseAddrPort(remoteAddr)
	if err != nil {
		return netip.Prefix{}
	}
	a := ap.Addr().Unmap()
	if a.Is4() {
		return netip.PrefixFrom(a, 32)
	}
	p, _ := a.Prefix(64)
	return p
}

// allow takes a token from the client's bucket, or says how long until one
// is there.
func (l *limiter) allow(client netip.Prefix) (time.Duration, bool) {
	if l.limit.Rate == 0 {
		return 0, true
	}
	now := l.now()
	l.mu.Lock()
	defer l.mu.Unlock()
	b := l.clients[client]
	if b == nil {
		l.sweep(now)
		b = rate.NewLimiter(rate.Limit(l.limit.Rate), l.limit.Burst)
		l.clients[client] = b
	}
	r := b.ReserveN(now, 1)
	if d := r.DelayFrom(now); d > 0 {
		r.CancelAt(now)
		return d, false
	}
	return 0, true
}

// sweep forgets clients whose bucket has refilled (a new bucket is the same
// thing), once there are many, so memory follows the recently active
// clients rather than every address ever seen.
func (l *limiter) sweep(now time.Time) {
	if len(l.clients) < l.sweepAt {
		return
	}
	for c, b := range l.clients {
		if b.TokensAt(now) >= float64(l.limit.Burst) {
			delete(l.clients, c)
		}
	}
	l.sweepAt = max(minSweep, 2*len(l.clients))
}

// wrap applies the limit in front of h.
func (l *limiter) wrap(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if d, ok := l.allow(clientOf(r.RemoteAddr)); !ok {
			tooMany(w, d, rateLimited("%s: more than %g requests per second (burst %d) from this client; retry after %s",
				l.name, l.limit.Rate, l.limit.Burst, retryAfter(d)+"s"))
			return
		}
		if l.slots != nil {
			select {
			case l.slots <- struct{}{}:
				defer func() { <-l.slots }()
			default:
				tooMany(w, time.Second, rateLimited("%s: the node is serving its limit of %d such requests at once; retry after 1s",
					l.name, l.limit.Concurrent))
				return
			}
		}
		h.ServeHTTP(w, r)
	})
}

// retryAfter is a delay in whole seconds, rounded up (Retry-After has no
// fractions), at least 1.
func retryAfter(d time.Duration) string {
	return strconv.FormatInt(max(1, int64(math.Ceil(d.Seconds()))), 10)
}

func tooMany(w http.ResponseWriter, d time.Duration, e *Error) {
	w.Header().Set("Retry-After", retryAfter(d))
	writeErr(w, e)
}
