package ledger

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"regexp"
	"slices"
	"strings"

	"github.com/medchain/medchain/store"
	"github.com/medchain/medchain/zk"
)

// Zero-knowledge predictions (package zk).
//
// A model owner registers a hiding commitment to a quantised linear model
// with its features, fixed-point scale and risk buckets (integer score
// edges and their labels). Anyone holding a prediction proof can then show
// that the committed model puts given inputs x in a bucket, without the
// weights ever being revealed.
//
// Two ways to put a prediction on the ledger, because of where x ends up:
//
//   - record_prediction carries x, the bucket, the request id and the proof;
//     every validator runs zk.Verify. x is then in the transaction, and
//     CometBFT keeps every transaction's bytes in its blocks for good: this
//     is for inputs that may be public (a synthetic or consented example, an
//     auditor's spot check), never for a patient's values.
//   - attest_prediction is for patient predictions: the proof is verified off
//     the ledger (`medchain model verify`, POST /v1/models/{id}/verify), and
//     the verifier records only a salted hash of x, the bucket and the hash
//     of the proof. Whoever holds the proof file (x, salt, request, proof)
//     can show it is the one recorded; the ledger alone reveals nothing of x.
//
// Either way the state holds no record-level value: a prediction record
// keeps the hash of x and of the proof, never x or the proof itself. The
// ledger keeps no floats either: scale and edges are integers, and any
// float-to-integer conversion (quantising inputs, thresholds to edges)
// happens in the client.

// Model limits.
const (
	// MaxModelFeatures bounds a model's dimension. Verification cost and the
	// generators a node derives grow with it; 128 covers clinical risk
	// scores with room to spare.
	MaxModelFeatures = 128
	// MaxModelEdges bounds the bucket edges (there is one bucket more
	// than edges). Few, wide buckets leak least about the model.
	MaxModelEdges = 16
	// MaxBucketLabel bounds a bucket label ("<5%", "5-10%").
	MaxBucketLabel = 32
)

// Prediction modes.
const (
	// PredictionVerified: the ledger verified the proof (record_prediction).
	PredictionVerified = "verified"
	// PredictionAttested: the recorder verified the proof off the ledger
	// and attests to it (attest_prediction); the ledger has its word.
	PredictionAttested = "attested"
)

// ModelFeature is one input of a model: what it measures, coded.
type ModelFeature struct {
	_      struct{} `cbor:",toarray"` // stored as an array of its fields (state.go)
	Name   string   `json:"name"`
	System string   `json:"system,omitempty"` // code system: loinc, snomed, local, …
	Code   string   `json:"code,omitempty"`
	Unit   string   `json:"unit,omitempty"` // UCUM unit of the unquantised value
}

// Model is a registered model commitment.
type Model struct {
	_            struct{}       `cbor:",toarray"` // stored as an array of its fields (state.go)
	ID           string         `json:"id"`
	Owner        string         `json:"owner"` // the registering account
	Org          string         `json:"org,omitempty"`
	Commitment   string         `json:"commitment"` // zk.Commitment, 64 lower-case hex digits
	Features     []ModelFeature `json:"features"`
	Scale        uint32         `json:"scale"`        // fractional bits of weights and inputs; scores are at 2^(2·scale)
	BucketEdges  []int64        `json:"bucket_edges"` // strictly increasing integer score edges
	BucketLabels []string       `json:"bucket_labels"`
	Job          *uint64        `json:"job,omitempty"` // the compute job that trained it
	Description  string         `json:"description,omitempty"`
	Registered   int64          `json:"registered_height"`
	Predictions  uint64         `json:"predictions"` // how many predictions are recorded (the next seq)
}

// Buckets are the model's score buckets: [MinInt64, e_1), …, [e_k, MaxInt64).
func (m *Model) Buckets() ([]zk.Bucket, error) { return zk.BucketsFromEdges(m.BucketEdges) }

// Prediction is a recorded prediction. It holds no record-level value:
// x only as a hash, the proof only as a hash.
type Prediction struct {
	_         struct{} `cbor:",toarray"` // stored as an array of its fields (state.go)
	Model     string   `json:"model"`
	Seq       uint64   `json:"seq"`
	Mode      string   `json:"mode"`   // verified or attested
	XHash     string   `json:"x_hash"` // InputsHash: of x itself (verified) or salted (attested)
	Bucket    uint32   `json:"bucket"`
	Label     string   `json:"label"`
	ProofHash string   `json:"proof_hash"`        // SHA-256 of the proof bytes
	Request   string   `json:"request,omitempty"` // verified only: the request id the proof is bound to
	Recorder  string   `json:"recorder"`
	Height    int64    `json:"height"`
}

