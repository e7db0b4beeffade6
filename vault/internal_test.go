package vault

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"testing"

	"filippo.io/age"

	"github.com/medchain/medchain/keys"
	"github.com/medchain/medchain/record"
	"github.com/medchain/medchain/vault/blob"
)

// A sealed chunk opens only as the chunk it was sealed as: changing any
// part of its identity — dataset, version, column, index — fails.
func TestAssociatedDataBindsChunkIdentity(t *testing.T) {
	key := newDataKey()
	aead, _ := newAEAD(key)
	home := versionID{"cohort", 3}
	sealed := aead.Seal(nil, nil, []byte("chunk"), chunkAD(nil, home, "sbp", 7))
	open := func(id versionID, col string, chunk int) error {
		_, err := aead.Open(nil, nil, sealed, chunkAD(nil, id, col, chunk))
		return err
	}
	if err := open(home, "sbp", 7); err != nil {
		t.Fatalf("its own identity: %v", err)
	}
	for name, err := range map[string]error{
		"other dataset": open(versionID{"cohort2", 3}, "sbp", 7),
		"other version": open(versionID{"cohort", 4}, "sbp", 7),
		"other column":  open(home, "dbp", 7),
		"other chunk":   open(home, "sbp", 6),
		// Length prefixes keep parts from sliding into each other.
		"shifted parts": open(versionID{"cohort" + "\x00\x00\x00\x03sbp", 3}, "", 7),
	} {
		if err == nil {
			t.Errorf("%s: opened", name)
		}
	}
}

// Even an insider holding the data key, who can forge the manifest's MAC
// and recompute its root, cannot move chunks around: the associated data
// still names the chunk that moved.
func TestInsiderCannotMoveChunks(t *testing.T) {
	for name, c := range map[string]struct {
		edit func(m *Manifest)
		want string
	}{
		"swap chunks 0 and 1": {func(m *Manifest) {
			ch := m.Columns[3].Chunks
			ch[0], ch[1] = ch[1], ch[0]
		}, "column sbp chunk 0"},
		"chunk of another column": {func(m *Manifest) {
			m.Columns[3].Chunks[2] = m.Columns[1].Chunks[2]
		}, "column sbp chunk 2"},
	} {
		t.Run(name, func(t *testing.T) {
			v, err := Open(filepath.Join(t.TempDir(), "vault"))
			if err != nil {
				t.Fatal(err)
			}
			id, _ := NodeIdentity(keys.FromSeed("n", [32]byte{1: 1}).Enc)
			lk, _ := v.Lock("ds")
			defer lk.Unlock()
			w, _ := lk.Create(Meta{Version: 1, Schema: testSchema, ChunkRows: 4, Recipients: []Recipient{id.Recipient()}})
			for i := 0; i < 20; i++ {
				w.Append(record.Row{Pseudonym: fmt.Sprint("p", i), Values: []record.Value{record.Num(float64(i)), record.Str("x"), record.Num(120)}})
			}
			if _, err := w.Commit(); err != nil {
				t.Fatal(err)
			}
			m, _, st, _ := v.readManifest(versionID{"ds", 1})
			key, err := unwrapKey(m.Keys, id)
			if err != nil {
				t.Fatal(err)
			}
			c.edit(m)
			m.ContentRoot, _ = m.Root()
			body, _ := m.macBody()
			m.MAC, _ = manifestMAC(key, body)
			addr, _ := putManifest(st, m)
			writeRef(v.versionDir(versionID{"ds", 1}), addr)

			r, err := v.Open("ds", 1, m.ContentRoot, id)
			if err != nil {
				t.Fatalf("the forged manifest should open: %v", err)
			}
			err = readAllColumn(r, "sbp")
			if !errors.Is(err, ErrCorrupt) || !strings.Contains(err.Error(), c.want) || !strings.Contains(err.Error(), "moved from another") {
				t.Fatalf("got %v, want an error naming %s", err, c.want)
			}
		})
	}
}

var testSchema = record.Schema{{Name: "age", Type: "integer"}, {Name: "sex", Type: "code"}, {Name: "sbp", Type: "number"}}

func readAllColumn(r *Version, col string) error {
	for _, err := range r.Column(col) {
		if err != nil {
			return err
		}
	}
	return nil
}

