// Package pebble is the on-disk implementation of store.DB: Pebble, through
// cometbft-db, the same engine CometBFT uses for its own block store. It is
// kept apart from package store so that only the node (and the tools that
// open a node's directory) link the database.
package pebble

import (
	"bytes"
	"fmt"

	dbm "github.com/cometbft/cometbft-db"

	"github.com/medchain/medchain/store"
)

// Store is a Pebble database.
type Store struct {
	db dbm.DB
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

// batch is a store.Batch over a cometbft-db batch.
type batch struct{ b dbm.Batch }

// NewBatch implements store.DB.
func (s *Store) NewBatch() store.Batch { return &batch{b: s.db.NewBatch()} }

// Set implements store.Writer.
func (b *batch) Set(key, value []byte) error { return b.b.Set(key, value) }

// Delete implements store.Writer.
func (b *batch) Delete(key []byte) error { return b.b.Delete(key) }

// WriteSync implements store.Batch.
func (b *batch) WriteSync() error {
	defer b.b.Close()
	return b.b.WriteSync()
}

// Discard implements store.Batch.
func (b *batch) Discard() { b.b.Close() }

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
