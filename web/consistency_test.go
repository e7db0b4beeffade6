package web_test

import (
	"encoding/hex"
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	"github.com/medchain/medchain/audit"
	"github.com/medchain/medchain/store"
)

// TestBrowserChecksConsistencyLikeGo holds the audit explorer's consistency
// check (web/app/src/audit.ts) to package audit's: over a log of 70
// entries, for size pairs that cover the empty log, equal sizes, powers of
// two and not, and for each pair with one proof hash flipped, a wrong
// earlier root and a proof one hash short, the browser accepts exactly what
// audit.VerifyConsistency accepts.
func TestBrowserChecksConsistencyLikeGo(t *testing.T) {
	browser := chromium(t)
	log, err := audit.Open(store.NewOverlay(store.NewMem()), []byte("a/"))
	if err != nil {
		t.Fatal(err)
	}
	for i := range 70 {
		if _, err := log.Append(fmt.Appendf(nil, "entry %d", i)); err != nil {
			t.Fatal(err)
		}
	}
	type vector struct {
		Name  string   `json:"name"`
		Size1 uint64   `json:"size1"`
		Size2 uint64   `json:"size2"`
		Proof []string `json:"proof"`
		Root1 string   `json:"root1"`
		Root2 string   `json:"root2"`
		GoOK  bool     `json:"-"`
	}
	var vs []vector
	add := func(name string, s1, s2 uint64, proof [][]byte, r1, r2 []byte) {
		v := vector{Name: name, Size1: s1, Size2: s2, Proof: []string{}, Root1: hex.EncodeToString(r1), Root2: hex.EncodeToString(r2)}
		for _, p := range proof {
			v.Proof = append(v.Proof, hex.EncodeToString(p))
		}
		v.GoOK = audit.VerifyConsistency(s1, s2, proof, r1, r2) == nil
		vs = append(vs, v)
	}
	pairs := [][2]uint64{{0, 5}, {1, 1}, {1, 2}, {1, 70}, {2, 3}, {3, 7}, {4, 8}, {5, 6}, {6, 70}, {7, 8}, {8, 64}, {13, 37}, {16, 17}, {31, 32}, {32, 70}, {63, 64}, {64, 70}, {69, 70}, {70, 70}}
	for _, p := range pairs {
		proof, err := log.ConsistencyProof(p[0], p[1])
		if err != nil {
			t.Fatal(err)
		}
		r1, err := log.RootAt(p[0])
		if err != nil {
			t.Fatal(err)
		}
		r2, err := log.RootAt(p[1])
		if err != nil {
			t.Fatal(err)
		}
		name := fmt.Sprintf("%d→%d", p[0], p[1])
		add(name, p[0], p[1], proof, r1, r2)
		if len(proof) > 0 {
			flipped := make([][]byte, len(proof))
			for i := range proof {
				flipped[i] = append([]byte{}, proof[i]...)
			}
			flipped[len(flipped)-1][3] ^= 1
			add(name+" flipped hash", p[0], p[1], flipped, r1, r2)
			add(name+" one hash short", p[0], p[1], proof[:len(proof)-1], r1, r2)
		}
		wrong := append([]byte{}, r1...)
		wrong[0] ^= 1
		add(name+" wrong earlier root", p[0], p[1], proof, wrong, r2)
	}
	raw, err := json.Marshal(vs)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	if err := json.Unmarshal([]byte(vectorHarness(t, browser, "consistency.json", raw, "testdata/consistency.html")), &got); err != nil {
		t.Fatal(err)
	}
	if len(got) != len(vs) {
		t.Fatalf("the browser answered %d of %d", len(got), len(vs))
	}
	accepted := 0
	for i, v := range vs {
		ok := got[i] == "ok"
		if ok != v.GoOK {
			t.Errorf("%s: browser %q, Go accepts: %v", v.Name, got[i], v.GoOK)
		}
		if ok {
			accepted++
		} else if !strings.HasPrefix(got[i], "refused: ") {
			t.Errorf("%s: %q", v.Name, got[i])
		}
	}
	if accepted != len(pairs) {
		t.Errorf("accepted %d, want the %d genuine proofs", accepted, len(pairs))
	}
	t.Logf("%d proofs, %d genuine accepted, %d forgeries refused, as package audit does", len(vs), accepted, len(vs)-accepted)
}
