package node_test

import (
	"errors"
	"path/filepath"
	"strings"
	"testing"

	"github.com/medchain/medchain/ledger"
	"github.com/medchain/medchain/node"
	"github.com/medchain/medchain/store/pebble"
)

// A home whose ledger state was written in an older state format (JSON
// values, no format key) is refused at start with an error that names the
// store and says to recreate the network; nothing is read or started.
func TestStartRefusesOlderStateFormat(t *testing.T) {
	home := filepath.Join(t.TempDir(), "home")
	if err := node.CreateNetwork([]string{home}, node.NetOptions{ChainID: "old", Validators: 1, API: "127.0.0.1:0", RPC: "127.0.0.1:0", P2P: "127.0.0.1:0"}); err != nil {
		t.Fatal(err)
	}
	c, err := node.LoadCometConfig(home)
	if err != nil {
		t.Fatal(err)
	}
	// What a node of state format 1 left after its first block.
	db, err := pebble.Open("medchain", c.DBDir())
	if err != nil {
		t.Fatal(err)
	}
	b := db.NewBatch()
	b.Set(ledger.KeyLast(), []byte(`{"height":1,"state_root":"`+strings.Repeat("0", 64)+`","audit_size":0,"audit_root":"","app_hash":""}`))
	b.Set(ledger.KeyParams(), []byte(`{"chain_id":"old","authorities":[]}`))
	if err := b.WriteSync(); err != nil {
		t.Fatal(err)
	}
	db.Close()

	n, err := node.Start(home, node.Options{API: "127.0.0.1:0"})
	if err == nil {
		n.Stop()
		t.Fatal("a node started on a store of state format 1")
	}
	var fe *ledger.StateFormatError
	if !errors.As(err, &fe) || fe.Found != 1 {
		t.Fatalf("not a state format error: %v", err)
	}
	for _, want := range []string{c.DBDir(), "format 1", "recreate the network", "medchain up"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("the error lacks %q: %v", want, err)
		}
	}
	t.Log(err)
}
