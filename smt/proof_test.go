package smt

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"reflect"
	"strings"
	"testing"
)

// claim is something a proof is supposed to show: key has value under root
// (value == nil: key is absent).
type claim struct {
	name       string
	root       Hash
	key, value []byte
	proof      *Proof
}

func (c claim) verify(p *Proof) error { return p.Verify(c.root, c.key, c.value) }

// proofClaims builds trees of several sizes and returns a valid claim with
// its proof for every key in them plus a number of absent keys.
func proofClaims(t *testing.T) []claim {
	r := rand.New(rand.NewPCG(11, 12))
	var out []claim
	for _, size := range []int{0, 1, 2, 3, 17, 300} {
		tr, _ := newTree()
		m := randomModel(r, size)
		root := mustUpdate(t, tr, Empty, m.changes()...)
		for _, k := range m.sortedKeys() {
			out = append(out, claim{fmt.Sprintf("size %d member %q", size, k), root, []byte(k), []byte(m[k]), mustProve(t, tr, root, k)})
		}
		for i := range 100 {
			k := fmt.Sprintf("absent-%d", i)
			out = append(out, claim{fmt.Sprintf("size %d absent %q", size, k), root, []byte(k), nil, mustProve(t, tr, root, k)})
		}
	}
	return out
}

// Every member of every tree has a membership proof and every absent key an
// absence proof; both kinds of absence (ending in an empty subtree or in
// another key's leaf) occur. Proofs survive JSON and binary round trips.
func TestProveAndVerify(t *testing.T) {
	var emptyEnd, leafEnd int
	for _, c := range proofClaims(t) {
		p := c.proof
		if err := c.verify(p); err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		if c.value != nil {
			if p.Leaf == nil || p.Leaf.ValueHash != ValueHash(c.value) {
				t.Fatalf("%s: proof does not carry the value hash", c.name)
			}
		} else if p.Leaf == nil {
			emptyEnd++
		} else {
			leafEnd++
		}

		js, err := json.Marshal(p)
		if err != nil {
			t.Fatal(err)
		}
		var fromJSON Proof
		if err := json.Unmarshal(js, &fromJSON); err != nil {
			t.Fatalf("%s: unmarshal %s: %v", c.name, js, err)
		}
		if err := c.verify(&fromJSON); err != nil {
			t.Fatalf("%s: after JSON round trip: %v", c.name, err)
		}

		bin, err := p.MarshalBinary()
		if err != nil {
			t.Fatal(err)
		}
		if len(bin) != p.Size() {
			t.Fatalf("%s: Size %d, encoding has %d bytes", c.name, p.Size(), len(bin))
		}
		var fromBin Proof
		if err := fromBin.UnmarshalBinary(bin); err != nil {
			t.Fatalf("%s: UnmarshalBinary: %v", c.name, err)
		}
		if !reflect.DeepEqual(&fromBin, p) {
			t.Fatalf("%s: binary round trip: %+v, want %+v", c.name, &fromBin, p)
		}
	}
	if emptyEnd == 0 || leafEnd == 0 {
		t.Fatalf("absence proofs ending in empty: %d, in another leaf: %d; want both", emptyEnd, leafEnd)
	}
	t.Logf("absence proofs: %d end in an empty subtree, %d in another leaf", emptyEnd, leafEnd)
}

