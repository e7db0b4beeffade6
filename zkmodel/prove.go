package zkmodel

import (
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/medchain/medchain/client"
	"github.com/medchain/medchain/ledger"
	"github.com/medchain/medchain/zk"
)

// RequestID is the request id a proof is bound to: given, if it is a
// valid one, or a fresh random one (from rnd) if given is "".
func RequestID(given string, rnd io.Reader) (string, error) {
	if given != "" {
		return given, validRequest(given)
	}
	var r [8]byte
	if _, err := io.ReadFull(rnd, r[:]); err != nil {
		return "", err
	}
	return "req-" + hex.EncodeToString(r[:]), nil
}

func validRequest(r string) error {
	if ledger.ValidRequestID("request", r) != nil {
		return inputErr(InputRequest, fmt.Errorf("%q is not a request id (1-64 chars of A-Z a-z 0-9 . _ : -)", r))
	}
	return nil
}

func featureNames(m *ledger.Model) string {
	names := make([]string, len(m.Features))
	for i, f := range m.Features {
		names[i] = f.Name
	}
	return strings.Join(names, ", ")
}

// Prove evaluates model m, as registered on chain chainID, on values (in
// the features' units, in feature order) with its opening o, finds the
// bucket the score falls in and proves it, bound to the chain, the model
// and request. The prediction file holds the quantised inputs, the bucket
// and a fresh salt (for attest_prediction's hash of x); the score itself
// is nowhere in it. Randomness comes from rnd.
func Prove(o *Opening, m *ledger.Model, chainID, request string, values []float64, rnd io.Reader) (*client.PredictionFile, error) {
	if err := validRequest(request); err != nil {
		return nil, err
	}
	if err := o.Check(m); err != nil {
		return nil, err
	}
	if len(values) != len(m.Features) {
		return nil, inputErr(InputX, fmt.Errorf("%d values, model %q has %d features (%s)", len(values), m.ID, len(m.Features), featureNames(m)))
	}
	x, err := zk.QuantizeInputs(values, o.Opening.Scale)
	if err != nil {
		return nil, inputErr(InputX, err)
	}
	score, err := o.Opening.Score(x)
	if err != nil {
		return nil, inputErr(InputX, err)
	}
	buckets, err := m.Buckets()
	if err != nil {
		return nil, err
	}
	i, ok := zk.FindBucket(buckets, score)
	if !ok {
		return nil, inputErr(InputX, errors.New("the score is in no bucket (it is at the very top of the int64 range)"))
	}
	params, err := zk.NewParams(len(x))
	if err != nil {
		return nil, err
	}
	proof, err := zk.Prove(params, o.Opening, o.Commitment, x, buckets[i], zk.NewContext(chainID, m.ID, request), rnd)
	if err != nil {
		return nil, err
	}
	pb, err := proof.MarshalBinary()
	if err != nil {
		return nil, err
	}
	salt := make([]byte, 32)
	if _, err := io.ReadFull(rnd, salt); err != nil {
		return nil, err
	}
	return &client.PredictionFile{ChainID: chainID, Model: m.ID, Commitment: m.Commitment, Request: request, X: x,
		Bucket: uint32(i), Label: m.BucketLabels[i], Salt: salt, Proof: pb}, nil
}

// Node is what a local check needs of a node: a model read through a
// state proof checked against a validator-signed header, and the chain id.
// *client.Client implements it.
type Node interface {
	VerifiedModel(ctx context.Context, id string) (*ledger.Model, *client.StateCheck, error)
	Chain(ctx context.Context) (string, error)
}

var _ Node = (*client.Client)(nil)

// LocalCheck is the outcome of verifying a prediction here.
type LocalCheck struct {
	Valid      bool                `json:"valid"`
	Reason     string              `json:"reason,omitempty"`
	Commitment string              `json:"commitment,omitempty"`
	State      *client.StateCheck  `json:"state,omitempty"`
	Header     *client.HeaderCheck `json:"-"`
}

// CheckLocally verifies a prediction file here, with the ledger's own
// check (ledger.VerifyPrediction, zk.Verify), against the model read
// through a verified state proof: nothing rests on the node's word. A
// failure of the check itself (node unreachable, state proof not
// verifying) is an error; a proof that does not verify is a LocalCheck
// with Valid false and the ledger's reason.
func CheckLocally(ctx context.Context, n Node, pf *client.PredictionFile) (*LocalCheck, error) {
	m, sc, err := n.VerifiedModel(ctx, pf.Model)
	if err != nil {
		return nil, err
	}
	chainID, err := n.Chain(ctx)
	if err != nil {
		return nil, err
	}
	lc := &LocalCheck{Valid: true, Commitment: m.Commitment, State: sc, Header: sc.Header}
	if err := pf.Check(chainID, m); err != nil {
		var le *ledger.Error
		if !errors.As(err, &le) || le.Code == ledger.CodeInternal {
			return nil, err
		}
		lc.Valid, lc.Reason = false, le.Code.String()+": "+strings.TrimPrefix(le.Msg, "msg.")
	}
	return lc, nil
}
