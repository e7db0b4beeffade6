package reqsig_test

import (
	"crypto/ed25519"
	"net/http"
	"testing"
	"time"

	"github.com/medchain/medchain/reqsig"
)

// BenchmarkSignAndCheck is one signed request end to end: the client signs,
// the node parses, verifies and records the nonce (no network).
func BenchmarkSignAndCheck(b *testing.B) {
	key := ed25519.NewKeyFromSeed(seed(11))
	now := time.Unix(1_800_000_000, 0)
	g := &reqsig.Guard{ChainID: "bench", Now: func() time.Time { return now }, Max: 1 << 30}
	for b.Loop() {
		req, _ := http.NewRequest("GET", "http://127.0.0.1:8080/v1/consents?limit=100", nil)
		if err := reqsig.SignHTTP(key, "bench", req, nil, now); err != nil {
			b.Fatal(err)
		}
		req.Host = req.URL.Host
		if _, err := g.Check(req, nil); err != nil {
			b.Fatal(err)
		}
	}
}
