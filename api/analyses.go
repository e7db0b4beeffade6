package api

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"math"
	"net/http"

	"github.com/medchain/medchain/jobparams"
	"github.com/medchain/medchain/ledger"
	"github.com/medchain/medchain/store"
)

// The built-in analyses' parameter formats, and the check of a job's
// params against its datasets' schemas before the job is signed: the
// check a worker makes (package jobparams), so a client learns of a
// mistake for free.

// AnalysisList is GET /v1/analyses.
type AnalysisList struct {
	Analyses []*jobparams.Spec `json:"analyses"`
}

func (s *Server) listAnalyses(*http.Request) (any, error) {
	var out AnalysisList
	for _, name := range jobparams.Analyses() {
		spec, _ := jobparams.Describe(name)
		out.Analyses = append(out.Analyses, spec)
	}
	return &out, nil
}

func (s *Server) getAnalysis(r *http.Request) (any, error) {
	name := r.PathValue("name")
	spec, ok := jobparams.Describe(name)
	if !ok {
		return nil, notFound("%q is not a built-in analysis a worker runs", name)
	}
	return spec, nil
}

// ValidateRequest is the body of POST /v1/jobs/validate: the fields of a
// submit_job that the check reads.
type ValidateRequest struct {
	Datasets []string        `json:"datasets"`
	Analysis string          `json:"analysis"`
	Params   json.RawMessage `json:"params"`
	// Purpose, when given, also checks that no opt-in dataset is left
	// without a patient whose consent permits it (a worker would refuse
	// the job with no_consent).
	Purpose string `json:"purpose,omitempty"`
}

// Validation is the answer of POST /v1/jobs/validate when the params fit
// every dataset: the dataset versions they were checked against, what the
// job costs under the current policies, and — for a job fitted as one pooled
// model — the study a submit_job declares.
type Validation struct {
	Valid    bool             `json:"valid"`
	Versions []CheckedVersion `json:"checked"`
	// Price is the sum of the datasets' current policy prices: the escrow
	// the ledger would take now (a dataset without a policy refuses jobs).
	Price uint64 `json:"price"`
	// Study is the pooled study to declare in submit_job.study, when the
	// node plans studies and the job needs one.
	Study *ledger.StudyRequest `json:"study,omitempty"`
}

// CheckedVersion is a dataset version params were checked against.
type CheckedVersion struct {
	Dataset string `json:"dataset"`
	Version uint64 `json:"version"`
}

// validateJob checks a job's params against each dataset's latest
// schema. Params that do not fit are answered 400 with the error's param
// ("params." and the path), reason (the jobparams code) and column.
func (s *Server) validateJob(r *http.Request) (any, error) {
	body, err := io.ReadAll(io.LimitReader(r.Body, maxBody+1))
	if err != nil {
		return nil, apiError(ledger.CodeMalformed, "read body: %v", err)
	}
	if len(body) > maxBody {
		return nil, apiError(ledger.CodeOversize, "request body exceeds %d bytes", maxBody)
	}
	var req ValidateRequest
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&req); err != nil {
		return nil, apiError(ledger.CodeMalformed, "body: want a ValidateRequest {datasets, analysis, params}: %v", err)
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return nil, apiError(ledger.CodeMalformed, "body: trailing data after the JSON object")
	}
	if len(req.Datasets) == 0 {
		return nil, badParam("datasets", "name at least one dataset")
	}
	out := &Validation{Valid: true}
	var optIn []ledger.ConsentQuery
	var first []ledger.Field
	err = s.b.View(func(rd store.ReadWriter, _ ledger.Commitment) error {
		for _, id := range req.Datasets {
			ds, err := ledger.GetDataset(rd, id)
			if err != nil {
				return err
			}
			if ds == nil {
				return notFound("dataset %q does not exist", id)
			}
			dv, err := ledger.GetDatasetVersion(rd, id, ds.LatestVersion)
			if err != nil {
				return err
			}
			if dv == nil {
				return apiError(ledger.CodeInternal, "dataset %q: version %d missing", id, ds.LatestVersion)
			}
			if err := jobparams.Check(req.Analysis, req.Params, dv.Schema); err != nil {
				return paramsError(id, err)
			}
			if first == nil {
				first = dv.Schema
			}
			pol, err := ledger.GetPolicy(rd, id)
			if err != nil {
				return err
			}
			if pol != nil {
				// Saturating: a total past 2^64 is refused by the ledger anyway.
				if out.Price+pol.Price < out.Price {
					out.Price = math.MaxUint64
				} else {
					out.Price += pol.Price
				}
			}
			if req.Purpose != "" {
				if pol != nil && pol.ConsentModel == ledger.ConsentOptIn {
					optIn = append(optIn, ledger.ConsentQuery{Dataset: id, Org: ds.Org, Purpose: req.Purpose, Model: pol.ConsentModel})
				}
			}
			out.Versions = append(out.Versions, CheckedVersion{Dataset: id, Version: dv.Version})
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	if err := jobparams.CheckSites(req.Analysis, req.Params, len(req.Datasets)); err != nil {
		return nil, paramsError(req.Datasets[0], err)
	}
	if len(optIn) > 0 {
		if err := s.someoneConsents(r, optIn); err != nil {
			return nil, err
		}
	}
	if s.plan != nil {
		job := &ledger.SubmitJob{Datasets: req.Datasets, Analysis: req.Analysis, Params: req.Params}
		if out.Study, err = s.plan(job, first); err != nil {
			e := apiError(ledger.CodeInvalidField, "params: the pooled study cannot be planned: %v", err)
			e.Param, e.Reason = "params", "bad_value"
			return nil, e
		}
	}
	return out, nil
}

// someoneConsents refuses opt-in datasets on which no patient's consent,
// as of the latest block, permits the purpose: they have no rows for the
// job. The consents are read page by page, as GET /v1/consents lists them.
func (s *Server) someoneConsents(r *http.Request, qs []ledger.ConsentQuery) error {
	st, err := s.b.Status(r.Context())
	if err != nil {
		return err
	}
	var all []ledger.Consent
	for after := ""; ; {
		page, next, err := ledger.ListConsents(s.b, after, MaxConsentPage)
		if err != nil {
			return listError(err)
		}
		all = append(all, page...)
		if next == "" {
			break
		}
		after = next
	}
	for _, q := range qs {
		q.Height, q.Time = st.Height, st.BlockTime.Unix()
		if ledger.NobodyConsents(all, q) {
			e := apiError(ledger.CodeInvalidField, "dataset %s: the dataset is opt-in and no patient's consent permits %s on it, so it has no rows for this job (its worker would refuse it with no_consent)", q.Dataset, q.Purpose)
			e.Param, e.Reason = "datasets", "no_consent"
			return e
		}
	}
	return nil
}

// paramsError is a jobparams error as the API's error body.
func paramsError(dataset string, err error) error {
	var pe *jobparams.Error
	if !errors.As(err, &pe) {
		return err
	}
	e := apiError(ledger.CodeInvalidField, "dataset %s: %v", dataset, pe)
	e.Param = "params"
	if pe.Param != "" {
		e.Param = "params." + pe.Param
	}
	if pe.Code == jobparams.UnknownAnalysis {
		e.Param = "analysis"
	}
	e.Reason, e.Column = string(pe.Code), pe.Column
	return e
}
