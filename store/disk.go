package store

import (
	"bytes"
	"fmt"

	dbm "github.com/cometbft/cometbft-db"
)

// Disk is the on-disk store: Pebble, through cometbft-db, the same engine
// CometBFT uses for its own block store.
type Disk struct {
	db dbm.DB
}

// OpenDisk opens (or creates) the store in dir/name.db.
func OpenDisk(name, dir string) (*Disk, error) {
	db, err := dbm.NewPebbleDB(name, dir)
	if err != nil {
		return nil, fmt.Errorf("store: open %s in %s: %w", name, dir, err)
	}
	return &Disk{db: db}, nil
}

// Get implements Reader.
func (d *Disk) Get(key []byte) ([]byte, error) { return d.db.Get(key) }

// Batch collects writes that become durable together.
type Batch struct{ b dbm.Batch }

// NewBatch starts an atomic batch.
func (d *Disk) NewBatch() *Batch { return &Batch{b: d.db.NewBatch()} }

// Set implements Writer.
func (b *Batch) Set(key, value []byte) error { return b.b.Set(key, value) }

// Delete implements Writer.
func (b *Batch) Delete(key []byte) error { return b.b.Delete(key) }

// WriteSync makes the batch durable (fsync) atomically, then releases it.
func (b *Batch) WriteSync() error {
	defer b.b.Close()
	return b.b.WriteSync()
}

// Discard releases a batch without writing it.
func (b *Batch) Discard() { b.b.Close() }

// Iterate calls fn for each key with the given prefix, in key order, until
// fn returns false.
func (d *Disk) Iterate(prefix []byte, fn func(key, value []byte) bool) error {
	end := prefixEnd(prefix)
	it, err := d.db.Iterator(prefix, end)
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

// Close closes the store.
func (d *Disk) Close() error { return d.db.Close() }
