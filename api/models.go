package api

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strings"

	"github.com/medchain/medchain/ledger"
	"github.com/medchain/medchain/store"
)

// Zero-knowledge predictions: committed models, their recorded
// predictions, and off-ledger verification of a prediction proof.

// ModelList is GET /v1/models.
type ModelList struct {
	Models []ledger.Model `json:"models"`
}

// PredictionList is GET /v1/models/{id}/predictions: the model's recorded
// predictions, oldest first. They hold hashes of x and of the proofs only.
type PredictionList struct {
	Model       string              `json:"model"`
	Predictions []ledger.Prediction `json:"predictions"`
}

// VerifyRequest is the body of POST /v1/models/{id}/verify: a prediction
// statement (quantised inputs, bucket index, request id) and its proof.
type VerifyRequest struct {
	X       []int64 `json:"x"`
	Bucket  uint32  `json:"bucket"`
	Request string  `json:"request"`
	Proof   []byte  `json:"proof"`
}

// VerifyResult is the answer of POST /v1/models/{id}/verify. Valid says
// whether the proof shows that the model committed on the ledger (at
// Height) puts x in the bucket for this chain and request; Reason says why
// not. Label is the claimed bucket's label (when the index exists). Nothing
// is recorded: record_prediction or attest_prediction does that.
type VerifyResult struct {
	Model      string `json:"model"`
	Commitment string `json:"commitment"`
	Height     int64  `json:"height"`
	Valid      bool   `json:"valid"`
	Bucket     uint32 `json:"bucket"`
	Label      string `json:"label,omitempty"`
	ProofHash  string `json:"proof_hash"`
	Reason     string `json:"reason,omitempty"`
}

func (s *Server) getModel(r *http.Request) (any, error) {
	id, err := idParam(r)
	if err != nil {
		return nil, err
	}
	m, err := lookup(s, func(rd store.ReadWriter) (*ledger.Model, error) { return ledger.GetModel(rd, id) })
	return found(m, err, "model %q does not exist", id)
}

// listModels lists models in id order, filtered by the optional owner
// (address) and org query parameters.
func (s *Server) listModels(r *http.Request) (any, error) {
	q := r.URL.Query()
	org, owner := q.Get("org"), q.Get("owner")
	if owner != "" {
		var err error
		if owner, err = hexParam("owner", owner, 20); err != nil {
			return nil, err
		}
	}
	ms, err := ledger.ListModels(s.b, func(m *ledger.Model) bool {
		return (owner == "" || m.Owner == owner) && (org == "" || m.Org == org)
	})
	if err != nil {
		return nil, listError(err)
	}
	return &ModelList{Models: ms}, nil
}

func (s *Server) listPredictions(r *http.Request) (any, error) {
	id, err := idParam(r)
	if err != nil {
		return nil, err
	}
	l, err := lookup(s, func(rd store.ReadWriter) (*PredictionList, error) {
		m, err := ledger.GetModel(rd, id)
		if err != nil || m == nil {
			return nil, err
		}
		ps, err := ledger.GetPredictions(rd, id)
		if err != nil {
			return nil, err
		}
		return &PredictionList{Model: id, Predictions: ps}, nil
	})
	return found(l, err, "model %q does not exist", id)
}

// verifyPrediction checks a prediction proof against the model committed on
// the ledger, with the ledger's own check (ledger.VerifyPrediction), off
// the ledger: nothing is recorded, so a patient's inputs can be checked
// here without ever entering a block. A proof that does not verify, or a
// statement that does not fit the model, is a 200 answer with valid false
// and the reason; a body that is not a VerifyRequest is malformed.
func (s *Server) verifyPrediction(r *http.Request) (any, error) {
	id, err := idParam(r)
	if err != nil {
		return nil, err
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, maxBody+1))
	if err != nil {
		return nil, apiError(ledger.CodeMalformed, "read body: %v", err)
	}
	if len(body) > maxBody {
		return nil, apiError(ledger.CodeOversize, "request body exceeds %d bytes", maxBody)
	}
	var req VerifyRequest
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&req); err != nil {
		return nil, apiError(ledger.CodeMalformed, "body: want a VerifyRequest {x, bucket, request, proof}: %v", err)
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return nil, apiError(ledger.CodeMalformed, "body: trailing data after the JSON object")
	}
	var m *ledger.Model
	var height int64
	err = s.b.View(func(rd store.ReadWriter, c ledger.Commitment) error {
		height = c.Height
		m, err = ledger.GetModel(rd, id)
		return err
	})
	if err != nil {
		return nil, err
	}
	if m == nil {
		return nil, notFound("model %q does not exist", id)
	}
	out := &VerifyResult{Model: id, Commitment: m.Commitment, Height: height, Bucket: req.Bucket, ProofHash: ledger.ProofHash(req.Proof)}
	if int(req.Bucket) < len(m.BucketLabels) {
		out.Label = m.BucketLabels[req.Bucket]
	}
	err = ledger.VerifyPrediction(s.b.ChainID(), m, req.X, req.Bucket, req.Request, req.Proof)
	var le *ledger.Error
	switch {
	case err == nil:
		out.Valid = true
	case errors.As(err, &le) && le.Code != ledger.CodeInternal:
		// The ledger names message fields (msg.x); here they are body fields.
		out.Reason = le.Code.String() + ": " + strings.TrimPrefix(le.Msg, "msg.")
	default:
		return nil, err
	}
	return out, nil
}
