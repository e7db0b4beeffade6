// Package e2e starts the real medchain binary, as a user would, and checks
// what the README and the acceptance criteria promise: the quick start,
// crash safety under kill -9, and a 4-validator consortium that survives
// the loss of one member.
package e2e

import (
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

var binary string

func TestMain(m *testing.M) {
	flag.Parse()
	if testing.Short() {
		fmt.Println("e2e: skipped in -short mode")
		os.Exit(0)
	}
	dir, err := os.MkdirTemp("", "medchain-e2e-bin")
	if err != nil {
		panic(err)
	}
	binary = filepath.Join(dir, "medchain")
	build := exec.Command("go", "build", "-o", binary, "../cmd/medchain")
	build.Stdout, build.Stderr = os.Stdout, os.Stderr
	if err := build.Run(); err != nil {
		fmt.Println("e2e: build failed:", err)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// freePorts returns n distinct free TCP ports on 127.0.0.1.
func freePorts(t *testing.T, n int) []int {
	t.Helper()
	var ls []net.Listener
	var ports []int
	for i := 0; i < n; i++ {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		ls = append(ls, l)
		ports = append(ports, l.Addr().(*net.TCPAddr).Port)
	}
	for _, l := range ls {
		l.Close()
	}
	return ports
}

// freeBase finds a base port with 10*n consecutive free ports (testnet layout).
func freeBase(t *testing.T, n int) int {
	t.Helper()
	for base := 30000 + os.Getpid()%2000*10; base < 60000; base += 137 {
		ok := true
		var ls []net.Listener
		for p := base; p < base+10*n; p++ {
			l, err := net.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", p))
			if err != nil {
				ok = false
				break
			}
			ls = append(ls, l)
		}
		for _, l := range ls {
			l.Close()
		}
		if ok {
			return base
		}
	}
	t.Fatal("no free port range")
	return 0
}

// proc is a running medchain process.
type proc struct {
	cmd *exec.Cmd
	out *syncBuffer
}

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func start(t *testing.T, args ...string) *proc {
	t.Helper()
	p := &proc{cmd: exec.Command(binary, args...), out: &syncBuffer{}}
	p.cmd.Stdout, p.cmd.Stderr = p.out, p.out
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if p.cmd.ProcessState == nil {
			p.cmd.Process.Kill()
			p.cmd.Wait()
		}
	})
	return p
}

func run(t *testing.T, args ...string) string {
	t.Helper()
	out, err := exec.Command(binary, args...).CombinedOutput()
	if err != nil {
		t.Fatalf("medchain %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return string(out)
}

// interrupt sends Ctrl-C and waits for a clean exit.
func (p *proc) interrupt(t *testing.T) {
	t.Helper()
	p.cmd.Process.Signal(syscall.SIGINT)
	done := make(chan error, 1)
	go func() { done <- p.cmd.Wait() }()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("exit after Ctrl-C: %v\n%s", err, p.out)
		}
	case <-time.After(30 * time.Second):
		p.cmd.Process.Kill()
		t.Fatalf("did not stop within 30 s of Ctrl-C\n%s", p.out)
	}
}

// kill9 kills the process without warning.
func (p *proc) kill9() {
	p.cmd.Process.Signal(syscall.SIGKILL)
	p.cmd.Wait()
}

type status struct {
	ChainID string `json:"chain_id"`
	Height  int64  `json:"height"`
	AppHash string `json:"app_hash"`
}

func getJSON(url string, v any) error {
	c := http.Client{Timeout: 5 * time.Second}
	resp, err := c.Get(url)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 200 {
		return fmt.Errorf("GET %s: %s: %s", url, resp.Status, b)
	}
	return json.Unmarshal(b, v)
}

func getStatus(api string) (status, error) {
	var s status
	err := getJSON("http://"+api+"/v1/status", &s)
	return s, err
}

// waitHeight polls the API until the chain reaches height h.
func waitHeight(t *testing.T, api string, h int64, within time.Duration, p *proc) status {
	t.Helper()
	deadline := time.Now().Add(within)
	var last status
	var lastErr error
	for time.Now().Before(deadline) {
		last, lastErr = getStatus(api)
		if lastErr == nil && last.Height >= h {
			return last
		}
		time.Sleep(200 * time.Millisecond)
	}
	out := ""
	if p != nil {
		out = p.out.String()
	}
	t.Fatalf("height %d not reached on %s within %v (last %+v, err %v)\n%s", h, api, within, last, lastErr, out)
	return last
}

// headerAppHash reads the app hash in the block header at height h from
// CometBFT's own RPC: the validators signed it.
func headerAppHash(rpc string, h int64) (string, error) {
	var r struct {
		Result struct {
			SignedHeader struct {
				Header struct {
					AppHash string `json:"app_hash"`
				} `json:"header"`
			} `json:"signed_header"`
		} `json:"result"`
	}
	if err := getJSON(fmt.Sprintf("http://%s/commit?height=%d", rpc, h), &r); err != nil {
		return "", err
	}
	return strings.ToLower(r.Result.SignedHeader.Header.AppHash), nil
}