// Messages.

// RegisterModel registers a model commitment. Signed by a researcher or
// institution account.
type RegisterModel struct {
	ID           string         `json:"id"`
	Commitment   string         `json:"commitment"`
	Features     []ModelFeature `json:"features"`
	Scale        uint32         `json:"scale"`
	BucketEdges  []int64        `json:"bucket_edges"`
	BucketLabels []string       `json:"bucket_labels"`
	Job          *uint64        `json:"job,omitempty"`
	Description  string         `json:"description,omitempty"`
}

// RecordPrediction asks the ledger to verify a prediction proof and record
// it. x is quantised (round(x·2^scale)) and is public: it stays in the
// block. The proof is bound to zk.NewContext(chain id, model, request).
type RecordPrediction struct {
	Model   string  `json:"model"`
	X       []int64 `json:"x"`
	Bucket  uint32  `json:"bucket"`
	Request string  `json:"request"`
	Proof   []byte  `json:"proof"`
}

// AttestPrediction records a prediction the signer verified off the
// ledger: a salted hash of x (InputsHash), the bucket and the SHA-256 of
// the proof bytes.
type AttestPrediction struct {
	Model     string `json:"model"`
	XHash     string `json:"x_hash"`
	Bucket    uint32 `json:"bucket"`
	ProofHash string `json:"proof_hash"`
}

// Transaction types of models.
const (
	TxRegisterModel    TxType = "register_model"
	TxRecordPrediction TxType = "record_prediction"
	TxAttestPrediction TxType = "attest_prediction"
)

func (*RegisterModel) Type() TxType    { return TxRegisterModel }
func (*RecordPrediction) Type() TxType { return TxRecordPrediction }
func (*AttestPrediction) Type() TxType { return TxAttestPrediction }

// inputsDomain separates InputsHash from every other hash.
const inputsDomain = "medchain/zk/inputs/v1"

// InputsHash is the hex SHA-256 of
//
//	"medchain/zk/inputs/v1" 0x00 ‖ uint32be(len(salt)) ‖ salt ‖ uint32be(len(x)) ‖ int64be(x_i)…
//
// With a random 32-byte salt kept beside the proof it is a hiding
// commitment to x (a patient's quantised values are few enough to guess,
// so an unsalted hash would not hide them); record_prediction, whose x is
// public anyway, uses no salt.
func InputsHash(salt []byte, x []int64) string {
	h := sha256.New()
	h.Write([]byte(inputsDomain))
	h.Write([]byte{0})
	var n [8]byte
	binary.BigEndian.PutUint32(n[:4], uint32(len(salt)))
	h.Write(n[:4])
	h.Write(salt)
	binary.BigEndian.PutUint32(n[:4], uint32(len(x)))
	h.Write(n[:4])
	for _, v := range x {
		binary.BigEndian.PutUint64(n[:], uint64(v))
		h.Write(n[:])
	}
	return hex.EncodeToString(h.Sum(nil))
}

// ProofHash is the hex SHA-256 of a proof's bytes.
func ProofHash(proof []byte) string {
	h := sha256.Sum256(proof)
	return hex.EncodeToString(h[:])
}

// requestRE bounds request ids: an opaque token, never free text (it must
// not carry a patient identifier).
var requestRE = regexp.MustCompile(`^[A-Za-z0-9._:-]{1,64}$`)

// ValidRequestID checks a prediction request id.
func ValidRequestID(field, r string) error {
	if !requestRE.MatchString(r) {
		return errf(CodeInvalidField, "%s: %q is not a request id (1-64 chars of A-Z a-z 0-9 . _ : -)", field, r)
	}
	return nil
}

