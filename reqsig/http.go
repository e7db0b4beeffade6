package reqsig

import (
	"crypto/ed25519"
	"crypto/rand"
	"encoding/hex"
	"net/http"
	"sync"
	"time"
)

// SignHTTP signs req (whose body, if any, is body) as key for chainID at
// time now, with a fresh random nonce, and sets its Authorization header.
func SignHTTP(key ed25519.PrivateKey, chainID string, req *http.Request, body []byte, now time.Time) error {
	nonce := make([]byte, NonceLen)
	if _, err := rand.Read(nonce); err != nil {
		return err
	}
	h, err := Sign(key, &Request{ChainID: chainID, Method: req.Method, Host: req.URL.Host, Target: req.URL.RequestURI(),
		Time: now.Unix(), Nonce: hex.EncodeToString(nonce), Body: body})
	if err != nil {
		return err
	}
	req.Header.Set(Header, h)
	return nil
}

// Skew is how far a request's time may be from the verifier's clock,
// either way: wide enough for the clocks of browsers and laptops, narrow
// enough that the nonces of a window fit in memory.
const Skew = 5 * time.Minute

// DefaultMaxNonces bounds the nonces a Guard remembers. At the API's scan
// limits (docs/operations.md) a window's worth of requests is far below it;
// a Guard that is full refuses new requests (Busy) rather than forget a
// nonce that could then be replayed.
const DefaultMaxNonces = 200_000

// Guard verifies signed requests and refuses replays: it accepts a request
// only within Skew of its clock and only once. It is safe for concurrent
// use. One Guard serves one node: a request bound to this node's host
// cannot be replayed at another.
type Guard struct {
	ChainID string
	Now     func() time.Time // nil = time.Now
	Max     int              // nonces remembered at most; 0 = DefaultMaxNonces

	mu   sync.Mutex
	seen map[string]int64 // key+nonce → the unix time after which it may be forgotten
}

// Check verifies r's signature (body is its body, nil for a GET) and
// records its nonce. It returns the signer's public key.
func (g *Guard) Check(r *http.Request, body []byte) (ed25519.PublicKey, error) {
	a, err := Parse(r.Header.Get(Header))
	if err != nil {
		return nil, err
	}
	if err := Verify(a, Request{ChainID: g.ChainID, Method: r.Method, Host: r.Host, Target: r.URL.RequestURI(), Body: body}); err != nil {
		return nil, err
	}
	now := time.Now
	if g.Now != nil {
		now = g.Now
	}
	t := now().Unix()
	skew := int64(Skew / time.Second)
	if a.Time < t-skew || a.Time > t+skew {
		return nil, errf(Stale, "request signature: time %d is more than %d s from the node's clock (%d); sign with a current clock", a.Time, skew, t)
	}
	if err := g.remember(string(a.PubKey)+a.Nonce, a.Time+skew, t); err != nil {
		return nil, err
	}
	return a.PubKey, nil
}

// remember records id until forget (unix seconds); an id already recorded
// is a replay. Expired ids are dropped when the memory fills.
func (g *Guard) remember(id string, forget, now int64) error {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.seen == nil {
		g.seen = map[string]int64{}
	}
	if until, ok := g.seen[id]; ok && until >= now {
		return errf(Replayed, "request signature: this signed request was already served; sign each request afresh (a new nonce)")
	}
	max := g.Max
	if max == 0 {
		max = DefaultMaxNonces
	}
	if len(g.seen) >= max {
		for k, until := range g.seen {
			if until < now {
				delete(g.seen, k)
			}
		}
		if len(g.seen) >= max {
			return errf(Busy, "request signatures: the node is holding %d recent requests; retry in a minute", len(g.seen))
		}
	}
	g.seen[id] = forget
	return nil
}
