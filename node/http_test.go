package node

import (
	"bufio"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// startServer serves h on a loopback port with the API server's settings.
func startServer(t *testing.T, h http.Handler, hs HTTPSettings) (string, *countingListener) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv, cl := apiServer(ln, h, hs)
	go srv.Serve(cl)
	t.Cleanup(func() { srv.Close() })
	return ln.Addr().String(), cl
}

// keepAlive opens a connection, gets one answer on it and leaves it open.
func keepAlive(t *testing.T, addr string) net.Conn {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	if _, err := io.WriteString(c, "GET / HTTP/1.1\r\nHost: x\r\n\r\n"); err != nil {
		t.Fatal(err)
	}
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return c
}

// With the cap reached, a new client is not served until a connection
// closes; the count of open connections never passes the cap.
func TestConnectionCap(t *testing.T) {
	hs := DefaultHTTP()
	hs.MaxConns = 2
	hs.IdleTimeout = Duration(time.Minute) // the held connections stay
	addr, cl := startServer(t, http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { io.WriteString(w, "ok") }), hs)
	a, _ := keepAlive(t, addr), keepAlive(t, addr)
	if n := cl.Open(); n != 2 {
		t.Fatalf("%d connections open, want 2", n)
	}
	answered := make(chan error, 1)
	go func() {
		resp, err := (&http.Client{Transport: &http.Transport{DisableKeepAlives: true}}).Get("http://" + addr + "/")
		if err == nil {
			resp.Body.Close()
		}
		answered <- err
	}()
	// The third client's connection waits in the kernel's backlog: no
	// answer while both slots are held. (Not a timing assertion: it cannot
	// be answered at all until a slot frees, however long one waits.)
	select {
	case err := <-answered:
		t.Fatalf("a third client was served past the cap of 2 (err %v)", err)
	case <-time.After(500 * time.Millisecond):
	}
	if n := cl.Open(); n != 2 {
		t.Fatalf("%d connections open, cap 2", n)
	}
	a.Close()
	select {
	case err := <-answered:
		if err != nil {
			t.Fatalf("third client after a slot freed: %v", err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("the third client was not served after a connection closed")
	}
}

// A connection that sends headers then trickles nothing of its body, one
// that sends half its headers, and an idle keep-alive connection are all
// closed by the server, each within its timeout.
func TestServerClosesSlowAndIdleConnections(t *testing.T) {
	hs := DefaultHTTP()
	hs.ReadHeaderTimeout, hs.ReadTimeout, hs.IdleTimeout = Duration(time.Second), Duration(time.Second), Duration(time.Second)
	addr, cl := startServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		io.WriteString(w, "ok")
	}), hs)
	conns := []net.Conn{keepAlive(t, addr)}
	for _, head := range []string{
		"POST /v1/txs HTTP/1.1\r\nHost: x\r\nContent-Length: 1000\r\n\r\n{", // slow body
		"GET /v1/status HTTP/1.1\r\nHost: x\r\n",                            // slow headers
	} {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { c.Close() })
		if _, err := io.WriteString(c, head); err != nil {
			t.Fatal(err)
		}
		conns = append(conns, c)
	}
	for i, c := range conns {
		waitClosed(t, c, 30*time.Second, i)
	}
	deadline := time.Now().Add(10 * time.Second)
	for cl.Open() != 0 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if n := cl.Open(); n != 0 {
		t.Fatalf("%d connections still counted open", n)
	}
}

// waitClosed reads until the server closes c; within bound is a guard
// against a hang, far above the timeouts, not a latency check.
func waitClosed(t *testing.T, c net.Conn, bound time.Duration, i int) {
	t.Helper()
	c.SetReadDeadline(time.Now().Add(bound))
	_, err := io.Copy(io.Discard, c)
	if ne, ok := err.(net.Error); ok && ne.Timeout() {
		t.Fatalf("connection %d: still open after %s: the server did not close it", i, bound)
	}
}

func TestHTTPSettingsFile(t *testing.T) {
	home := t.TempDir()
	write := func(http string) {
		t.Helper()
		b := `{"api": "127.0.0.1:0"` + http + "}"
		if err := os.WriteFile(filepath.Join(home, "medchain.json"), []byte(b), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	write("")
	h, err := LoadHTTP(home)
	if err != nil || h != DefaultHTTP() {
		t.Fatalf("no http object: %+v %v, want the defaults", h, err)
	}
	write(`, "http": {"read_timeout": "3s", "limits": {"verify": {"rate": 2, "burst": 4}}}`)
	if h, err = LoadHTTP(home); err != nil {
		t.Fatal(err)
	}
	want := DefaultHTTP()
	want.ReadTimeout, want.Limits.Verify.Rate, want.Limits.Verify.Burst = Duration(3*time.Second), 2, 4
	if h != want {
		t.Fatalf("settings %+v, want %+v (the rest from the defaults)", h, want)
	}
	for body, msg := range map[string]string{
		`, "http": {"read_timout": "3s"}`:                         `"http": json: unknown field "read_timout"`,
		`, "http": {"idle_timeout": "soon"}`:                      `"soon" is not a duration`,
		`, "http": {"write_timeout": "0s"}`:                       `"http": write_timeout: 0s is not a timeout`,
		`, "http": {"max_conns": 0}`:                              `"http": max_conns: 0 is not a connection count`,
		`, "http": {"limits": {"scan": {"rate": 1, "burst": 0}}}`: `"http": limits.scan.burst: must be at least 1`,
		`, "http": {"limits": {"verify": {"concurrent": -1}}}`:    `limits.verify.concurrent: -1 is negative`,
	} {
		write(body)
		_, err := LoadHTTP(home)
		if err == nil || !strings.Contains(err.Error(), msg) || !strings.Contains(err.Error(), "medchain.json") {
			t.Errorf("%s: %v, want an error naming medchain.json and %q", body, err, msg)
		}
	}
}

func TestSetLimit(t *testing.T) {
	h := DefaultHTTP()
	for spec, want := range map[string]string{
		"verify=5:10:1": `{"rate":5,"burst":10,"concurrent":1}`,
		"verify=2.5":    `{"rate":2.5,"burst":3,"concurrent":1}`, // burst: the rate rounded up; the cap kept
		"verify=0":      `{"rate":0,"burst":0,"concurrent":1}`,   // no per-client limit
	} {
		if err := h.SetLimit(spec); err != nil {
			t.Fatalf("%s: %v", spec, err)
		}
		if b, _ := json.Marshal(h.Limits.Verify); string(b) != want {
			t.Errorf("%s: %s, want %s", spec, b, want)
		}
	}
	for spec, msg := range map[string]string{
		"proofs=1":        "CLASS verify, submit or scan",
		"scan":            "want CLASS=RATE",
		"scan=fast":       `rate "fast" is not a number`,
		"scan=1:x":        `burst "x" is not a whole number`,
		"scan=1:2:3:4":    "at most three numbers",
		"submit=5:0":      "limits.submit.burst: must be at least 1",
		"submit=1:1:many": `concurrent "many"`,
	} {
		if err := h.SetLimit(spec); err == nil || !strings.Contains(err.Error(), msg) {
			t.Errorf("%s: %v, want %q", spec, err, msg)
		}
	}
}
