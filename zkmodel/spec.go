package zkmodel

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"strconv"
	"strings"

	"github.com/medchain/medchain/analysis"
	"github.com/medchain/medchain/compute"
	"github.com/medchain/medchain/ledger"
	"github.com/medchain/medchain/zk"
)

// Spec is a linear (e.g. logistic-regression) model in real numbers,
// logit = Σ Weights[i]·x[i] + Intercept: the model file of `medchain
// model commit --model`. Its features may come with it (a model from a
// compute job names them) or be given separately.
type Spec struct {
	Weights   []float64             `json:"weights"`
	Intercept float64               `json:"intercept"`
	Scale     *uint                 `json:"scale,omitempty"` // fractional bits; default zk.DefaultScale
	Features  []ledger.ModelFeature `json:"features,omitempty"`
}

// ParseFeature reads name[:system[:code[:unit]]], e.g.
// sbp:loinc:8480-6:mm[Hg].
func ParseFeature(s string) (ledger.ModelFeature, error) {
	parts := strings.Split(s, ":")
	if len(parts) > 4 || parts[0] == "" {
		return ledger.ModelFeature{}, fmt.Errorf("%q: want name[:system[:code[:unit]]], e.g. sbp:loinc:8480-6:mm[Hg]", s)
	}
	f := ledger.ModelFeature{Name: parts[0]}
	for i, p := range []*string{&f.System, &f.Code, &f.Unit} {
		if i+1 < len(parts) {
			*p = parts[i+1]
		}
	}
	return f, nil
}

// percent prints a probability as a percentage without float noise.
func percent(p float64) string { return strconv.FormatFloat(p*100, 'g', 6, 64) }

// RiskLabels names the buckets that risk thresholds make: for 0.05, 0.1,
// 0.2 they are <5%, 5-10%, 10-20%, >=20%.
func RiskLabels(ps []float64) []string {
	if len(ps) == 0 {
		return nil
	}
	out := make([]string, 0, len(ps)+1)
	for i, p := range ps {
		if i == 0 {
			out = append(out, "<"+percent(p)+"%")
		} else {
			out = append(out, percent(ps[i-1])+"-"+percent(p)+"%")
		}
	}
	return append(out, ">="+percent(ps[len(ps)-1])+"%")
}

// strictJSON decodes one JSON value with no unknown fields and nothing
// after it.
func strictJSON(r io.Reader, v any) error {
	dec := json.NewDecoder(r)
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return err
	}
	if dec.More() {
		return errors.New("data after the JSON value")
	}
	return nil
}

// readStrict reads a JSON file strictly; errors name the input and file.
func readStrict(in Input, path string, v any) error {
	b, err := os.ReadFile(path)
	if err != nil {
		return inputErr(in, err)
	}
	if err := strictJSON(bytes.NewReader(b), v); err != nil {
		return inputErr(in, fmt.Errorf("%s: %w", path, err))
	}
	return nil
}

// ReadSpec reads a model file strictly.
func ReadSpec(path string) (Spec, error) {
	var s Spec
	err := readStrict(InputModel, path, &s)
	return s, err
}

// ReadFeatures reads a features file: a JSON list of {"name", "system",
// "code", "unit"}.
func ReadFeatures(path string) ([]ledger.ModelFeature, error) {
	var fs []ledger.ModelFeature
	err := readStrict(InputFeatures, path, &fs)
	return fs, err
}

// ReadJobResult reads the logistic model a compute job released from the
// file `medchain job result --out` writes, and returns it with the job's
// id (see FromJobResult).
func ReadJobResult(path string) (Spec, uint64, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return Spec{}, 0, inputErr(InputJobResult, err)
	}
	s, job, err := FromJobResult(b)
	if err != nil {
		var e *Error
		if errors.As(err, &e) {
			e.Err = fmt.Errorf("%s: %w", path, e.Err)
		}
		return Spec{}, 0, err
	}
	return s, job, nil
}

// regressionRelease is the part of a regression release that holds the
// fitted model (outputctl.RegressionRelease and the pooled and private
// releases that embed it).
type regressionRelease struct {
	Regression struct {
		Model analysis.Model `json:"model"`
	} `json:"regression"`
}