// The JSON form that goes over the HTTP API: lowercase hex everywhere.
func TestProofJSON(t *testing.T) {
	tr, _ := newTree()
	root := mustUpdate(t, tr, Empty, set("alice", "1"), set("bob", "2"))
	js, err := json.Marshal(mustProve(t, tr, root, "alice"))
	if err != nil {
		t.Fatal(err)
	}
	var generic map[string]any
	if err := json.Unmarshal(js, &generic); err != nil {
		t.Fatal(err)
	}
	for _, field := range []string{"depth", "bitmap", "siblings", "leaf"} {
		if _, ok := generic[field]; !ok {
			t.Fatalf("JSON %s lacks %q", js, field)
		}
	}
	leaf := generic["leaf"].(map[string]any)
	path := KeyPath([]byte("alice"))
	if leaf["path"] != fmt.Sprintf("%x", path[:]) {
		t.Fatalf("leaf path %v, want lowercase hex of %x", leaf["path"], path[:])
	}
	if strings.ToLower(string(js)) != string(js) {
		t.Fatalf("JSON not lowercase: %s", js)
	}
	t.Logf("proof JSON: %s", js)

	// The absent-key proof of an empty tree has no leaf field at all.
	js, _ = json.Marshal(mustProve(t, tr, Empty, "alice"))
	if string(js) != `{"depth":0,"bitmap":"","siblings":[]}` {
		t.Fatalf("empty-tree proof JSON %s", js)
	}
}

func TestHashText(t *testing.T) {
	h := ValueHash([]byte("x"))
	text, _ := h.MarshalText()
	if string(text) != h.String() || string(text) != strings.ToLower(string(text)) || len(text) != 64 {
		t.Fatalf("MarshalText %q", text)
	}
	for _, in := range []string{string(text), strings.ToUpper(string(text))} {
		var back Hash
		if err := back.UnmarshalText([]byte(in)); err != nil || back != h {
			t.Fatalf("UnmarshalText(%q) = %s, %v", in, back, err)
		}
	}
	for _, bad := range []string{"", string(text[:62]), string(text) + "00", "zz" + string(text[2:])} {
		var back Hash
		if err := back.UnmarshalText([]byte(bad)); err == nil {
			t.Fatalf("UnmarshalText(%q) succeeded", bad)
		}
	}
}

// A valid proof still fails for the wrong value, the wrong root, the wrong
// key, and the opposite claim (absence of a member, membership of an absent
// key).
func TestVerifyRejectsWrongClaims(t *testing.T) {
	r := rand.New(rand.NewPCG(13, 14))
	m := randomModel(r, 100)
	tr, _ := newTree()
	root := mustUpdate(t, tr, Empty, m.changes()...)
	other := mustUpdate(t, tr, root, set("one more", "x"))
	keys := m.sortedKeys()
	flipped := root
	flipped[31] ^= 1

	check := func(name string, err error) {
		t.Helper()
		if !errors.Is(err, ErrInvalidProof) {
			t.Fatalf("%s: got %v, want ErrInvalidProof", name, err)
		}
	}
	for i, k := range keys {
		p := mustProve(t, tr, root, k)
		v := []byte(m[k])
		check("wrong value", p.Verify(root, []byte(k), []byte(m[k]+"!")))
		check("empty value", p.Verify(root, []byte(k), []byte{}))
		check("absence of a member", p.Verify(root, []byte(k), nil))
		check("other root", p.Verify(other, []byte(k), v))
		check("Empty root", p.Verify(Empty, []byte(k), v))
		check("flipped root", p.Verify(flipped, []byte(k), v))
		next := keys[(i+1)%len(keys)]
		check("other member's key and value", p.Verify(root, []byte(next), []byte(m[next])))
		check("other key, same value", p.Verify(root, []byte(next), v))
		// A member's proof also proves absence of keys that would sit where
		// its leaf is (sharing the first Depth bits), but of no other key.
		if commonPrefixLen(KeyPath([]byte("absent")), KeyPath([]byte(k))) < p.Depth {
			check("absent key elsewhere", p.Verify(root, []byte("absent"), nil))
		}
	}
	for i := range 100 {
		k := []byte(fmt.Sprintf("absent-%d", i))
		p, err := tr.Prove(root, k)
		if err != nil {
			t.Fatal(err)
		}
		check("membership of absent key", p.Verify(root, k, []byte("x")))
		check("absence under other root", p.Verify(flipped, k, nil))
		check("absence of a member", p.Verify(root, []byte(keys[i%len(keys)]), nil))
	}
	var nilProof *Proof
	check("nil proof", nilProof.Verify(root, []byte(keys[0]), nil))
}