// CheckPredictionStatement checks that x and a bucket index fit the model,
// and returns the bucket.
func CheckPredictionStatement(m *Model, x []int64, bucket uint32) (zk.Bucket, error) {
	if len(x) != len(m.Features) {
		return zk.Bucket{}, errf(CodeInvalidField, "msg.x: %d inputs, model %q has %d features", len(x), m.ID, len(m.Features))
	}
	if int(bucket) >= len(m.BucketLabels) {
		return zk.Bucket{}, errf(CodeInvalidField, "msg.bucket: %d is out of range, model %q has %d buckets", bucket, m.ID, len(m.BucketLabels))
	}
	buckets, err := m.Buckets()
	if err != nil || len(buckets) != len(m.BucketLabels) {
		return zk.Bucket{}, errf(CodeInternal, "model %q: stored buckets are invalid: %v", m.ID, err)
	}
	return buckets[bucket], nil
}

// VerifyPrediction checks a prediction proof against a registered model:
// that the model committed in m puts x in bucket, for this chain and
// request. It is deterministic (no randomness, floats or goroutines), the
// one check the ledger, the API and the CLI all run. Errors are *Error:
// invalid_field for a statement that does not fit the model, invalid_proof
// for a proof that does not verify.
//
// verifyPrediction is what the handler calls: VerifyPrediction, replaced
// only by tests that count verifications.
func VerifyPrediction(chainID string, m *Model, x []int64, bucket uint32, request string, proof []byte) error {
	b, err := CheckPredictionStatement(m, x, bucket)
	if err != nil {
		return err
	}
	if err := ValidRequestID("msg.request", request); err != nil {
		return err
	}
	var c zk.Commitment
	if err := c.UnmarshalText([]byte(m.Commitment)); err != nil {
		return errf(CodeInternal, "model %q: stored commitment: %v", m.ID, err)
	}
	params, err := zk.NewParams(len(m.Features))
	if err != nil {
		return errf(CodeInternal, "model %q: %v", m.ID, err)
	}
	var p zk.Proof
	if err := p.UnmarshalBinary(proof); err != nil {
		return errf(CodeInvalidProof, "msg.proof: %v", err)
	}
	if err := zk.Verify(params, c, x, b, zk.NewContext(chainID, m.ID, request), &p); err != nil {
		return errf(CodeInvalidProof, "msg.proof: does not prove that model %q puts x in bucket %d (%s): %v", m.ID, bucket, m.BucketLabels[bucket], err)
	}
	return nil
}

// validModel checks a register_model message on its own.
func validModel(m *RegisterModel) error {
	if err := validID("msg.id", m.ID); err != nil {
		return err
	}
	var c zk.Commitment
	if err := c.UnmarshalText([]byte(m.Commitment)); err != nil {
		return errf(CodeInvalidField, "msg.commitment: %v", err)
	}
	if c.String() != m.Commitment {
		return errf(CodeInvalidField, "msg.commitment: must be lower-case hex")
	}
	if len(m.Features) == 0 || len(m.Features) > MaxModelFeatures {
		return errf(CodeInvalidField, "msg.features: name 1 to %d features, got %d", MaxModelFeatures, len(m.Features))
	}
	for i, f := range m.Features {
		at := fmt.Sprintf("msg.features[%d]", i)
		if err := validText(at+".name", f.Name, 64, true); err != nil {
			return err
		}
		if slices.ContainsFunc(m.Features[:i], func(g ModelFeature) bool { return g.Name == f.Name }) {
			return errf(CodeInvalidField, "%s.name: duplicate feature %q", at, f.Name)
		}
		for _, kv := range [][2]string{{".system", f.System}, {".code", f.Code}, {".unit", f.Unit}} {
			if err := validText(at+kv[0], kv[1], 128, false); err != nil {
				return err
			}
		}
	}
	if m.Scale > zk.MaxScale {
		return errf(CodeInvalidField, "msg.scale: %d fractional bits, limit %d", m.Scale, zk.MaxScale)
	}
	if len(m.BucketEdges) == 0 || len(m.BucketEdges) > MaxModelEdges {
		return errf(CodeInvalidField, "msg.bucket_edges: give 1 to %d edges, got %d", MaxModelEdges, len(m.BucketEdges))
	}
	if _, err := zk.BucketsFromEdges(m.BucketEdges); err != nil {
		return errf(CodeInvalidField, "msg.bucket_edges: must be strictly increasing, below the largest int64: %v", err)
	}
	if len(m.BucketLabels) != len(m.BucketEdges)+1 {
		return errf(CodeInvalidField, "msg.bucket_labels: %d edges make %d buckets, got %d labels", len(m.BucketEdges), len(m.BucketEdges)+1, len(m.BucketLabels))
	}
	for i, l := range m.BucketLabels {
		at := fmt.Sprintf("msg.bucket_labels[%d]", i)
		if err := validText(at, l, MaxBucketLabel, true); err != nil {
			return err
		}
		if slices.Contains(m.BucketLabels[:i], l) {
			return errf(CodeInvalidField, "%s: duplicate label %q", at, l)
		}
	}
	return validText("msg.description", m.Description, 4000, false)
}

