package api

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"

	"github.com/medchain/medchain/ledger"
	"github.com/medchain/medchain/rewards"
	"github.com/medchain/medchain/store"
)

// Usage receipts and rewards (issue 12). Receipt sets are public ledger
// data: a patient's client downloads them all and recognises its own tags
// locally (package receipts), so the node never learns whose receipts are
// whose. Rewards are the institution's private tally: a patient asks the
// institution's node with a signed request (POST /v1/rewards).

// ReceiptView is one site's receipt set with what a patient's list of uses
// shows: the job's requester, purpose and analysis, the dataset, when the
// job was admitted and when the result was released, and the worker whose
// encryption key the tags are keyed with.
type ReceiptView struct {
	Job            uint64 `json:"job"`
	Dataset        string `json:"dataset"`
	Requester      string `json:"requester"`
	Purpose        string `json:"purpose"`
	Analysis       string `json:"analysis"`
	AdmittedHeight int64  `json:"admitted_height"`
	AdmittedTime   int64  `json:"admitted_time"`
	ReleasedHeight int64  `json:"released_height"`
	Worker         string `json:"worker"`
	WorkerEncKey   []byte `json:"worker_enc_key"`
	Size           uint64 `json:"size"`
	Parts          uint32 `json:"parts"`
	Posted         uint32 `json:"posted"`
	CompleteHeight int64  `json:"complete_height,omitempty"` // when the last part arrived
	Tags           []byte `json:"tags,omitempty"`            // complete sets only: Size × 16 bytes, ascending
}

// ReceiptList is GET /v1/receipts: complete receipt sets of jobs from
// `from` on, in job and dataset order. Next is the job to ask from for the
// rest; More says whether there is any.
type ReceiptList struct {
	Receipts []ReceiptView `json:"receipts"`
	Next     uint64        `json:"next"`
	More     bool          `json:"more"`
}

// Receipt paging: sets per answer, and the tag bytes after which a page
// ends at the next job (a 10k-100k set alone is 1.6 MB).
const (
	DefaultReceiptLimit = 50
	MaxReceiptLimit     = 200
	MaxReceiptPageBytes = 8 << 20
)

func (s *Server) listReceipts(r *http.Request) (any, error) {
	q := r.URL.Query()
	var from uint64
	if v := q.Get("from"); v != "" {
		var err error
		if from, err = uintParam("from", v); err != nil {
			return nil, err
		}
	}
	limit := uint64(DefaultReceiptLimit)
	if v := q.Get("limit"); v != "" {
		var err error
		if limit, err = uintParam("limit", v); err != nil {
			return nil, err
		}
		if limit == 0 || limit > MaxReceiptLimit {
			return nil, badParam("limit", "%d is out of range (1 to %d)", limit, MaxReceiptLimit)
		}
	}
	out := &ReceiptList{Receipts: []ReceiptView{}, Next: from}
	err := s.b.View(func(rd store.ReadWriter, _ ledger.Commitment) error {
		sets, err := ledger.ListReceiptSets(s.b, from, func(set *ledger.ReceiptSet) bool { return set.Posted == set.Parts })
		if err != nil {
			return err
		}
		var size uint64
		for i, set := range sets {
			// Never split a job's sites across pages: Next is a job.
			full := uint64(len(out.Receipts)) >= limit || size >= MaxReceiptPageBytes
			if full && set.Job != sets[i-1].Job {
				out.More, out.Next = true, set.Job
				return nil
			}
			v, err := receiptView(rd, &set)
			if err != nil {
				return err
			}
			out.Receipts = append(out.Receipts, *v)
			out.Next = set.Job + 1
			size += uint64(len(v.Tags))
		}
		return nil
	})
	if err != nil {
		return nil, listError(err)
	}
	return out, nil
}

func (s *Server) getReceipts(r *http.Request) (any, error) {
	job, err := uintParam("job", r.PathValue("job"))
	if err != nil {
		return nil, err
	}
	dataset := r.PathValue("dataset")
	v, err := lookup(s, func(rd store.ReadWriter) (*ReceiptView, error) {
		set, err := ledger.GetReceiptSet(rd, job, dataset)
		if err != nil || set == nil {
			return nil, err
		}
		return receiptView(rd, set)
	})
	return found(v, err, "job %d has no receipts for %q", job, dataset)
}