// representatives picks, for each tree, its deepest membership proof, its
// deepest absence proof ending in an empty subtree and its deepest absence
// proof ending in another leaf: the proofs with the most bytes to tamper with.
func representatives(claims []claim) []claim {
	type group struct {
		root Hash
		kind int
	}
	best := map[group]claim{}
	var order []group
	for _, c := range claims {
		g := group{c.root, 0}
		switch {
		case c.value == nil && c.proof.Leaf == nil:
			g.kind = 1
		case c.value == nil:
			g.kind = 2
		}
		b, ok := best[g]
		if !ok {
			order = append(order, g)
		}
		if !ok || c.proof.Depth > b.proof.Depth {
			best[g] = c
		}
	}
	out := make([]claim, 0, len(order))
	for _, g := range order {
		out = append(out, best[g])
	}
	return out
}

// Changing any single byte of a proof's binary encoding, or any single field,
// makes it fail for the claim it proved.
func TestProofTampering(t *testing.T) {
	claims := proofClaims(t)
	for _, c := range claims {
		for _, f := range fieldTampers {
			q := cloneProof(c.proof)
			if !f.apply(q, c) {
				continue // does not apply to this proof
			}
			if err := c.verify(q); !errors.Is(err, ErrInvalidProof) {
				t.Fatalf("%s: %s: got %v, want ErrInvalidProof", c.name, f.name, err)
			}
		}
	}
	reps := representatives(claims)
	if len(reps) < 14 {
		t.Fatalf("only %d representative proofs", len(reps))
	}
	for _, c := range reps {
		enc, err := c.proof.MarshalBinary()
		if err != nil {
			t.Fatal(err)
		}
		tampered := [][]byte{enc[:len(enc)-1], append(bytes.Clone(enc), 0)}
		for i := range enc {
			for _, mask := range []byte{0x01, 0x80, 0xff} {
				b := bytes.Clone(enc)
				b[i] ^= mask
				tampered = append(tampered, b)
			}
		}
		for _, b := range tampered {
			var q Proof
			err := q.UnmarshalBinary(b)
			if err == nil {
				err = c.verify(&q)
			}
			if !errors.Is(err, ErrInvalidProof) {
				t.Fatalf("%s: tampered encoding %x: got %v, want ErrInvalidProof", c.name, b, err)
			}
		}
	}
}

var nonEmpty = ValueHash([]byte("some other node"))

