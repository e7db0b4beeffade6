// Package apitest runs a real medchain node for the tests of the API, the
// client and the CLI: a one-validator demo network (the demo organisations
// and keys of `medchain up`) with 100 ms blocks, on free loopback ports, in a
// temporary home. Tests share one per package, started from TestMain.
package apitest

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"time"

	"github.com/medchain/medchain/keys"
	"github.com/medchain/medchain/ledger"
	"github.com/medchain/medchain/node"
	"github.com/medchain/medchain/store"
)

// ChainID is the test network's chain id.
const ChainID = "medchain-test"

// Node is a running test node.
type Node struct {
	Home string // the node's home; demo keys are in node.KeysDir(Home)
	URL  string // base URL of the HTTP API
	*node.Node
	dir string
}

// FreeAddr returns a loopback address with a port that was free a moment ago.
func FreeAddr() (string, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer ln.Close()
	return ln.Addr().String(), nil
}

// Start creates the network in a new temporary directory, starts it and
// waits until the first block is committed (genesis state becomes readable
// with it).
func Start() (*Node, error) { return StartWith(node.Options{}) }

// StartWith is Start with node options (HTTP settings, say).
func StartWith(o node.Options) (*Node, error) {
	dir, err := os.MkdirTemp("", "medchain-apitest-")
	if err != nil {
		return nil, err
	}
	n := &Node{Home: dir + "/home", dir: dir}
	if err := n.start(o); err != nil {
		n.Stop()
		return nil, err
	}
	return n, nil
}

func (n *Node) start(o node.Options) error {
	var addrs [3]string
	for i := range addrs {
		a, err := FreeAddr()
		if err != nil {
			return err
		}
		addrs[i] = a
	}
	err := node.CreateNetwork([]string{n.Home}, node.NetOptions{
		ChainID: ChainID, Validators: 1, Demo: true, BlockTime: 100 * time.Millisecond,
		API: addrs[0], RPC: addrs[1], P2P: addrs[2],
	})
	if err != nil {
		return fmt.Errorf("apitest: create network: %w", err)
	}
	if n.Node, err = node.Start(n.Home, o); err != nil {
		return fmt.Errorf("apitest: start node: %w", err)
	}
	n.URL = "http://" + n.APIAddr()
	return n.WaitHeight(context.Background(), 1)
}

// WaitHeight waits (up to 30 s) until the node has committed height h.
func (n *Node) WaitHeight(ctx context.Context, h int64) error {
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	for {
		var got int64
		if err := n.View(func(_ store.ReadWriter, c ledger.Commitment) error { got = c.Height; return nil }); err != nil {
			return err
		}
		if got >= h {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("apitest: height %d not reached (at %d): %w", h, got, ctx.Err())
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// Height is the latest committed height.
func (n *Node) Height() int64 {
	var h int64
	n.View(func(_ store.ReadWriter, c ledger.Commitment) error { h = c.Height; return nil })
	return h
}

// Key loads a demo key ("st-mary-admin", "rita-researcher", "patient-1", …).
func (n *Node) Key(name string) (*keys.Key, error) { return keys.Load(node.KeysDir(n.Home), name) }

// Stop stops the node and removes its directory.
func (n *Node) Stop() error {
	var errs []error
	if n.Node != nil {
		errs = append(errs, n.Node.Stop())
	}
	errs = append(errs, os.RemoveAll(n.dir))
	return errors.Join(errs...)
}
