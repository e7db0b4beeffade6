// Package store defines the small key-value interfaces the ledger is written
// against, an in-memory overlay used to stage a block's writes, and an
// in-memory store for tests. It imports only the standard library; the
// on-disk implementation of DB (Pebble, through cometbft-db) is in
// store/pebble, so the ledger and everything written against these
// interfaces link no database.
//
// Reads of an absent key return (nil, nil): absence is not an error.
package store

import (
	"bytes"
	"slices"
	"sort"
	"sync"
)

// Reader reads committed or staged values. A missing key yields nil, nil.
type Reader interface {
	Get(key []byte) ([]byte, error)
}

// Writer stages writes. Set must copy neither key nor value afterwards being
// modified by the caller; implementations take ownership.
type Writer interface {
	Set(key, value []byte) error
	Delete(key []byte) error
}

// ReadWriter is what state transitions need.
type ReadWriter interface {
	Reader
	Writer
}

// DB is a durable store: the committed state a node keeps on disk.
// store/pebble implements it.
type DB interface {
	Reader
	// NewBatch starts an atomic batch.
	NewBatch() Batch
	// Iterate calls fn for each key with the given prefix, in key order,
	// until fn returns false.
	Iterate(prefix []byte, fn func(key, value []byte) bool) error
	// Close closes the store.
	Close() error
}

// Batch collects writes that become durable together.
type Batch interface {
	Writer
	// WriteSync makes the batch durable (fsync) atomically, then releases
	// it.
	WriteSync() error
	// Discard releases a batch without writing it.
	Discard()
}

// Overlay stages writes in memory on top of a Reader. Reads see the staged
// writes first. Nothing reaches the base until Flush; discarding the overlay
// discards the writes, which is how a failed transaction leaves no trace.
type Overlay struct {
	base   Reader
	writes map[string][]byte // nil value = deleted
}

// NewOverlay returns an empty overlay over base.
func NewOverlay(base Reader) *Overlay {
	return &Overlay{base: base, writes: make(map[string][]byte)}
}

// NewOverlaySize is NewOverlay with room for about n writes: a block's
// overlay takes several writes per transaction, and growing its map from
// empty rehashes it again and again.
func NewOverlaySize(base Reader, n int) *Overlay {
	return &Overlay{base: base, writes: make(map[string][]byte, n)}
}

// Get implements Reader.
func (o *Overlay) Get(key []byte) ([]byte, error) {
	if v, ok := o.writes[string(key)]; ok {
		if v == nil {
			return nil, nil
		}
		return v, nil
	}
	return o.base.Get(key)
}

// Set implements Writer. A nil value is stored as empty, never as a delete.
func (o *Overlay) Set(key, value []byte) error {
	if value == nil {
		value = []byte{}
	}
	o.writes[string(key)] = value
	return nil
}

// Delete implements Writer.
func (o *Overlay) Delete(key []byte) error {
	o.writes[string(key)] = nil
	return nil
}

// Len is the number of staged keys.
func (o *Overlay) Len() int { return len(o.writes) }

// Change is one staged write; Value nil means delete.
type Change struct {
	Key   []byte
	Value []byte
}

// Changes returns the staged writes sorted by key, so that whatever consumes
// them (a batch, a Merkle tree update) sees a deterministic order.
func (o *Overlay) Changes() []Change { return o.ChangesWithPrefix(nil) }

// ChangesWithPrefix is Changes restricted to keys starting with prefix.
// It filters before it sorts: a block's overlay holds several audit and
// metadata keys per state key.
func (o *Overlay) ChangesWithPrefix(prefix []byte) []Change {
	out := make([]Change, 0, len(o.writes))
	for k, v := range o.writes {
		if len(k) >= len(prefix) && k[:len(prefix)] == string(prefix) {
			out = append(out, Change{Key: []byte(k), Value: v})
		}
	}
	slices.SortFunc(out, func(a, b Change) int { return bytes.Compare(a.Key, b.Key) })
	return out
}

// MergeInto stages every write of o in dst, as the same Set or Delete
// calls in key order would, but without sorting or copying keys: staging
// into another overlay is a map update, so the order cannot matter. This
// is how a transaction's overlay joins its block's.
func (o *Overlay) MergeInto(dst *Overlay) {
	for k, v := range o.writes {
		dst.writes[k] = v
	}
}

// WriteTo applies the staged writes, in key order, to w.
func (o *Overlay) WriteTo(w Writer) error {
	for _, c := range o.Changes() {
		var err error
		if c.Value == nil {
			err = w.Delete(c.Key)
		} else {
			err = w.Set(c.Key, c.Value)
		}
		if err != nil {
			return err
		}
	}
	return nil
}