// fieldTampers each change one field of a proof; apply reports whether the
// change makes sense for the given proof.
var fieldTampers = []struct {
	name  string
	apply func(p *Proof, c claim) bool
}{
	{"depth+1", func(p *Proof, _ claim) bool { p.Depth++; return true }},
	{"depth-1", func(p *Proof, _ claim) bool { p.Depth--; return true }},
	{"depth 257", func(p *Proof, _ claim) bool { p.Depth = 257; return true }},
	{"depth+8", func(p *Proof, _ claim) bool { p.Depth += 8; p.Bitmap = append(p.Bitmap, 0); return true }},
	{"bitmap extra byte", func(p *Proof, _ claim) bool { p.Bitmap = append(p.Bitmap, 0); return true }},
	{"bitmap nil", func(p *Proof, _ claim) bool { p.Bitmap = nil; return p.Depth > 0 }},
	{"bitmap bit beyond depth", func(p *Proof, _ claim) bool {
		if p.Depth%8 == 0 {
			return false
		}
		p.Bitmap[len(p.Bitmap)-1] |= 1
		return true
	}},
	{"bitmap bit cleared", func(p *Proof, _ claim) bool {
		for i := range p.Depth {
			if bitAt(p.Bitmap, i) == 1 {
				p.Bitmap[i/8] &^= 0x80 >> (i % 8)
				p.Siblings = p.Siblings[1:]
				return true
			}
		}
		return false
	}},
	{"bitmap bit set", func(p *Proof, _ claim) bool {
		for i := range p.Depth {
			if bitAt(p.Bitmap, i) == 0 {
				p.Bitmap[i/8] |= 0x80 >> (i % 8)
				p.Siblings = append(p.Siblings, nonEmpty) // count still matches
				return true
			}
		}
		return false
	}},
	{"drop first sibling", func(p *Proof, _ claim) bool {
		if len(p.Siblings) == 0 {
			return false
		}
		p.Siblings = p.Siblings[1:]
		return true
	}},
	{"drop last sibling", func(p *Proof, _ claim) bool {
		if len(p.Siblings) == 0 {
			return false
		}
		p.Siblings = p.Siblings[:len(p.Siblings)-1]
		return true
	}},
	{"extra sibling", func(p *Proof, _ claim) bool { p.Siblings = append(p.Siblings, nonEmpty); return true }},
	{"sibling replaced", func(p *Proof, _ claim) bool {
		if len(p.Siblings) == 0 {
			return false
		}
		p.Siblings[len(p.Siblings)/2] = nonEmpty
		return true
	}},
	{"sibling made Empty", func(p *Proof, _ claim) bool {
		if len(p.Siblings) == 0 {
			return false
		}
		p.Siblings[0] = Empty
		return true
	}},
	{"siblings swapped", func(p *Proof, _ claim) bool {
		if len(p.Siblings) < 2 {
			return false
		}
		p.Siblings[0], p.Siblings[1] = p.Siblings[1], p.Siblings[0]
		return true
	}},
	{"leaf removed", func(p *Proof, _ claim) bool {
		if p.Leaf == nil {
			return false
		}
		p.Leaf = nil
		return true
	}},
	{"leaf added", func(p *Proof, c claim) bool {
		if p.Leaf != nil {
			return false
		}
		p.Leaf = &ProofLeaf{Path: KeyPath(c.key), ValueHash: ValueHash([]byte("forged"))}
		return true
	}},
	{"leaf path set to the key's path", func(p *Proof, c claim) bool {
		if p.Leaf == nil || p.Leaf.Path == KeyPath(c.key) {
			return false
		}
		p.Leaf.Path = KeyPath(c.key)
		return true
	}},
	{"leaf path last bit flipped", func(p *Proof, _ claim) bool {
		if p.Leaf == nil {
			return false
		}
		p.Leaf.Path[31] ^= 1
		return true
	}},
	{"leaf path first bit flipped", func(p *Proof, _ claim) bool {
		if p.Leaf == nil {
			return false
		}
		p.Leaf.Path[0] ^= 0x80
		return true
	}},
	{"leaf value hash changed", func(p *Proof, _ claim) bool {
		if p.Leaf == nil {
			return false
		}
		p.Leaf.ValueHash[0] ^= 1
		return true
	}},
}

// Changing any single byte of a proof's JSON either leaves the same proof
// (hex digits are case-insensitive, spaces do not matter) or makes it fail.
func TestProofJSONTampering(t *testing.T) {
	subs := []byte(`0f9A"}],- `)
	same := 0
	for _, c := range representatives(proofClaims(t)) {
		js, _ := json.Marshal(c.proof)
		for i := range js {
			for _, s := range subs {
				b := bytes.Clone(js)
				if b[i] == s {
					continue
				}
				b[i] = s
				var q Proof
				if json.Unmarshal(b, &q) != nil {
					continue
				}
				if sameProof(&q, c.proof) {
					same++
					continue
				}
				if err := c.verify(&q); !errors.Is(err, ErrInvalidProof) {
					t.Fatalf("%s: tampered JSON %s: got %v, want ErrInvalidProof", c.name, b, err)
				}
			}
		}
	}
	t.Logf("%d tampered JSON texts decoded to the same proof", same)
}

// sameProof reports whether a and b are the same proof, ignoring nil versus
// empty slices: their canonical binary encodings are equal.
func sameProof(a, b *Proof) bool {
	ea, errA := a.MarshalBinary()
	eb, errB := b.MarshalBinary()
	return errA == nil && errB == nil && bytes.Equal(ea, eb)
}

