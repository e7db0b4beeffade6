package recordserver_test

import (
	"context"
	"crypto/ecdh"
	"crypto/ed25519"
	"crypto/sha256"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/medchain/medchain/ledger"
	"github.com/medchain/medchain/recordserver"
	"github.com/medchain/medchain/recordshare"
	"github.com/medchain/medchain/vault"
)

// fakeLedger is the ledger as the server sees it: accounts, shares, and
// close_share applied with the ledger's own rule (ledger.ShareRefusal).
type fakeLedger struct {
	mu       sync.Mutex
	accounts map[string]*ledger.Account
	shares   map[string]*ledger.Share
	now      time.Time
	closes   int
}

func (l *fakeLedger) Account(a string) (*ledger.Account, error) { return l.accounts[a], nil }

func (l *fakeLedger) Share(h string) (*ledger.Share, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if s := l.shares[h]; s != nil {
		c := *s
		return &c, nil
	}
	return nil, nil
}

func (l *fakeLedger) CloseShare(_ context.Context, h, outcome string) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	s := l.shares[h]
	if err := ledger.ShareRefusal(s, l.now.Unix()); err != nil {
		return err
	}
	s.Status = outcome
	l.closes++
	return nil
}

type fakeVault struct{ wallet string }

func (v fakeVault) Links() (*vault.Links, error) {
	return &vault.Links{Org: "st-mary", Links: []vault.Link{{Pseudonym: "p1", Wallet: v.wallet}}}, nil
}

func (fakeVault) Originals(ps []string) ([]vault.Original, error) {
	return []vault.Original{{Dataset: "d", Version: 1, MediaType: "text/csv", Data: []byte("id\nA1\n")}}, nil
}

func key(name string) (ed25519.PrivateKey, *ecdh.PrivateKey) {
	seed := sha256.Sum256([]byte("recordserver-test/" + name))
	enc, _ := ecdh.X25519().NewPrivateKey(seed[:])
	return ed25519.NewKeyFromSeed(seed[:]), enc
}

func account(name string, kind ledger.AccountKind) (*ledger.Account, ed25519.PrivateKey) {
	sk, enc := key(name)
	pk := sk.Public().(ed25519.PublicKey)
	return &ledger.Account{Address: ledger.Address(pk), PubKey: pk, EncKey: enc.PublicKey().Bytes(), Kind: kind}, sk
}

// A request the node served is refused again after the node restarts:
// the nonces it served are on disk until they expire.
func TestReplayRefusedAfterRestart(t *testing.T) {
	now := time.Unix(1_800_000_000, 0)
	patient, psk := account("patient", ledger.KindPatient)
	srv, _ := account("st-mary", ledger.KindInstitution)
	l := &fakeLedger{accounts: map[string]*ledger.Account{patient.Address: patient}, now: now}
	dir := t.TempDir()
	cfg := recordserver.Config{Chain: "c", Server: srv.Address, Org: "st-mary", Ledger: l,
		Vault: fakeVault{wallet: patient.Address}, Dir: dir, Now: func() time.Time { return now }}
	s, err := recordserver.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	req := recordshare.Sign(psk, recordshare.KindRecord, "c", srv.Address, "", now)
	if _, err := s.Record(context.Background(), req); err != nil {
		t.Fatal(err)
	}
	s.Close()
	s, err = recordserver.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if _, err := s.Record(context.Background(), req); ledger.CodeOf(err) != ledger.CodeBadNonce {
		t.Fatalf("replay after restart: %v", err)
	}
	// A fresh request is served.
	if _, err := s.Record(context.Background(), recordshare.Sign(psk, recordshare.KindRecord, "c", srv.Address, "", now)); err != nil {
		t.Fatal(err)
	}
	// A non-patient account gets no record.
	inst, isk := account("someone", ledger.KindInstitution)
	l.accounts[inst.Address] = inst
	if _, err := s.Record(context.Background(), recordshare.Sign(isk, recordshare.KindRecord, "c", srv.Address, "", now)); ledger.CodeOf(err) != ledger.CodeUnauthorized {
		t.Fatalf("institution asking for a record: %v", err)
	}
}

// Wrong passcodes sent at once are all counted: after MaxAttempts of
// them, however they race, the share is locked (close_share locked, once)
// and the right passcode opens nothing.
func TestConcurrentGuessesLock(t *testing.T) {
	now := time.Unix(1_800_000_000, 0)
	patient, _ := account("patient", ledger.KindPatient)
	srv, _ := account("st-mary", ledger.KindInstitution)
	sh, _, err := recordshare.NewLinkShare([]byte("ciphertext"), "correct horse", now.Unix()+3600)
	if err != nil {
		t.Fatal(err)
	}
	hash := sh.Hash(srv.Address)
	l := &fakeLedger{accounts: map[string]*ledger.Account{patient.Address: patient}, now: now,
		shares: map[string]*ledger.Share{hash: {Hash: hash, Owner: patient.Address, Recipient: ledger.ShareLink,
			Server: srv.Address, Expiry: sh.Expiry, Status: ledger.ShareActive}}}
	s, err := recordserver.New(recordserver.Config{Chain: "c", Server: srv.Address, Ledger: l, Vault: fakeVault{},
		Dir: t.TempDir(), MaxAttempts: 4, Now: func() time.Time { return now }})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if _, err := s.PutShare(context.Background(), sh); err != nil {
		t.Fatal(err)
	}
	// Someone who read the hash off the ledger, without the link's id,
	// is told nothing is here, and their guesses do not count.
	for range 20 {
		if _, err := s.OpenLink(context.Background(), hash, strings.Repeat("0", 32), "wrong guess"); ledger.CodeOf(err) != ledger.CodeNotFound {
			t.Fatalf("a guess without the link's id: %v", err)
		}
	}
	var wg sync.WaitGroup
	codes := make([]ledger.Code, 10)
	for i := range codes {
		wg.Go(func() {
			_, err := s.OpenLink(context.Background(), hash, sh.ID, "wrong guess")
			codes[i] = ledger.CodeOf(err)
		})
	}
	wg.Wait()
	wrong, locked := 0, 0
	for _, c := range codes {
		switch c {
		case ledger.CodeWrongPasscode:
			wrong++
		case ledger.CodeShareLocked:
			locked++
		default:
			t.Fatalf("a guess got %s", c)
		}
	}
	if wrong != 3 || locked != 7 || l.closes != 1 || l.shares[hash].Status != ledger.ShareLocked {
		t.Fatalf("%d wrong, %d locked, %d close_share, status %s", wrong, locked, l.closes, l.shares[hash].Status)
	}
	if _, err := s.OpenLink(context.Background(), hash, sh.ID, "correct horse"); ledger.CodeOf(err) != ledger.CodeShareLocked {
		t.Fatalf("right passcode after the lock: %v", err)
	}
}
