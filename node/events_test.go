package node_test

import (
	"bufio"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/medchain/medchain/api/apitest"
)

// An open event stream (GET /v1/events) ends when the node stops, and the
// stop succeeds: the API server's base context is cancelled before its
// graceful shutdown, so a stream never holds the node up.
func TestEventStreamEndsWhenTheNodeStops(t *testing.T) {
	n, err := apitest.Start()
	if err != nil {
		t.Fatal(err)
	}
	defer os.RemoveAll(filepath.Dir(n.Home))
	resp, err := http.Get(n.URL + "/v1/events")
	if err != nil {
		n.Node.Stop()
		t.Fatal(err)
	}
	defer resp.Body.Close()
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() && !strings.HasPrefix(sc.Text(), "event: block") {
	}
	if !strings.HasPrefix(sc.Text(), "event: block") {
		n.Node.Stop()
		t.Fatalf("no block event: %v", sc.Err())
	}
	stopped := make(chan error, 1)
	start := time.Now()
	go func() { stopped <- n.Node.Stop() }()
	for sc.Scan() { // the stream goes on until the node stops, then ends
	}
	if err := <-stopped; err != nil {
		t.Fatalf("stop with an open event stream: %v", err)
	}
	t.Logf("stream ended and node stopped in %v", time.Since(start).Round(time.Millisecond))
}