// receiptView joins a set with its job and worker, and its tags once
// complete.
func receiptView(rd store.Reader, set *ledger.ReceiptSet) (*ReceiptView, error) {
	j, err := ledger.GetJob(rd, set.Job)
	if err != nil {
		return nil, err
	}
	w, err := ledger.GetAccount(rd, set.Worker)
	if err != nil {
		return nil, err
	}
	if j == nil || w == nil {
		return nil, apiError(ledger.CodeInternal, "receipts of job %d: job or worker missing", set.Job)
	}
	v := &ReceiptView{Job: set.Job, Dataset: set.Dataset, Requester: j.Requester, Purpose: j.Purpose, Analysis: j.Analysis,
		AdmittedHeight: j.Admitted, AdmittedTime: j.AdmittedTime, Worker: set.Worker, WorkerEncKey: w.EncKey,
		Size: set.Size, Parts: set.Parts, Posted: set.Posted, CompleteHeight: set.Complete}
	for _, st := range j.Sites {
		if st.Dataset == set.Dataset && st.Result != nil {
			v.ReleasedHeight = st.Result.Posted
		}
	}
	if set.Posted == set.Parts {
		if v.Tags, err = ledger.GetReceiptTags(rd, set.Job, set.Dataset); err != nil {
			return nil, err
		}
	}
	return v, nil
}

// RewardDesk is implemented by a node that keeps an institution's reward
// tally (a node running that institution's worker).
type RewardDesk interface {
	Rewards(ctx context.Context, req *rewards.Request) (*rewards.Answer, error)
	// RewardOrgs are the organisations whose requests the node answers.
	RewardOrgs(ctx context.Context) ([]string, error)
}

// RewardOrgs is what GET /v1/rewards answers.
type RewardOrgs struct {
	Orgs []string `json:"orgs"`
}

// getRewards is GET /v1/rewards: the organisations whose reward requests
// this node answers. A patient's client asks before it sends a request, so
// that a wallet's request never goes to a node that cannot answer it: a
// node that saw the wallets a patient holds at several institutions ask
// together could link them.
func (s *Server) getRewards(r *http.Request) (any, error) {
	desk, ok := s.b.(RewardDesk)
	if !ok {
		return &RewardOrgs{Orgs: []string{}}, nil
	}
	orgs, err := desk.RewardOrgs(r.Context())
	if err != nil {
		return nil, err
	}
	if orgs == nil {
		orgs = []string{}
	}
	return &RewardOrgs{Orgs: orgs}, nil
}

// postRewards is POST /v1/rewards: a patient's signed request for their
// balance or their vouchers at the institution whose node this is.
func (s *Server) postRewards(r *http.Request) (any, error) {
	body, err := io.ReadAll(io.LimitReader(r.Body, maxBody+1))
	if err != nil {
		return nil, apiError(ledger.CodeMalformed, "read body: %v", err)
	}
	if len(body) > maxBody {
		return nil, apiError(ledger.CodeOversize, "request body exceeds %d bytes", maxBody)
	}
	var req rewards.Request
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&req); err != nil {
		return nil, apiError(ledger.CodeMalformed, "body: want a signed rewards request {chain_id, org, action, recipient, id, time, pub_key, signature}: %v", err)
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return nil, apiError(ledger.CodeMalformed, "body: trailing data after the JSON object")
	}
	desk, ok := s.b.(RewardDesk)
	if !ok {
		return nil, notFound("this node keeps no institution's reward tally")
	}
	a, err := desk.Rewards(r.Context(), &req)
	var re *rewards.RequestError
	switch {
	case errors.As(err, &re):
		e := apiError(ledger.CodeUnauthorized, "%s", re.Error())
		if re.Field != "signature" && re.Field != "org" {
			e.Code, e.Name = ledger.CodeInvalidField, ledger.CodeInvalidField.String()
		}
		e.Param = re.Field
		return nil, e
	case errors.Is(err, rewards.ErrReplayed):
		e := apiError(ledger.CodeReplayed, "%v", err)
		e.Param = "id"
		return nil, e
	case errors.Is(err, rewards.ErrNoTally):
		return nil, notFound("%v", err)
	case err != nil:
		return nil, err
	}
	return a, nil
}
