package e2e

import (
	"bytes"
	"fmt"
	"io"
	"net/http"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/medchain/medchain/keys"
	"github.com/medchain/medchain/ledger"
)

// committed is what the node reported about a transaction before the crash.
type committed struct {
	Height int64       `json:"height"`
	Index  int         `json:"index"`
	Code   ledger.Code `json:"code"`
}

func post(url string, body []byte) (int, []byte, error) {
	c := http.Client{Timeout: 5 * time.Second}
	resp, err := c.Post(url, "application/json", bytes.NewReader(body))
	if err != nil {
		return 0, nil, err
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, b, nil
}

// TestCrashSafety kills a node with SIGKILL while it commits a stream of
// transfers, restarts it, and checks that every transaction the node had
// reported committed is still there with the same result, and that the
// signed headers (and so the app hashes) of every height are unchanged.
func TestCrashSafety(t *testing.T) {
	home := filepath.Join(t.TempDir(), "home")
	ports := freePorts(t, 3)
	api, rpc, p2p := fmt.Sprintf("127.0.0.1:%d", ports[0]), fmt.Sprintf("127.0.0.1:%d", ports[1]), fmt.Sprintf("127.0.0.1:%d", ports[2])
	p := start(t, "up", "--home", home, "--api", api, "--rpc", rpc, "--p2p", p2p, "--block-time", "200ms")
	st := waitHeight(t, api, 2, 60*time.Second, p)

	from, err := keys.Load(filepath.Join(home, "keys"), "rita-researcher")
	if err != nil {
		t.Fatal(err)
	}
	to, err := keys.Load(filepath.Join(home, "keys"), "patient-1")
	if err != nil {
		t.Fatal(err)
	}

	// Load: sequential nonces, submitted without waiting.
	var (
		mu        sync.Mutex
		submitted []string
		stop      = make(chan struct{})
		wg        sync.WaitGroup
	)
	wg.Add(1)
	go func() {
		defer wg.Done()
		for nonce := uint64(0); ; nonce++ {
			select {
			case <-stop:
				return
			default:
			}
			tx, err := ledger.SignTx(from.Sign, st.ChainID, nonce, &ledger.Transfer{To: to.Address(), Amount: 1})
			if err != nil {
				t.Error(err)
				return
			}
			code, _, err := post("http://"+api+"/v1/txs", tx)
			if err != nil || (code != 200 && code != 202) {
				return // the node is gone
			}
			mu.Lock()
			submitted = append(submitted, ledger.TxHash(tx))
			mu.Unlock()
		}
	}()

	// Collect what the node reports committed, then crash it mid-stream.
	seen := map[string]committed{}
	deadline := time.Now().Add(4 * time.Second)
	for time.Now().Before(deadline) {
		mu.Lock()
		hashes := append([]string(nil), submitted...)
		mu.Unlock()
		for _, h := range hashes {
			if _, ok := seen[h]; ok {
				continue
			}
			var c committed
			if getJSON("http://"+api+"/v1/txs/"+h, &c) == nil {
				seen[h] = c
			}
		}
		time.Sleep(100 * time.Millisecond)
	}
	last, err := getStatus(api)
	if err != nil {
		t.Fatal(err)
	}
	headers := map[int64]string{}
	for h := int64(1); h <= last.Height; h++ {
		if headers[h], err = headerAppHash(rpc, h); err != nil {
			t.Fatal(err)
		}
	}
	p.kill9()
	close(stop)
	wg.Wait()
	if len(seen) < 20 {
		t.Fatalf("only %d transactions committed before the crash; the load did not run", len(seen))
	}
	t.Logf("killed at height %d with %d of %d submitted transactions reported committed", last.Height, len(seen), len(submitted))

	p = start(t, "up", "--home", home, "--api", api)
	waitHeight(t, api, last.Height+2, 60*time.Second, p)
	for h, want := range seen {
		var got committed
		if err := getJSON("http://"+api+"/v1/txs/"+h, &got); err != nil {
			t.Fatalf("tx %s reported committed before the crash is gone: %v", h, err)
		}
		if got != want || got.Code != ledger.CodeOK {
			t.Fatalf("tx %s: before crash %+v, after %+v", h, want, got)
		}
	}
	for h, want := range headers {
		got, err := headerAppHash(rpc, h)
		if err != nil {
			t.Fatal(err)
		}
		if got != want {
			t.Fatalf("header %d app hash changed across the crash: %s -> %s", h, want, got)
		}
	}
	p.interrupt(t)
}
