package rewards_test

import (
	"bytes"
	"crypto/ed25519"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

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
}

// Denominations: the fewest, largest first, none below the unit.
func TestDenominate(t *testing.T) {
	for _, c := range []struct {
		amount, unit uint64
		want         []uint64
	}{
		{0, 1, nil}, {3456, 1, []uint64{1000, 1000, 1000, 100, 100, 100, 100, 10, 10, 10, 10, 10, 1, 1, 1, 1, 1, 1}},
		{3456, 10, []uint64{1000, 1000, 1000, 100, 100, 100, 100, 10, 10, 10, 10, 10}}, {9, 10, nil},
		{2_000_001, 0, []uint64{1_000_000, 1_000_000, 1}},
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
	// 100 tokens over 10 rows split as over 16 (the next power of two, so
	// a patient's earnings do not give away the exact cohort): 6.25 each.
	if b, err := tl.Balance([]string{"p3"}, paid); err != nil || b != 6 {
		t.Fatalf("balance %d (%v), want 6: only job 0 paid", b, err)
	}
	tl.Forget(2, "ds")
	if len(tl.Entries) != 2 {
		t.Fatalf("%d entries after Forget", len(tl.Entries))
	}
	if err := tl.Accrue(0, "ds", 100, cohort[:5]); err != nil || len(tl.Entries) != 2 {
		t.Fatalf("a retried release replaces its entry: %d entries, %v", len(tl.Entries), err)
	}
	// 100 over 5 rows split as over 8: 12.5, paid in whole tokens.
	if b, _ := tl.Balance([]string{"p3"}, paid); b != 12 {
		t.Fatalf("balance %d after the retry, want 12", b)
	}
}

// A patient's earnings from one use, with the share public, must not give
// away the exact cohort: cohorts of 37 and 60 rows earn the same per row.
func TestEarningsDoNotRevealTheCohort(t *testing.T) {
	per := func(n int) uint64 {
		var tl rewards.Tally
		cohort := make([]string, n)
		for i := range cohort {
			cohort[i] = fmt.Sprintf("p%03d", i)
		}
		if err := tl.Accrue(0, "ds", 40, cohort); err != nil {
			t.Fatal(err)
		}
		return tl.Entries[0].PerRow
	}
	if a, b := per(37), per(60); a != b {
		t.Errorf("per-row earnings %d and %d tell cohorts of 37 and 60 apart", a, b)
	}
	if per(64) == per(65) {
		t.Error("the split should double past 64 rows")
	}
}
