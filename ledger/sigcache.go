package ledger

import (
	"crypto/sha256"
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
