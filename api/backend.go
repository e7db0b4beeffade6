// Package api serves medchain's HTTP API under /v1/ (JSON) and its OpenAPI
// description at /v1/openapi.json.
package api

import (
	"context"
	"encoding/json"
	"errors"
	"time"

	"github.com/medchain/medchain/ledger"
	"github.com/medchain/medchain/store"
)

// Backend is what the API needs from a node. The node implements it over
// the in-process ledger application and CometBFT.
type Backend interface {
	// ChainID is the chain's id.
	ChainID() string
	// View runs fn over committed state with the latest commitment.
	View(fn func(r store.ReadWriter, c ledger.Commitment) error) error
	// Iterate lists committed keys under prefix in key order.
	Iterate(prefix []byte, fn func(key, value []byte) bool) error
	// Broadcast checks a transaction as the mempool would (decoding,
	// signature, nonce against committed state) and submits it. It returns
	// the check's result (Code != 0 means rejected and not queued; Log is
	// the reason).
	Broadcast(ctx context.Context, tx []byte) (ledger.Result, error)
	// Status describes the node and chain.
	Status(ctx context.Context) (*NodeStatus, error)
	// SignedHeader returns the block header at height with the validators'
	// commit signatures, and the validator set that signed it, both as
	// CometBFT's own JSON encodings.
	SignedHeader(ctx context.Context, height int64) (*SignedHeader, error)
}

// ErrTxInCache is what Backend.Broadcast returns when the node's mempool
// already holds these exact transaction bytes. Submitting is idempotent, so
// the API answers as for the first submission. (The node translates
// CometBFT's own error into this one, so the API imports nothing of
// CometBFT.)
var ErrTxInCache = errors.New("transaction already in the mempool")

// NodeStatus is GET /v1/status.
type NodeStatus struct {
	ChainID    string            `json:"chain_id"`
	Height     int64             `json:"height"`   // latest committed block
	AppHash    ledger.HexBytes   `json:"app_hash"` // app hash after Height (it appears in header Height+1)
	BlockTime  time.Time         `json:"block_time"`
	NodeID     string            `json:"node_id"`
	Moniker    string            `json:"moniker"`
	CatchingUp bool              `json:"catching_up"`
	Validators int               `json:"validators"`
	Peers      int               `json:"peers"`
	Commitment ledger.Commitment `json:"commitment"`
	Version    string            `json:"version"`
}

// SignedHeader is GET /v1/headers/{height}.
type SignedHeader struct {
	Height       int64           `json:"height"`
	SignedHeader json.RawMessage `json:"signed_header"` // CometBFT types.SignedHeader, cmtjson
	Validators   json.RawMessage `json:"validators"`    // CometBFT types.ValidatorSet, cmtjson
}