// The shape checks reject non-canonical or forged proofs before hashing, each
// for its own reason.
func TestVerifyMalleabilityChecks(t *testing.T) {
	tr, _ := newTree()
	r := rand.New(rand.NewPCG(15, 16))
	m := randomModel(r, 50)
	root := mustUpdate(t, tr, Empty, m.changes()...)
	member := m.sortedKeys()[0]

	// An absent key whose proof ends in another leaf, at depth ≥ 1.
	var absent string
	var ap *Proof
	for i := 0; ap == nil; i++ {
		k := fmt.Sprintf("absent-%d", i)
		if p := mustProve(t, tr, root, k); p.Leaf != nil && p.Depth > 0 {
			absent, ap = k, p
		}
	}

	cases := []struct {
		name   string
		key    string
		value  []byte
		proof  func() *Proof
		reason string
	}{
		{"too deep", absent, nil, func() *Proof {
			return &Proof{Depth: 264, Bitmap: make(Bitmap, 33)}
		}, "depth 264 outside"},
		{"negative depth", absent, nil, func() *Proof { return &Proof{Depth: -1} }, "depth -1 outside"},
		{"bitmap length", absent, nil, func() *Proof {
			p := cloneProof(ap)
			p.Bitmap = append(p.Bitmap, 0)
			return p
		}, "bitmap has"},
		{"sibling count", absent, nil, func() *Proof {
			p := cloneProof(ap)
			p.Siblings = append(p.Siblings, nonEmpty)
			return p
		}, "non-empty siblings, proof has"},
		{"absence through the key's own leaf", member, nil, func() *Proof {
			return mustProve(t, tr, root, member)
		}, "key's own leaf"},
		{"absence leaf off the key's path", absent, nil, func() *Proof {
			p := cloneProof(ap)
			p.Leaf.Path[0] ^= 0x80 // differs at depth 0 < Depth
			return p
		}, "leaves the key's path at depth 0"},
		{"terminal's parent with a single leaf", absent, nil, func() *Proof {
			// Pretend the leaf sits one level deeper under an Empty sibling.
			p := cloneProof(ap)
			p.Depth++
			p.Bitmap = make(Bitmap, (p.Depth+7)/8)
			copy(p.Bitmap, ap.Bitmap)
			return p
		}, "terminal's parent would not exist"},
		{"membership without a leaf", member, []byte(m[member]), func() *Proof {
			return &Proof{}
		}, "cannot show membership"},
		{"membership with another key's leaf", member, []byte(m[member]), func() *Proof {
			return ap
		}, "key has path"},
	}
	for _, c := range cases {
		err := c.proof().Verify(root, []byte(c.key), c.value)
		if !errors.Is(err, ErrInvalidProof) || !strings.Contains(err.Error(), c.reason) {
			t.Errorf("%s: got %v, want ErrInvalidProof because %q", c.name, err, c.reason)
		}
	}
}

// Roots returned by earlier updates stay provable after later ones: nodes are
// never deleted, so each version answers for exactly its own contents.
func TestOldRootsStayProvable(t *testing.T) {
	r := rand.New(rand.NewPCG(17, 18))
	tr, _ := newTree()
	type version struct {
		root Hash
		m    model
	}
	var versions []version
	m, root, everKey := model{}, Empty, map[string]bool{}
	for range 12 {
		batch := randomModel(r, 30).changes()
		for _, k := range m.sortedKeys() {
			switch r.IntN(4) {
			case 0:
				batch = append(batch, del(k))
			case 1:
				batch = append(batch, set(k, fmt.Sprint(r.Uint32())))
			}
		}
		root = mustUpdate(t, tr, root, batch...)
		m.apply(batch)
		for k := range m {
			everKey[k] = true
		}
		versions = append(versions, version{root, m.clone()})
	}
	for i, v := range versions {
		checkAgainstModel(t, tr, v.root, v.m)
		for k := range everKey {
			var value []byte
			if s, ok := v.m[k]; ok {
				value = []byte(s)
			}
			if err := mustProve(t, tr, v.root, k).Verify(v.root, []byte(k), value); err != nil {
				t.Fatalf("version %d, key %q (present %v): %v", i, k, value != nil, err)
			}
		}
	}
}