func (c *txCtx) registerModel(m *RegisterModel) ([]Event, error) {
	if err := c.requireKind(KindResearcher, KindInstitution); err != nil {
		return nil, err
	}
	if err := validModel(m); err != nil {
		return nil, err
	}
	if b, err := c.s.Get(KeyModel(m.ID)); err != nil {
		return nil, errf(CodeInternal, "read model: %v", err)
	} else if b != nil {
		return nil, errf(CodeAlreadyExists, "model %q already exists", m.ID)
	}
	if m.Job != nil {
		if err := c.modelJob(*m.Job); err != nil {
			return nil, err
		}
	}
	model := Model{ID: m.ID, Owner: c.addr, Org: c.signer.Org, Commitment: m.Commitment, Features: m.Features, Scale: m.Scale,
		BucketEdges: m.BucketEdges, BucketLabels: m.BucketLabels, Job: m.Job, Description: m.Description, Registered: c.height}
	return ev("register_model", "model", m.ID, "owner", c.addr), putState(c.s, KeyModel(m.ID), model)
}

// modelJob checks the job a model names: it exists, it completed, and the
// signer asked for it or belongs to the requester's organisation.
func (c *txCtx) modelJob(id uint64) error {
	j, err := c.job(id)
	if err != nil {
		return err
	}
	if j.Status != JobCompleted {
		return errf(CodeInvalidState, "msg.job: job %d is %s, not completed", id, j.Status)
	}
	if j.Requester == c.addr {
		return nil
	}
	req, err := getAccount(c.s, j.Requester)
	if err != nil {
		return err
	}
	if req == nil || req.Org == "" || req.Org != c.signer.Org {
		return errf(CodeUnauthorized, "msg.job: job %d was requested by %s; only it or its organisation may register its model", id, j.Requester)
	}
	return nil
}

func (c *txCtx) model(id string) (*Model, error) {
	var m Model
	found, err := getState(c.s, KeyModel(id), &m)
	if err != nil {
		return nil, err
	}
	if !found {
		return nil, errf(CodeNotFound, "msg.model: no model %q", id)
	}
	return &m, nil
}

// newProof refuses a proof already recorded for the model: each proof is
// recorded once.
func (c *txCtx) newProof(model, proofHash string) error {
	var seq uint64
	found, err := getState(c.s, KeyPredictionProof(model, proofHash), &seq)
	if err != nil {
		return err
	}
	if found {
		return errf(CodeAlreadyExists, "this proof of model %q is already recorded as prediction %d", model, seq)
	}
	return nil
}

// storePrediction stores a prediction under the model's next sequence
// number and indexes it by its proof hash.
func (c *txCtx) storePrediction(m *Model, p Prediction) ([]Event, error) {
	p.Seq, p.Model, p.Recorder, p.Height, p.Label = m.Predictions, m.ID, c.addr, c.height, m.BucketLabels[p.Bucket]
	m.Predictions++
	if err := putState(c.s, KeyPredictionProof(m.ID, p.ProofHash), p.Seq); err != nil {
		return nil, err
	}
	if err := putState(c.s, KeyPrediction(m.ID, p.Seq), p); err != nil {
		return nil, err
	}
	return ev(string(c.tx.Payload.Type), "model", m.ID, "seq", fmt.Sprint(p.Seq), "mode", p.Mode, "bucket", fmt.Sprint(p.Bucket), "label", p.Label),
		putState(c.s, KeyModel(m.ID), m)
}