// A raw X25519 key becomes the same age recipient and identity age itself
// derives: the bech32 encoding is checked against age's own parser and key
// derivation.
func TestKeysMatchAge(t *testing.T) {
	for seed := byte(1); seed < 20; seed++ {
		k := keys.FromSeed("k", [32]byte{1: seed, 31: seed})
		id, err := NewIdentity(k.Enc)
		if err != nil {
			t.Fatal(err)
		}
		r, err := NewRecipient(k.EncPub())
		if err != nil {
			t.Fatal(err)
		}
		if id.Recipient().String() != r.String() || id.id.Recipient().String() != r.String() {
			t.Fatalf("recipient %s, identity's %s, age's %s", r, id.Recipient(), id.id.Recipient())
		}
		if !strings.HasPrefix(r.String(), "age1") || len(r.String()) != 62 {
			t.Fatalf("recipient %q", r)
		}
		h, err := ParseRecipient(hex.EncodeToString(k.EncPub()))
		if err != nil || h.String() != r.String() {
			t.Fatalf("hex form: %s, %v", h, err)
		}
	}
	// And an identity age generates round-trips through our recipient form.
	gen, _ := age.GenerateX25519Identity()
	r, err := ParseRecipient(gen.Recipient().String())
	if err != nil || r.String() != gen.Recipient().String() {
		t.Fatalf("age recipient: %s, %v", r, err)
	}
	for _, bad := range []string{"", "age1xyz", strings.Repeat("0", 63), "AGE-SECRET-KEY-1"} {
		if _, err := ParseRecipient(bad); err == nil {
			t.Errorf("ParseRecipient(%q) accepted", bad)
		}
	}
	if _, err := NewRecipient(make([]byte, 31)); err == nil {
		t.Error("31-byte key accepted")
	}
}

// The node's vault key is derived from, and differs from, the account key.
func TestNodeIdentity(t *testing.T) {
	k := keys.FromSeed("st-mary-admin", [32]byte{1: 7})
	a, _ := NodeIdentity(k.Enc)
	b, _ := NodeIdentity(k.Enc)
	acct, _ := NewIdentity(k.Enc)
	if a.Recipient().String() != b.Recipient().String() {
		t.Fatal("derivation is not deterministic")
	}
	if a.Recipient().String() == acct.Recipient().String() {
		t.Fatal("the vault key is the account key")
	}
}

func TestWrapUnwrap(t *testing.T) {
	a, _ := NewIdentity(keys.FromSeed("a", [32]byte{1: 1}).Enc)
	b, _ := NewIdentity(keys.FromSeed("b", [32]byte{1: 2}).Enc)
	c, _ := NewIdentity(keys.FromSeed("c", [32]byte{1: 3}).Enc)
	key := newDataKey()
	ws, err := wrapKey(key, []Recipient{a.Recipient(), b.Recipient(), a.Recipient()})
	if err != nil || len(ws) != 2 {
		t.Fatalf("wrap: %d keys, %v (duplicates are wrapped once)", len(ws), err)
	}
	for _, id := range []*Identity{a, b} {
		if got, err := unwrapKey(ws, id); err != nil || !bytes.Equal(got, key) {
			t.Fatalf("unwrap: %x, %v", got, err)
		}
	}
	if _, err := unwrapKey(ws, c); !errors.Is(err, ErrNotRecipient) {
		t.Fatalf("stranger: %v", err)
	}
	// A wrapped key listed under the wrong recipient does not open.
	ws[0].Recipient, ws[1].Recipient = ws[1].Recipient, ws[0].Recipient
	if _, err := unwrapKey(ws, a); !errors.Is(err, ErrCorrupt) {
		t.Fatalf("mislabelled wrapped key: %v", err)
	}
	if _, err := wrapKey(key, nil); err == nil {
		t.Fatal("wrapped to nobody")
	}
}

// The content root is the RFC 6962 tree hash of the chunk hashes in
// canonical order, computed here by the definition in RFC 6962 §2.1.
func TestContentRootIsRFC6962(t *testing.T) {
	var mth func(leaves [][]byte) []byte
	mth = func(leaves [][]byte) []byte {
		switch len(leaves) {
		case 0:
			h := sha256.Sum256(nil)
			return h[:]
		case 1:
			h := sha256.Sum256(append([]byte{0}, leaves[0]...))
			return h[:]
		}
		k := 1
		for k*2 < len(leaves) {
			k *= 2
		}
		h := sha256.Sum256(append(append([]byte{1}, mth(leaves[:k])...), mth(leaves[k:])...))
		return h[:]
	}
	for _, rows := range []uint64{0, 1, 4, 5, 13, 40} {
		m := &Manifest{Rows: rows, ChunkRows: 4, Schema: testSchema}
		var leaves [][]byte
		for c := 0; c < 4; c++ {
			info := ColumnInfo{Name: fmt.Sprint(c)}
			for i := 0; i < m.NumChunks(); i++ {
				a := blob.AddrOf([]byte{byte(c), byte(i)})
				info.Chunks = append(info.Chunks, BlobInfo{Addr: a})
				leaves = append(leaves, a[:])
			}
			m.Columns = append(m.Columns, info)
		}
		got, err := m.Root()
		if err != nil || got != hex.EncodeToString(mth(leaves)) {
			t.Fatalf("%d rows: root %s, %v; RFC 6962 says %x", rows, got, err, mth(leaves))
		}
	}
}
