// Package pebble is the on-disk implementation of store.DB: Pebble, through
// cometbft-db, the same engine CometBFT uses for its own block store. It is
// kept apart from package store so that only the node (and the tools that
// open a node's directory) link the database.
package pebble

import (
	"bytes"
	"errors"
	"fmt"
	"sync/atomic"

	"github.com/cockroachdb/pebble"
	dbm "github.com/cometbft/cometbft-db"

	"github.com/medchain/medchain/store"
)

// Store is a Pebble database.
type Store struct {
	db *dbm.PebbleDB
	// lastBatch is the size in bytes of the last batch written: the next
	// is likely about as large (a block's writes), and a batch made that
	// size at once is not grown and copied a dozen times as it fills.
	lastBatch atomic.Int64
}

var _ store.DB = (*Store)(nil)

// Open opens (or creates) the store in dir/name.db.
func Open(name, dir string) (*Store, error) {
	db, err := dbm.NewPebbleDB(name, dir)
	if err != nil {
		return nil, fmt.Errorf("store: open %s in %s: %w", name, dir, err)
	}
	return &Store{db: db}, nil
}

// Get implements store.Reader.
func (s *Store) Get(key []byte) ([]byte, error) { return s.db.Get(key) }

// batch is a store.Batch: a Pebble batch, sized like the store's last one.
// It checks what cometbft-db's batch checks (a key, a value), which it
// replaces only to choose its initial size.
type batch struct {
	s *Store
	b *pebble.Batch
}

// maxBatchHint bounds the size a new batch starts with.
const maxBatchHint = 64 << 20

var (
	errKeyEmpty    = errors.New("store: empty key")
	errValueNil    = errors.New("store: nil value")
	errBatchClosed = errors.New("store: batch already written or discarded")
)

// NewBatch implements store.DB.
func (s *Store) NewBatch() store.Batch {
	return &batch{s: s, b: s.db.DB().NewBatchWithSize(int(min(s.lastBatch.Load(), maxBatchHint)))}
}

// Set implements store.Writer.
func (b *batch) Set(key, value []byte) error {
	switch {
	case len(key) == 0:
		return errKeyEmpty
	case value == nil:
		return errValueNil
	case b.b == nil:
		return errBatchClosed
	}
	return b.b.Set(key, value, nil)
}

// Delete implements store.Writer.
func (b *batch) Delete(key []byte) error {
	switch {
	case len(key) == 0:
		return errKeyEmpty
	case b.b == nil:
		return errBatchClosed
	}
	return b.b.Delete(key, nil)
}

// WriteSync implements store.Batch.
func (b *batch) WriteSync() error {
	if b.b == nil {
		return errBatchClosed
	}
	defer b.Discard()
	b.s.lastBatch.Store(int64(len(b.b.Repr())))
	return b.b.Commit(pebble.Sync)
}

// Discard implements store.Batch.
func (b *batch) Discard() {
	if b.b != nil {
		b.b.Close()
		b.b = nil
	}
}

// Iterate implements store.DB.
func (s *Store) Iterate(prefix []byte, fn func(key, value []byte) bool) error {
	end := prefixEnd(prefix)
	it, err := s.db.Iterator(prefix, end)
	if err != nil {
		return err
	}
	defer it.Close()
	for ; it.Valid(); it.Next() {
		if !fn(it.Key(), it.Value()) {
			break
		}
	}
	return it.Error()
}

// prefixEnd is the first key after every key with the prefix, or nil (no
// bound) when the prefix is empty or all 0xff.
func prefixEnd(prefix []byte) []byte {
	end := bytes.Clone(prefix)
	for i := len(end) - 1; i >= 0; i-- {
		if end[i] < 0xff {
			end[i]++
			return end[:i+1]
		}
	}
	return nil
}

// Close implements store.DB.
func (s *Store) Close() error { return s.db.Close() }
