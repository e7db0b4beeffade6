package client

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"

	"github.com/medchain/medchain/api"
	"github.com/medchain/medchain/ledger"
)

// Zero-knowledge predictions: models, their recorded predictions, and
// verification of prediction proofs — by the node (VerifyPrediction) or
// here, against a model read through a verified state proof
// (VerifiedModel + CheckPrediction).

// ModelFilter selects models; empty fields match everything.
type ModelFilter struct {
	Owner string // address
	Org   string
}

// Models is GET /v1/models, in id order.
func (c *Client) Models(ctx context.Context, f ModelFilter) ([]ledger.Model, error) {
	q := url.Values{}
	if f.Owner != "" {
		q.Set("owner", f.Owner)
	}
	if f.Org != "" {
		q.Set("org", f.Org)
	}
	v, err := get[api.ModelList](ctx, c, "/v1/models", q)
	if err != nil {
		return nil, err
	}
	return v.Models, nil
}

// Model is GET /v1/models/{id}, unverified; VerifiedModel checks it.
func (c *Client) Model(ctx context.Context, id string) (*ledger.Model, error) {
	return get[ledger.Model](ctx, c, "/v1/models/"+url.PathEscape(id), nil)
}

// Predictions is GET /v1/models/{id}/predictions, oldest first.
func (c *Client) Predictions(ctx context.Context, id string) ([]ledger.Prediction, error) {
	v, err := get[api.PredictionList](ctx, c, "/v1/models/"+url.PathEscape(id)+"/predictions", nil)
	if err != nil {
		return nil, err
	}
	return v.Predictions, nil
}

// VerifyPrediction is POST /v1/models/{id}/verify: the node checks a proof
// against the model on its ledger and records nothing. A proof that does
// not verify is not an error here: the result says valid false, and why.
func (c *Client) VerifyPrediction(ctx context.Context, id string, req api.VerifyRequest) (*api.VerifyResult, error) {
	body, err := json.Marshal(req)
	if err != nil {
		return nil, err
	}
	var out api.VerifyResult
	if _, err := c.do(ctx, http.MethodPost, "/v1/models/"+url.PathEscape(id)+"/verify", nil, body, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// VerifiedModel reads a model through a state proof checked against a
// header signed by the validators (see VerifyStateProof), so its
// commitment and edges do not rest on the node's word. A model proven
// absent is a not_found *Error.
func (c *Client) VerifiedModel(ctx context.Context, id string) (*ledger.Model, *StateCheck, error) {
	sc, err := c.VerifyStateProof(ctx, string(ledger.KeyModel(id)))
	if err != nil {
		return nil, nil, err
	}
	if sc.Value == nil {
		return nil, sc, &Error{Status: http.StatusNotFound, Code: uint32(ledger.CodeNotFound), Name: ledger.CodeNotFound.String(),
			Message: fmt.Sprintf("model %q does not exist (proven absent at height %d)", id, sc.Commitment.Height)}
	}
	var m ledger.Model
	if err := ledger.DecodeState(sc.Value, &m); err != nil {
		return nil, nil, verifyErr("model %q: proven value does not decode: %v", id, err)
	}
	if m.ID != id {
		return nil, nil, verifyErr("the state key of model %q holds model %q", id, m.ID)
	}
	return &m, sc, nil
}

// VerificationFailed is the error of a check that did not pass (an
// *Error named verification_failed, wrapping ErrVerification).
func VerificationFailed(format string, args ...any) error { return verifyErr(format, args...) }

// PredictionFile is the file `medchain model prove` writes and `model
// verify`, `model record` and `model attest` read: one prediction's
// statement and proof. It holds the patient's quantised inputs, so it is
// record-level data: keep it like the record it came from.
type PredictionFile struct {
	ChainID    string          `json:"chain_id"`
	Model      string          `json:"model"`
	Commitment string          `json:"commitment"` // what the prover proved against (informational; checks use the ledger's)
	Request    string          `json:"request"`
	X          []int64         `json:"x"` // quantised inputs, round(x·2^scale)
	Bucket     uint32          `json:"bucket"`
	Label      string          `json:"label"`
	Salt       ledger.HexBytes `json:"salt"`  // for attest_prediction's x_hash (ledger.InputsHash)
	Proof      []byte          `json:"proof"` // zk.Proof bytes (base64 in JSON)
}

// VerifyRequest is the statement and proof as POST /v1/models/{id}/verify
// takes them.
func (p *PredictionFile) VerifyRequest() api.VerifyRequest {
	return api.VerifyRequest{X: p.X, Bucket: p.Bucket, Request: p.Request, Proof: p.Proof}
}

// Check verifies the proof here against a model (e.g. from VerifiedModel)
// with the ledger's own check, for chainID.
func (p *PredictionFile) Check(chainID string, m *ledger.Model) error {
	return ledger.VerifyPrediction(chainID, m, p.X, p.Bucket, p.Request, p.Proof)
}

// ReadPredictionFile reads a prediction file strictly.
func ReadPredictionFile(path string) (*PredictionFile, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var p PredictionFile
	if err := strictJSON(b, &p); err != nil {
		return nil, fmt.Errorf("%s: not a prediction file: %w", path, err)
	}
	if p.Model == "" || len(p.X) == 0 || len(p.Proof) == 0 {
		return nil, fmt.Errorf("%s: not a prediction file: model, x and proof are required", path)
	}
	return &p, nil
}

// Chain is the chain id the client signs for and checks against: ChainID
// when pinned (e.g. from a genesis file), else the node's /v1/status.
func (c *Client) Chain(ctx context.Context) (string, error) { return c.chainID(ctx) }

// strictJSON decodes one JSON value, refusing unknown fields and trailing
// data.
func strictJSON(b []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return err
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return fmt.Errorf("trailing data after the JSON value")
	}
	return nil
}
