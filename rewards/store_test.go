package rewards_test

import (
	"bytes"
	"crypto/ed25519"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/medchain/medchain/ledger"
	"github.com/medchain/medchain/rewards"
)

// The tally file holds no pseudonym in the clear, and a modified file, or
// the file under another key, is reported corrupt rather than read as empty.
func TestStoreSealsTheTally(t *testing.T) {
	path := filepath.Join(t.TempDir(), "rewards", "org.tally")
	key := [32]byte{7}
	st, err := rewards.OpenStore(path, key)
	if err != nil {
		t.Fatal(err)
	}
	pseudonym := "3f9a0c1d2e4b5a6978877665544332211"
	if err := st.Update(func(tl *rewards.Tally) error { return tl.Accrue(4, "cardio", 300, []string{pseudonym, "b", "c"}) }); err != nil {
		t.Fatal(err)
	}
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range []string{pseudonym, "cardio"} {
		if bytes.Contains(raw, []byte(s)) {
			t.Fatalf("the tally file holds %q in the clear", s)
		}
	}
	var n int
	if err := st.View(func(tl *rewards.Tally) error { n = len(tl.Entries); return nil }); err != nil || n != 1 {
		t.Fatalf("read back %d entries: %v", n, err)
	}
	other, _ := rewards.OpenStore(filepath.Join(filepath.Dir(path), "..", "rewards", "org.tally"), [32]byte{8})
	if err := other.View(func(*rewards.Tally) error { return nil }); !errors.Is(err, rewards.ErrCorrupt) {
		t.Fatalf("another key: %v", err)
	}
	raw[len(raw)-1] ^= 1
	if err := os.WriteFile(path, raw, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := st.View(func(*rewards.Tally) error { return nil }); !errors.Is(err, rewards.ErrCorrupt) {
		t.Fatalf("a modified file: %v", err)
	}
}

// A request is refused naming the field that is wrong.
func TestRequestVerify(t *testing.T) {
	_, key, _ := ed25519.GenerateKey(nil)
	now := time.Unix(1_700_000_000, 0)
	good := func() *rewards.Request {
		return &rewards.Request{ChainID: "c", Org: "hosp", Action: rewards.ActionVouchers, Recipient: strings.Repeat("a", 40),
			ID: strings.Repeat("0", 64), Time: now.Unix()}
	}
	r := good()
	r.Sign(key)
	if _, err := r.Verify("c", "hosp", now); err != nil {
		t.Fatal(err)
	}
	for field, bad := range map[string]func(r *rewards.Request){
		"chain_id":  func(r *rewards.Request) { r.ChainID = "d" },
		"org":       func(r *rewards.Request) { r.Org = "lab" },
		"action":    func(r *rewards.Request) { r.Action = "steal" },
		"recipient": func(r *rewards.Request) { r.Recipient = "me" },
		"id":        func(r *rewards.Request) { r.ID = "short" },
		"time":      func(r *rewards.Request) { r.Time = now.Add(-time.Hour).Unix() },
		"unit":      func(r *rewards.Request) { r.Unit = 10 },
		"notes":     func(r *rewards.Request) { r.Notes = rewards.MaxVouchers + 1 },
	} {
		r := good()
		bad(r)
		r.Sign(key)
		var re *rewards.RequestError
		if _, err := r.Verify("c", "hosp", now); !errors.As(err, &re) || re.Field != field {
			t.Errorf("%s: %v", field, err)
		}
	}
	r = good()
	r.Sign(key)
	r.Recipient = strings.Repeat("b", 40) // changed after signing
	var re *rewards.RequestError
	if _, err := r.Verify("c", "hosp", now); !errors.As(err, &re) || re.Field != "signature" {
		t.Errorf("a request changed after signing: %v", err)
	}
	r = good()
	r.Sign(key)
	r.Notes = 1 // changed after signing
	if _, err := r.Verify("c", "hosp", now); !errors.As(err, &re) || re.Field != "signature" {
		t.Errorf("a request whose notes changed after signing: %v", err)
	}
}

// Notes: the binary digits of the amount, largest first, none below the
// unit, and as many of the largest denomination as it takes.
func TestDenominate(t *testing.T) {
	for _, c := range []struct {
		amount, unit uint64
		want         []uint64
	}{
		{0, 1, nil}, {3456, 1, []uint64{2048, 1024, 256, 128}}, {23, 1, []uint64{16, 4, 2, 1}},
		{23, 4, []uint64{16, 4}}, {3, 4, nil},
		{1<<21 + 1<<20 + 1, 0, []uint64{1 << 20, 1 << 20, 1 << 20, 1}},
	} {
		if got := rewards.Denominate(c.amount, c.unit); !slices.Equal(got, c.want) {
			t.Errorf("Denominate(%d, %d) = %v, want %v", c.amount, c.unit, got, c.want)
		}
	}
}

// Only releases whose site was paid count: a job still running, or one
// that closed without the site's result, earns nothing.
func TestBalanceCountsPaidReleasesOnly(t *testing.T) {
	var tl rewards.Tally
	cohort := []string{"p0", "p1", "p2", "p3", "p4", "p5", "p6", "p7", "p8", "p9"}
	for job := range uint64(3) {
		if err := tl.Accrue(job, "ds", 100, cohort); err != nil {
			t.Fatal(err)
		}
	}
	paid := func(job uint64, ds string) (bool, error) { return job == 0, nil }
	// 100 tokens over 10 rows: 10 each, exactly.
	if b, err := tl.Balance([]string{"p3"}, paid); err != nil || b != 10 {
		t.Fatalf("balance %d (%v), want 10: only job 0 paid", b, err)
	}
	tl.Forget(2, "ds")
	if len(tl.Entries) != 2 {
		t.Fatalf("%d entries after Forget", len(tl.Entries))
	}
	if err := tl.Accrue(0, "ds", 100, cohort[:5]); err != nil || len(tl.Entries) != 2 {
		t.Fatalf("a retried release replaces its entry: %d entries, %v", len(tl.Entries), err)
	}
	if b, _ := tl.Balance([]string{"p3"}, paid); b != 20 {
		t.Fatalf("balance %d after the retry, want 20", b)
	}
}

// A share is split exactly over the true cohort: floor(share/n) each and
// the remainder one token each to rows of a keyed order — the same rows
// when the release is accrued again, different rows under another key or
// for another job, and never a row outside the cohort.
func TestSplitIsExactAndKeyed(t *testing.T) {
	cohort := make([]string, 37)
	for i := range cohort {
		cohort[i] = fmt.Sprintf("p%03d", i)
	}
	plus := func(key byte, job uint64) []string {
		tl := rewards.Tally{Key: bytes.Repeat([]byte{key}, 32)}
		if err := tl.Accrue(job, "ds", 299, cohort); err != nil {
			t.Fatal(err)
		}
		e := tl.Entries[0]
		var sum uint64
		for _, p := range append(slices.Clone(cohort), "outsider") {
			sum += e.Earned(p)
		}
		if sum != 299 || e.Base != 299/37 || len(e.Plus) != 299%37 || e.Earned("outsider") != 0 {
			t.Fatalf("a share of 299 over 37 rows: base %d, %d rows one more, %d in all", e.Base, len(e.Plus), sum)
		}
		return e.Plus
	}
	if !slices.Equal(plus(1, 0), plus(1, 0)) {
		t.Error("the same release under the same key splits differently")
	}
	if slices.Equal(plus(1, 0), plus(2, 0)) || slices.Equal(plus(1, 0), plus(1, 1)) {
		t.Error("the remainder goes to the same rows under another key or for another job")
	}
	var tl rewards.Tally
	if err := tl.Accrue(0, "ds", 5, cohort); err != nil || len(tl.Key) != 32 {
		t.Fatalf("the first Accrue draws the tally's key: %d bytes, %v", len(tl.Key), err)
	}
}

// A signed request is answered once: the same request again is refused
// for as long as its time could verify, and forgotten after.
func TestAdmitRefusesReplays(t *testing.T) {
	_, key, _ := ed25519.GenerateKey(nil)
	now := time.Unix(1_700_000_000, 0)
	r := &rewards.Request{ChainID: "c", Org: "hosp", Action: rewards.ActionBalance, ID: strings.Repeat("1", 64), Time: now.Unix()}
	r.Sign(key)
	var tl rewards.Tally
	if err := tl.Admit("w", r, now); err != nil {
		t.Fatal(err)
	}
	if err := tl.Admit("w", r, now.Add(rewards.MaxRequestAge)); !errors.Is(err, rewards.ErrReplayed) {
		t.Fatalf("a replay at the window's end: %v", err)
	}
	if err := tl.Admit("v", r, now); err != nil {
		t.Fatalf("another wallet's request with the same id: %v", err)
	}
	if err := tl.Admit("x", r, now.Add(rewards.MaxRequestAge+time.Second)); err != nil || len(tl.Seen) != 1 {
		t.Fatalf("requests past their window are forgotten: %d remembered, %v", len(tl.Seen), err)
	}
}

// Notes issued and not claimed are offered again until the ledger shows
// them claimed.
func TestOutstandingNotes(t *testing.T) {
	cohort := []string{"p0", "p1", "p2", "p3", "p4", "p5", "p6", "p7", "p8", "p9"}
	var tl rewards.Tally
	if err := tl.Accrue(0, "ds", 230, cohort); err != nil {
		t.Fatal(err)
	}
	_, key, _ := ed25519.GenerateKey(nil)
	paid := func(uint64, string) (bool, error) { return true, nil }
	vs, err := tl.Issue(rewards.IssueRequest{Wallet: "w", Recipient: strings.Repeat("a", 40), Pseudonyms: []string{"p1"}}, "hosp", "c", key, paid, crand{rand.New(rand.NewPCG(3, 4))})
	if err != nil || len(vs) != 4 { // 230 over 10 rows: 23 = 16 + 4 + 2 + 1
		t.Fatalf("%d notes for 23: %v", len(vs), err)
	}
	if got := tl.Outstanding("w"); len(got) != len(vs) || len(tl.Outstanding("v")) != 0 {
		t.Fatalf("outstanding: %d of %d notes; another wallet's: %d", len(got), len(vs), len(tl.Outstanding("v")))
	}
	claimed := map[string]bool{vs[0].Nullifier: true}
	if err := tl.Prune("w", func(n string) (bool, error) { return claimed[n], nil }); err != nil {
		t.Fatal(err)
	}
	if got := tl.Outstanding("w"); len(got) != len(vs)-1 || slices.ContainsFunc(got, func(v ledger.Voucher) bool { return claimed[v.Nullifier] }) {
		t.Fatalf("after one claim: %d outstanding", len(got))
	}
	if err := tl.Prune("w", func(string) (bool, error) { return true, nil }); err != nil || len(tl.Issued) != 0 {
		t.Fatalf("all claimed: %d issued entries left, %v", len(tl.Issued), err)
	}
}

// A tally written under the old rule (no Plus lists) is split exactly when
// it is read, and what was paid stands.
func TestStoreUpgradesAnOldTally(t *testing.T) {
	path := filepath.Join(t.TempDir(), "org.tally")
	st, err := rewards.OpenStore(path, [32]byte{3})
	if err != nil {
		t.Fatal(err)
	}
	if err := st.Update(func(tl *rewards.Tally) error {
		tl.Entries = []rewards.Entry{{Job: 1, Dataset: "ds", Share: 100, Cohort: []string{"a", "b", "c"}}}
		tl.Paid = map[string]uint64{"a": 20}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	paid := func(uint64, string) (bool, error) { return true, nil }
	if err := st.View(func(tl *rewards.Tally) error {
		e := tl.Entries[0]
		if e.Base != 33 || len(e.Plus) != 1 || e.Earned("a")+e.Earned("b")+e.Earned("c") != 100 || len(tl.Key) != 32 {
			return fmt.Errorf("upgraded entry %+v", e)
		}
		b, err := tl.Balance([]string{"a"}, paid)
		if err != nil || b != e.Earned("a")-20 {
			return fmt.Errorf("a's balance %d (%v), earned %d, paid 20", b, err, e.Earned("a"))
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
}
