package ingest_test

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	"github.com/medchain/medchain/api/apitest"
	"github.com/medchain/medchain/client"
	"github.com/medchain/medchain/keys"
	"github.com/medchain/medchain/node"
)

// realNode is a one-validator demo network (the organisations and keys of
// `medchain up`) on free loopback ports, in a home the test owns, so it can
// be stopped (to read its stores) and started again.
type realNode struct {
	home string
	n    *node.Node
	c    *client.Client
}

func newRealNode(t *testing.T) *realNode {
	t.Helper()
	var addrs [3]string
	for i := range addrs {
		a, err := apitest.FreeAddr()
		if err != nil {
			t.Fatal(err)
		}
		addrs[i] = a
	}
	rn := &realNode{home: filepath.Join(t.TempDir(), "home")}
	err := node.CreateNetwork([]string{rn.home}, node.NetOptions{ChainID: "medchain-ingest-test", Validators: 1, Demo: true,
		BlockTime: 100 * time.Millisecond, API: addrs[0], RPC: addrs[1], P2P: addrs[2]})
	if err != nil {
		t.Fatal(err)
	}
	rn.start(t)
	t.Cleanup(func() { rn.stop(t) })
	return rn
}

func (rn *realNode) start(t *testing.T) {
	t.Helper()
	n, err := node.Start(rn.home, node.Options{})
	if err != nil {
		t.Fatal(err)
	}
	rn.n, rn.c = n, client.New(n.APIAddr())
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	for {
		if st, err := rn.c.Status(ctx); err == nil && st.Height >= 1 {
			return
		}
		select {
		case <-ctx.Done():
			t.Fatal("node did not commit a block")
		case <-time.After(50 * time.Millisecond):
		}
	}
}

func (rn *realNode) stop(t *testing.T) {
	t.Helper()
	if rn.n != nil {
		if err := rn.n.Stop(); err != nil {
			t.Error(err)
		}
		rn.n = nil
	}
}

func (rn *realNode) key(t *testing.T, name string) *keys.Key {
	t.Helper()
	k, err := keys.Load(node.KeysDir(rn.home), name)
	if err != nil {
		t.Fatal(err)
	}
	return k
}