func (c *txCtx) recordPrediction(m *RecordPrediction) ([]Event, error) {
	model, err := c.model(m.Model)
	if err != nil {
		return nil, err
	}
	if _, err := CheckPredictionStatement(model, m.X, m.Bucket); err != nil {
		return nil, err
	}
	if err := ValidRequestID("msg.request", m.Request); err != nil {
		return nil, err
	}
	if len(m.Proof) == 0 {
		return nil, errf(CodeInvalidField, "msg.proof: required")
	}
	ph := ProofHash(m.Proof)
	// A duplicate is refused before the (comparatively costly) verification.
	if err := c.newProof(model.ID, ph); err != nil {
		return nil, err
	}
	// CheckTx verified it already (CheckCostly) unless a proposer
	// included it unchecked: a model's commitment never changes, so the
	// transaction and the commitment name the statement.
	key := verifiedKey("prediction", c.tx, model.ID, model.Commitment)
	if !c.cache.hasVerified(key) {
		if err := verifyPrediction(c.tx.Payload.ChainID, model, m.X, m.Bucket, m.Request, m.Proof); err != nil {
			return nil, err
		}
		c.cache.markVerified(key)
	}
	return c.storePrediction(model, Prediction{Mode: PredictionVerified, XHash: InputsHash(nil, m.X), Bucket: m.Bucket,
		ProofHash: ph, Request: m.Request})
}

func (c *txCtx) attestPrediction(m *AttestPrediction) ([]Event, error) {
	if err := c.requireKind(KindInstitution, KindResearcher, KindAuditor); err != nil {
		return nil, err
	}
	model, err := c.model(m.Model)
	if err != nil {
		return nil, err
	}
	if int(m.Bucket) >= len(model.BucketLabels) {
		return nil, errf(CodeInvalidField, "msg.bucket: %d is out of range, model %q has %d buckets", m.Bucket, model.ID, len(model.BucketLabels))
	}
	if err := validHash("msg.x_hash", m.XHash, true); err != nil {
		return nil, err
	}
	if err := validHash("msg.proof_hash", m.ProofHash, true); err != nil {
		return nil, err
	}
	if m.XHash != strings.ToLower(m.XHash) || m.ProofHash != strings.ToLower(m.ProofHash) {
		return nil, errf(CodeInvalidField, "msg.x_hash, msg.proof_hash: must be lower-case hex")
	}
	if err := c.newProof(model.ID, m.ProofHash); err != nil {
		return nil, err
	}
	return c.storePrediction(model, Prediction{Mode: PredictionAttested, XHash: m.XHash, Bucket: m.Bucket, ProofHash: m.ProofHash})
}

var verifyPrediction = VerifyPrediction

// GetModel reads a registered model.
func GetModel(r store.Reader, id string) (*Model, error) { return getOne[Model](r, KeyModel(id)) }

// GetPrediction reads one recorded prediction.
func GetPrediction(r store.Reader, model string, seq uint64) (*Prediction, error) {
	return getOne[Prediction](r, KeyPrediction(model, seq))
}

// GetPredictions reads a model's recorded predictions, oldest first (nil
// if the model does not exist).
func GetPredictions(r store.Reader, model string) ([]Prediction, error) {
	m, err := GetModel(r, model)
	if err != nil || m == nil {
		return nil, err
	}
	out := make([]Prediction, 0, m.Predictions)
	for i := uint64(0); i < m.Predictions; i++ {
		p, err := GetPrediction(r, model, i)
		if err != nil {
			return nil, err
		}
		if p == nil {
			return nil, &Error{Code: CodeInternal, Msg: fmt.Sprintf("prediction %d of model %q missing", i, model)}
		}
		out = append(out, *p)
	}
	return out, nil
}

// ValidModelID checks a model id (as register_model does): 2-64 chars of
// a-z 0-9 . _ -, so it is safe in a state key and a file name.
func ValidModelID(id string) error { return validID("id", id) }

// KeyModel is a registered model by id.
func KeyModel(id string) []byte { return []byte("s/model/" + id) }

// KeyPrediction is one of a model's recorded predictions.
func KeyPrediction(model string, seq uint64) []byte {
	return []byte("s/pred/" + model + "/" + num(seq))
}

// KeyPredictionProof indexes a model's recorded predictions by the
// SHA-256 of their proof (lower-case hex), so a proof is recorded once.
func KeyPredictionProof(model, proofHash string) []byte {
	return []byte("s/predproof/" + model + "/" + proofHash)
}

// ListModels lists registered models in id order.
func ListModels(it Iterator, keep func(*Model) bool) ([]Model, error) {
	return list(it, KeyModel(""), keep)
}
