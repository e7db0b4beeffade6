package recordserver

import (
	"context"
	"encoding/hex"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/medchain/medchain/ledger"
	"github.com/medchain/medchain/recordshare"
	"github.com/medchain/medchain/vault"
)

type noLedger struct{}

func (noLedger) Account(string) (*ledger.Account, error)          { return nil, nil }
func (noLedger) Share(string) (*ledger.Share, error)              { return nil, nil }
func (noLedger) CloseShare(context.Context, string, string) error { return nil }

type noVault struct{}

func (noVault) Links() (*vault.Links, error)                 { return &vault.Links{}, nil }
func (noVault) Originals([]string) ([]vault.Original, error) { return nil, nil }

// The nonce file holds minutes of requests, not all of them: once enough
// nonces are remembered, the expired ones are dropped from memory and
// from disk, and the live ones still refuse a replay, also after a
// restart.
func TestNoncesCompacted(t *testing.T) {
	now := time.Unix(1_800_000_000, 0)
	clock := func() time.Time { return now }
	dir := t.TempDir()
	cfg := Config{Chain: "c", Server: strings.Repeat("a", 40), Ledger: noLedger{}, Vault: noVault{}, Dir: dir, Now: clock}
	s, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	req := func(i int, expires int64) *recordshare.Request {
		n := make([]byte, 16)
		n[0], n[1] = byte(i), byte(i>>8)
		return &recordshare.Request{Signer: strings.Repeat("b", 40), Nonce: hex.EncodeToString(n), Expires: expires}
	}
	for i := range 4000 {
		if err := s.useNonce(req(i, now.Unix()+60)); err != nil {
			t.Fatal(err)
		}
	}
	before, _ := os.Stat(s.noncePath())
	now = now.Add(2 * time.Minute) // all 4000 expired
	live := req(5000, now.Unix()+60)
	for i := 4000; i < 4100; i++ {
		r := req(i, now.Unix()+60)
		if i == 4099 {
			r = live
		}
		if err := s.useNonce(r); err != nil {
			t.Fatal(err)
		}
	}
	after, _ := os.Stat(s.noncePath())
	if len(s.nonces) > 200 || after.Size() >= before.Size()/10 {
		t.Fatalf("not compacted: %d nonces in memory, file %d bytes (was %d)", len(s.nonces), after.Size(), before.Size())
	}
	if ledger.CodeOf(s.useNonce(live)) != ledger.CodeBadNonce {
		t.Fatal("a live nonce was forgotten")
	}
	s.Close()
	if s, err = New(cfg); err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if ledger.CodeOf(s.useNonce(live)) != ledger.CodeBadNonce {
		t.Fatal("a live nonce was forgotten across a restart")
	}
}