// FromJobResult takes the logistic model a compute job released: its
// coefficients become the weights, its feature names the features, and
// the job's id is returned as the job that trained it. b is what
// `medchain job result --out` writes: a JSON list of the job's decrypted
// results (one per site), or one result. Every result must hold the same
// regression model (a pooled study's sites release one fit); a job whose
// sites released different models must be read one site at a time
// (`medchain job result --dataset`).
func FromJobResult(b []byte) (Spec, uint64, error) {
	var rs []compute.Result
	if t := bytes.TrimLeft(b, " \t\r\n"); len(t) > 0 && t[0] == '[' {
		if err := strictJSON(bytes.NewReader(b), &rs); err != nil {
			return Spec{}, 0, inputErr(InputJobResult, err)
		}
	} else {
		var r compute.Result
		if err := strictJSON(bytes.NewReader(b), &r); err != nil {
			return Spec{}, 0, inputErr(InputJobResult, err)
		}
		rs = []compute.Result{r}
	}
	if len(rs) == 0 {
		return Spec{}, 0, inputErr(InputJobResult, errors.New("no result in the file"))
	}
	var m *analysis.Model
	for i, r := range rs {
		if r.Job != rs[0].Job {
			return Spec{}, 0, inputErr(InputJobResult, fmt.Errorf("results of jobs %d and %d: one job's results only", rs[0].Job, r.Job))
		}
		if !r.ReleaseKind.IsRegression() {
			return Spec{}, 0, inputErr(InputJobResult, fmt.Errorf("job %d released a %q, not a regression", r.Job, r.ReleaseKind))
		}
		// The release's other fields (standard errors, diagnostics, noise
		// accounting) are not the model's: read leniently.
		var rel regressionRelease
		if err := json.Unmarshal(r.Release, &rel); err != nil {
			return Spec{}, 0, inputErr(InputJobResult, fmt.Errorf("result %d of job %d: release: %w", i, r.Job, err))
		}
		got := rel.Regression.Model
		if m == nil {
			m = &got
		} else if !sameModel(*m, got) {
			return Spec{}, 0, inputErr(InputJobResult, fmt.Errorf("the %d results of job %d hold different models: take one site's (medchain job result --dataset D --out FILE)", len(rs), r.Job))
		}
	}
	if err := m.Validate(); err != nil {
		return Spec{}, 0, inputErr(InputJobResult, err)
	}
	if m.Link != analysis.Logit {
		// Risk buckets are thresholds on the logit; another link's score
		// does not map to risk through them.
		return Spec{}, 0, inputErr(InputJobResult, fmt.Errorf("the model's link is %s; only logistic (logit) models can be committed for risk buckets", m.Link))
	}
	s := Spec{Weights: m.Coefficients, Intercept: m.Intercept}
	for _, f := range m.Features {
		s.Features = append(s.Features, ledger.ModelFeature{Name: f})
	}
	return s, rs[0].Job, nil
}

func sameModel(a, b analysis.Model) bool {
	return a.Link == b.Link && a.Intercept == b.Intercept &&
		slices.Equal(a.Features, b.Features) && slices.Equal(a.Coefficients, b.Coefficients)
}

// Request is what a model owner registers.
type Request struct {
	ID   string // the model id
	Spec Spec
	// Features name the weights, in order; nil means the Spec's.
	Features []ledger.ModelFeature
	// Thresholds are increasing probabilities that separate the risk
	// buckets; they become integer score edges through the logit
	// (zk.EdgesFromProbabilities), which is all the ledger stores.
	Thresholds []float64
	Labels     []string // one per bucket; nil means RiskLabels(Thresholds)
	Job        *uint64  // the completed compute job that trained the model
	// Description says what the model predicts, for the catalogue.
	Description string
}

// Commit quantises the model, commits to it with randomness from rnd and
// returns the registration and the commitment's secret opening. The
// opening's ChainID is for the caller to set: the chain the registration
// is sent to.
func Commit(r Request, rnd io.Reader) (*ledger.RegisterModel, *Opening, error) {
	if err := ledger.ValidModelID(r.ID); err != nil {
		return nil, nil, inputErr(InputID, err)
	}
	scale := uint(zk.DefaultScale)
	if r.Spec.Scale != nil {
		scale = *r.Spec.Scale
	}
	features := r.Features
	if features == nil {
		features = r.Spec.Features
	}
	if len(features) != len(r.Spec.Weights) {
		return nil, nil, inputErr(InputFeatures, fmt.Errorf("the model has %d weights but %d features are named", len(r.Spec.Weights), len(features)))
	}
	if len(r.Thresholds) == 0 {
		return nil, nil, inputErr(InputThresholds, errors.New("required: increasing probabilities, e.g. 0.05,0.1,0.2"))
	}
	edges, err := zk.EdgesFromProbabilities(r.Thresholds, scale)
	if err != nil {
		return nil, nil, inputErr(InputThresholds, err)
	}
	labels := r.Labels
	if len(labels) == 0 {
		labels = RiskLabels(r.Thresholds)
	} else if len(labels) != len(edges)+1 {
		return nil, nil, inputErr(InputLabels, fmt.Errorf("%d thresholds make %d buckets, got %d labels", len(r.Thresholds), len(edges)+1, len(labels)))
	}
	c, opening, err := zk.Commit(zk.Model{Weights: r.Spec.Weights, Intercept: r.Spec.Intercept, Scale: scale}, rnd)
	if err != nil {
		return nil, nil, inputErr(InputModel, err)
	}
	msg := &ledger.RegisterModel{ID: r.ID, Commitment: c.String(), Features: features, Scale: uint32(scale),
		BucketEdges: edges, BucketLabels: labels, Description: r.Description, Job: r.Job}
	return msg, &Opening{Model: r.ID, Commitment: c, Opening: opening}, nil
}
