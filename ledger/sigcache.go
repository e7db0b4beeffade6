package ledger

import (
	"crypto/sha256"
	"encoding/binary"
	"sync"
)

// TxCache remembers transactions that decoded and verified, by the SHA-256
// of their exact bytes, so a node decodes and verifies a transaction once
// rather than at the API, at CheckTx, at every mempool recheck, in
// ProcessProposal and again in FinalizeBlock. Decoding and verification are
// pure functions of the bytes and the chain id, so a cache hit cannot change
// any result: the cache is invisible to consensus. It is bounded: when full,
// the oldest entries go first. Cached *Tx values are shared and must not be
// modified.
type TxCache struct {
	mu    sync.Mutex
	chain string
	m     map[[32]byte]*Tx
	ring  [][32]byte
	next  int
	ok    verifiedSet
}

// NewTxCache returns a cache of up to size entries for one chain.
func NewTxCache(chainID string, size int) *TxCache {
	return &TxCache{chain: chainID, m: make(map[[32]byte]*Tx, size), ring: make([][32]byte, size)}
}

func (c *TxCache) get(chainID string, h [32]byte) *Tx {
	if c == nil || chainID != c.chain {
		return nil
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.m[h]
}

func (c *TxCache) add(chainID string, t *Tx) {
	if c == nil || chainID != c.chain || len(c.ring) == 0 {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if _, ok := c.m[t.Hash]; ok {
		return
	}
	if old := c.ring[c.next]; old != ([32]byte{}) {
		delete(c.m, old)
	}
	c.ring[c.next] = t.Hash
	c.next = (c.next + 1) % len(c.ring)
	c.m[t.Hash] = t
}

// DecodeAndVerifyCached is DecodeAndVerify, consulting and filling the cache
// (which may be nil).
func DecodeAndVerifyCached(data []byte, chainID string, c *TxCache) (*Tx, error) {
	if c != nil && len(data) <= MaxTxBytes {
		if t := c.get(chainID, sha256.Sum256(data)); t != nil {
			return t, nil
		}
	}
	t, err := DecodeAndVerify(data, chainID)
	if err != nil {
		return nil, err
	}
	c.add(chainID, t)
	return t, nil
}

// DecodeCached is DecodeTx through the cache: a cached transaction is
// returned as is (it decoded before); otherwise the bytes are decoded but
// not added, since they are not yet verified.
func DecodeCached(data []byte, chainID string, c *TxCache) (*Tx, error) {
	if c != nil && len(data) <= MaxTxBytes {
		if t := c.get(chainID, sha256.Sum256(data)); t != nil {
			return t, nil
		}
	}
	return DecodeTx(data)
}

// verifiedSet remembers the verdicts of proofs (a prediction proof, a
// contribution's bounds proof), keyed by the transaction and the state the
// proof was checked against (verifiedKey): nil for a proof that verified,
// the error for one that did not. Verification is a pure function of those,
// so reusing a verdict cannot change an outcome. The set is bounded like
// the transaction cache, oldest first out.
type verifiedSet struct {
	m    map[[32]byte]error
	ring [][32]byte
	next int
}

// verdict returns the remembered outcome of verifying statement k, and
// whether there is one.
func (c *TxCache) verdict(k [32]byte) (err error, known bool) {
	if c == nil {
		return nil, false
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	err, known = c.ok.m[k]
	return err, known
}

// hasVerified says whether the statement k verified before.
func (c *TxCache) hasVerified(k [32]byte) bool {
	err, known := c.verdict(k)
	return known && err == nil
}

// markVerified remembers that the statement k verified.
func (c *TxCache) markVerified(k [32]byte) { c.remember(k, nil) }

// remember records the outcome of verifying statement k.
func (c *TxCache) remember(k [32]byte, verr error) {
	if c == nil || len(c.ring) == 0 {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	v := &c.ok
	if v.m == nil {
		v.m, v.ring = make(map[[32]byte]error), make([][32]byte, len(c.ring))
	}
	if _, ok := v.m[k]; ok {
		return
	}
	if old := v.ring[v.next]; old != ([32]byte{}) {
		delete(v.m, old)
	}
	v.ring[v.next] = k
	v.next = (v.next + 1) % len(v.ring)
	v.m[k] = verr
}

// hashParts hashes length-prefixed parts, so no two lists of parts collide.
func hashParts(parts ...string) [32]byte {
	h := sha256.New()
	var n [8]byte
	for _, p := range parts {
		binary.BigEndian.PutUint64(n[:], uint64(len(p)))
		h.Write(n[:])
		h.Write([]byte(p))
	}
	var out [32]byte
	h.Sum(out[:0])
	return out
}
