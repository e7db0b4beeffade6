package ledger

import (
	"bytes"
	"encoding/hex"
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"github.com/medchain/medchain/store"
)

// checkStoredRecords reads back every value the ledger stored: each key
// belongs to a known kind, its value decodes strictly as that kind's
// record and re-encodes to the very same bytes (so decoding loses nothing
// and the encoding is canonical), and renders as JSON. The scripts and the
// study tests call it on the store they leave behind, which covers every
// kind of record with realistic contents (TestScripts checks that they do).
func checkStoredRecords(t testing.TB, db *store.Mem) map[string]bool {
	t.Helper()
	kinds := map[string]bool{}
	for _, k := range db.Keys(nil) {
		if !bytes.HasPrefix(k, StatePrefix) && !bytes.HasPrefix(k, MetaPrefix) || bytes.Equal(k, KeyStateFormat()) {
			continue // tree nodes and the audit log have their own encodings
		}
		v, _ := db.Get(k)
		rec := typeOfKey(k)
		if rec == nil {
			t.Errorf("%s: no record type is registered for this kind of key (storedTypes)", k)
			continue
		}
		kinds[collection(k)] = true
		if err := DecodeState(v, rec); err != nil {
			t.Errorf("%s: %v\n%x", k, err, v)
			continue
		}
		again, err := EncodeState(rec)
		if err != nil || !bytes.Equal(again, v) {
			t.Errorf("%s: re-encodes differently (%v)\nstored %x\nagain  %x", k, err, v, again)
		}
		if _, err := StateValueJSON(k, v); err != nil {
			t.Errorf("%s: %v", k, err)
		}
	}
	return kinds
}

// The encoding is pinned by a vector: a change of library version or of a
// record's fields that changed these bytes would split validators running
// different builds, so it must show up here (and bump StateFormat).
func TestStateEncodingVector(t *testing.T) {
	a := Account{Address: "59d3a1b2c3d4e5f6a7b8c9d0e1f2a3b4c5d67015", PubKey: bytes.Repeat([]byte{1}, 32),
		EncKey: bytes.Repeat([]byte{2}, 32), Kind: KindResearcher, Nonce: 7, Balance: 1_000_000, Registered: 3}
	got, err := EncodeState(a)
	if err != nil {
		t.Fatal(err)
	}
	// array(8): text(40) address, bytes(32) ×2, text "researcher", text "" (org),
	// uint 7, uint 1000000 (4-byte form), uint 3.
	want := "88" +
		"7828" + hex.EncodeToString([]byte(a.Address)) +
		"5820" + strings.Repeat("01", 32) +
		"5820" + strings.Repeat("02", 32) +
		"6a" + hex.EncodeToString([]byte("researcher")) +
		"60" +
		"07" +
		"1a000f4240" +
		"03"
	if hex.EncodeToString(got) != want {
		t.Fatalf("Account encodes as\n%x\nwant\n%s", got, want)
	}
	j, _ := json.Marshal(a)
	t.Logf("%d bytes (JSON: %d)", len(got), len(j))

	var back Account
	if err := DecodeState(got, &back); err != nil || back.Address != a.Address || back.Balance != a.Balance || !bytes.Equal(back.EncKey, a.EncKey) {
		t.Fatalf("decoded %+v, %v", back, err)
	}
}

// Decoding is strict: bytes that are not exactly a record of the expected
// kind are refused, never half-read.
func TestDecodeStateRefuses(t *testing.T) {
	good, _ := EncodeState(Budget{SpentMilli: 5})
	for name, b := range map[string][]byte{
		"JSON (state format 1)":   []byte(`{"spent_milli":5}`),
		"too few fields":          {0x80},
		"too many fields":         {0x82, 0x05, 0x05},
		"indefinite length":       {0x9f, 0x05, 0xff},
		"trailing bytes":          append(append([]byte{}, good...), 0x00),
		"a tag":                   {0xc1, 0x81, 0x05},
		"wrong type":              {0x81, 0x61, 0x35},
		"empty":                   {},
		"map with duplicate keys": {0xa2, 0x61, 0x61, 0x01, 0x61, 0x61, 0x02},
	} {
		var v Budget
		if name == "map with duplicate keys" {
			var m map[string]int
			if err := DecodeState(b, &m); err == nil {
				t.Errorf("%s: decoded %v", name, m)
			}
			continue
		}
		if err := DecodeState(b, &v); err == nil {
			t.Errorf("%s: %x decoded as %+v", name, b, v)
		}
	}
}

func TestStateValueJSON(t *testing.T) {
	v, _ := EncodeState(Account{Address: "ab", Balance: 25})
	j, err := StateValueJSON(KeyAccount("ab"), v)
	if err != nil || !strings.Contains(string(j), `"balance":25`) {
		t.Fatalf("%s %v", j, err)
	}
	if _, err := StateValueJSON([]byte("s/nosuch/x"), v); err == nil {
		t.Fatal("a key of no known kind rendered")
	}
	if _, err := StateValueJSON(KeyJob(1), v); err == nil {
		t.Fatal("an account rendered as a job")
	}
}

// A store written in another state format is refused when the machine
// opens it, with an error that says what to do; an empty store is fine and
// records the format with the genesis state.
func TestStateFormatChecked(t *testing.T) {
	db := store.NewMem()
	m, err := New(db)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := m.InitChain(testChain, worldGenesis()); err != nil {
		t.Fatal(err)
	}
	commitBlock(t, m, db)
	if f, _ := db.Get(KeyStateFormat()); string(f) != "2" {
		t.Fatalf("format key holds %q", f)
	}
	if _, err := New(db); err != nil {
		t.Fatalf("reopening its own store: %v", err)
	}

	// A home from before format versions: JSON values and no format key.
	old := store.NewMem()
	old.Set(KeyLast(), []byte(`{"height":12,"state_root":"00","audit_size":3,"audit_root":"00","app_hash":"00"}`))
	old.Set(KeyParams(), []byte(`{"chain_id":"dev"}`))
	for name, c := range map[string]struct {
		db    *store.Mem
		found int
	}{
		"format 1 (JSON)": {old, 1},
		"format 3":        {withFormat(db, "3"), 3},
	} {
		_, err := New(c.db)
		var fe *StateFormatError
		if !errors.As(err, &fe) || fe.Found != c.found || fe.Want != StateFormat {
			t.Fatalf("%s: %v", name, err)
		}
		if !strings.Contains(err.Error(), "recreate the network") || !strings.Contains(err.Error(), "medchain up") {
			t.Fatalf("%s: the error does not say what to do: %v", name, err)
		}
	}
	if _, err := New(withFormat(db, "two")); err == nil || !strings.Contains(err.Error(), "m/format") {
		t.Fatalf("unreadable format key: %v", err)
	}
}

func withFormat(src *store.Mem, f string) *store.Mem {
	dst := store.NewMem()
	for _, k := range src.Keys(nil) {
		v, _ := src.Get(k)
		dst.Set(k, v)
	}
	dst.Set(KeyStateFormat(), []byte(f))
	return dst
}