// WriteUnordered applies the staged writes to w in no particular order.
// For an atomic batch (a block's commit) the order cannot matter: each key
// is written once, so the batch leaves the database the same whatever the
// order, and it saves sorting every key of a block. Use WriteTo wherever a
// consumer could observe the order.
func (o *Overlay) WriteUnordered(w Writer) error {
	for k, v := range o.writes {
		var err error
		if v == nil {
			err = w.Delete([]byte(k))
		} else {
			err = w.Set([]byte(k), v)
		}
		if err != nil {
			return err
		}
	}
	return nil
}

// Reuse drops every staged write and reads from base from now on, keeping
// the map's room: a block stages each transaction in an overlay of its own,
// and one overlay reused saves making a map per transaction.
func (o *Overlay) Reuse(base Reader) {
	clear(o.writes)
	o.base = base
}

// Reset drops every staged write.
func (o *Overlay) Reset() { o.writes = make(map[string][]byte) }

// Mem is an in-memory Reader/Writer, the base for pure state-machine tests.
type Mem struct{ m map[string][]byte }

// NewMem returns an empty in-memory store.
func NewMem() *Mem { return &Mem{m: make(map[string][]byte)} }

// Get implements Reader.
func (m *Mem) Get(key []byte) ([]byte, error) { return m.m[string(key)], nil }

// Set implements Writer.
func (m *Mem) Set(key, value []byte) error {
	m.m[string(key)] = append([]byte{}, value...)
	return nil
}

// Delete implements Writer.
func (m *Mem) Delete(key []byte) error {
	delete(m.m, string(key))
	return nil
}

// Keys returns all keys with the given prefix, sorted.
func (m *Mem) Keys(prefix []byte) [][]byte {
	var out [][]byte
	for k := range m.m {
		if bytes.HasPrefix([]byte(k), prefix) {
			out = append(out, []byte(k))
		}
	}
	sort.Slice(out, func(i, j int) bool { return bytes.Compare(out[i], out[j]) < 0 })
	return out
}

// Cache is a DB that remembers the values it has read (and their absence),
// up to a bound, so that reads of hot keys (the accounts every mempool
// check and every block reads) skip the database. Writes go through its
// batches, which update the remembered values once they are durable, so a
// read through the Cache returns what the DB holds — provided every write
// to the DB goes through the Cache and nobody reads while a batch is being
// made durable (the app holds its lock then). Returned values are shared:
// callers must not modify them, as with Mem.
type Cache struct {
	db  DB
	max int

	mu sync.Mutex
	m  map[string][]byte // nil: known absent
}

// NewCache remembers up to max values read from db; when full it starts
// afresh, which is cheap and keeps no per-entry bookkeeping.
func NewCache(db DB, max int) *Cache {
	return &Cache{db: db, max: max, m: make(map[string][]byte)}
}

var _ DB = (*Cache)(nil)

// Get implements Reader.
func (c *Cache) Get(key []byte) ([]byte, error) {
	c.mu.Lock()
	v, ok := c.m[string(key)]
	c.mu.Unlock()
	if ok {
		return v, nil
	}
	v, err := c.db.Get(key)
	if err != nil {
		return nil, err
	}
	c.mu.Lock()
	if len(c.m) >= c.max {
		clear(c.m)
	}
	c.m[string(key)] = v
	c.mu.Unlock()
	return v, nil
}

// Iterate implements DB; it reads the database.
func (c *Cache) Iterate(prefix []byte, fn func(key, value []byte) bool) error {
	return c.db.Iterate(prefix, fn)
}

// Close implements DB.
func (c *Cache) Close() error { return c.db.Close() }

// NewBatch implements DB.
func (c *Cache) NewBatch() Batch { return &cacheBatch{c: c, b: c.db.NewBatch()} }

type cacheBatch struct {
	c      *Cache
	b      Batch
	writes []Change // in call order; nil Value: delete
}

func (b *cacheBatch) Set(key, value []byte) error {
	if err := b.b.Set(key, value); err != nil {
		return err
	}
	if value == nil {
		value = []byte{} // stored empty: present, not absent
	}
	b.writes = append(b.writes, Change{Key: key, Value: value})
	return nil
}

func (b *cacheBatch) Delete(key []byte) error {
	if err := b.b.Delete(key); err != nil {
		return err
	}
	b.writes = append(b.writes, Change{Key: key})
	return nil
}

// WriteSync makes the batch durable, then updates the remembered values it
// changed (only those: the rest are read when first needed). If the write
// fails, nothing is known about what the database holds: forget it all.
func (b *cacheBatch) WriteSync() error {
	err := b.b.WriteSync()
	b.c.mu.Lock()
	defer b.c.mu.Unlock()
	if err != nil {
		clear(b.c.m)
		return err
	}
	for _, w := range b.writes {
		if _, ok := b.c.m[string(w.Key)]; ok {
			b.c.m[string(w.Key)] = w.Value
		}
	}
	return nil
}

func (b *cacheBatch) Discard() { b.b.Discard() }
