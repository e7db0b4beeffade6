package client

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strconv"

	"github.com/medchain/medchain/api"
	"github.com/medchain/medchain/keys"
	"github.com/medchain/medchain/ledger"
)

// One method per endpoint, in the order of the API's route table.

// OpenAPI fetches the API's OpenAPI document.
func (c *Client) OpenAPI(ctx context.Context) (json.RawMessage, error) {
	v, err := get[json.RawMessage](ctx, c, "/v1/openapi.json", nil)
	if err != nil {
		return nil, err
	}
	return *v, nil
}

// Status is GET /v1/status.
func (c *Client) Status(ctx context.Context) (*api.NodeStatus, error) {
	return get[api.NodeStatus](ctx, c, "/v1/status", nil)
}

// Tx is GET /v1/txs/{hash}: a committed transaction's result.
func (c *Client) Tx(ctx context.Context, hash string) (*ledger.TxRecord, error) {
	return get[ledger.TxRecord](ctx, c, "/v1/txs/"+url.PathEscape(hash), nil)
}

// Account is GET /v1/accounts/{address}.
func (c *Client) Account(ctx context.Context, addr string) (*ledger.Account, error) {
	return get[ledger.Account](ctx, c, "/v1/accounts/"+url.PathEscape(addr), nil)
}

// Orgs is GET /v1/orgs.
func (c *Client) Orgs(ctx context.Context) ([]ledger.Org, error) {
	v, err := get[api.OrgList](ctx, c, "/v1/orgs", nil)
	if err != nil {
		return nil, err
	}
	return v.Orgs, nil
}

// Org is GET /v1/orgs/{id}.
func (c *Client) Org(ctx context.Context, id string) (*ledger.Org, error) {
	return get[ledger.Org](ctx, c, "/v1/orgs/"+url.PathEscape(id), nil)
}

// Datasets is GET /v1/datasets: the catalogue.
func (c *Client) Datasets(ctx context.Context) ([]api.DatasetInfo, error) {
	v, err := get[api.DatasetList](ctx, c, "/v1/datasets", nil)
	if err != nil {
		return nil, err
	}
	return v.Datasets, nil
}

// Dataset is GET /v1/datasets/{id}, with every version.
func (c *Client) Dataset(ctx context.Context, id string) (*api.DatasetInfo, error) {
	return get[api.DatasetInfo](ctx, c, "/v1/datasets/"+url.PathEscape(id), nil)
}

// DatasetVersion is GET /v1/datasets/{id}/versions/{version}.
func (c *Client) DatasetVersion(ctx context.Context, id string, version uint64) (*ledger.DatasetVersion, error) {
	return get[ledger.DatasetVersion](ctx, c, fmt.Sprintf("/v1/datasets/%s/versions/%d", url.PathEscape(id), version), nil)
}

// Policy is GET /v1/datasets/{id}/policy.
func (c *Client) Policy(ctx context.Context, id string) (*ledger.Policy, error) {
	return get[ledger.Policy](ctx, c, "/v1/datasets/"+url.PathEscape(id)+"/policy", nil)
}

// DatasetBudget is GET /v1/datasets/{id}/budget: the privacy budget spent,
// the policy's total and what remains, and the patient pool.
func (c *Client) DatasetBudget(ctx context.Context, id string) (*api.DatasetBudget, error) {
	return get[api.DatasetBudget](ctx, c, "/v1/datasets/"+url.PathEscape(id)+"/budget", nil)
}

// Consents is GET /v1/patients/{address}/consents, oldest first, signed
// by as: the patient's own key lists all of them; a data holder's worker
// or admin key lists those that concern its institution; anyone else is
// refused.
func (c *Client) Consents(ctx context.Context, patient string, as *keys.Key) ([]ledger.Consent, error) {
	v, err := getAs[api.ConsentList](ctx, c, as, "/v1/patients/"+url.PathEscape(patient)+"/consents", nil)
	if err != nil {
		return nil, err
	}
	return v.Consents, nil
}

// AllConsents reads every consent as may read (GET /v1/consents, page by
// page, each page signed): a data holder's worker or admin, every consent
// that concerns its institution; a patient, their own. They come in state
// key order: by patient address, each patient's oldest first, so each
// patient's consents are one run of the slice.
func (c *Client) AllConsents(ctx context.Context, as *keys.Key) ([]ledger.Consent, error) {
	var out []ledger.Consent
	q := url.Values{"limit": {strconv.Itoa(api.MaxConsentPage)}}
	for {
		v, err := getAs[api.ConsentPage](ctx, c, as, "/v1/consents", q)
		if err != nil {
			return nil, err
		}
		if out == nil {
			out = v.Consents
		} else {
			out = append(out, v.Consents...)
		}
		if v.Next == "" {
			return out, nil
		}
		q.Set("after", v.Next)
	}
}

// AccessFilter selects access requests; empty fields match everything.
type AccessFilter struct {
	Dataset   string
	Requester string
	Status    string
}

// AccessRequests is GET /v1/access-requests, in id order.
func (c *Client) AccessRequests(ctx context.Context, f AccessFilter) ([]ledger.AccessRequest, error) {
	q := url.Values{}
	for k, v := range map[string]string{"dataset": f.Dataset, "requester": f.Requester, "status": f.Status} {
		if v != "" {
			q.Set(k, v)
		}
	}
	v, err := get[api.AccessRequestList](ctx, c, "/v1/access-requests", q)
	if err != nil {
		return nil, err
	}
	return v.AccessRequests, nil
}

// AccessRequest is GET /v1/access-requests/{id}.
func (c *Client) AccessRequest(ctx context.Context, id uint64) (*ledger.AccessRequest, error) {
	return get[ledger.AccessRequest](ctx, c, fmt.Sprintf("/v1/access-requests/%d", id), nil)
}

// Workers is GET /v1/workers, in address order; org "" lists every
// organisation's.
func (c *Client) Workers(ctx context.Context, org string) ([]ledger.Worker, error) {
	var q url.Values
	if org != "" {
		q = url.Values{"org": {org}}
	}
	v, err := get[api.WorkerList](ctx, c, "/v1/workers", q)
	if err != nil {
		return nil, err
	}
	return v.Workers, nil
}

// Worker is GET /v1/workers/{address}.
func (c *Client) Worker(ctx context.Context, addr string) (*ledger.Worker, error) {
	return get[ledger.Worker](ctx, c, "/v1/workers/"+url.PathEscape(addr), nil)
}

// AttestationPolicy reads what the consortium pinned for sev-snp or tdx
// evidence.
func (c *Client) AttestationPolicy(ctx context.Context, typ string) (*ledger.AttestationPolicy, error) {
	return get[ledger.AttestationPolicy](ctx, c, "/v1/attestation-policies/"+url.PathEscape(typ), nil)
}

// JobFilter selects jobs; empty fields match everything. Dataset matches a
// job that uses the dataset among others.
type JobFilter struct {
	Requester string
	Status    string
	Dataset   string
}

// Jobs is GET /v1/jobs, in id order.
func (c *Client) Jobs(ctx context.Context, f JobFilter) ([]ledger.Job, error) {
	q := url.Values{}
	for k, v := range map[string]string{"requester": f.Requester, "status": f.Status, "dataset": f.Dataset} {
		if v != "" {
			q.Set(k, v)
		}
	}
	v, err := get[api.JobList](ctx, c, "/v1/jobs", q)
	if err != nil {
		return nil, err
	}
	return v.Jobs, nil
}

// Job is GET /v1/jobs/{id}.
func (c *Client) Job(ctx context.Context, id uint64) (*ledger.Job, error) {
	return get[ledger.Job](ctx, c, fmt.Sprintf("/v1/jobs/%d", id), nil)
}

// StateProof is GET /v1/state/proof, unverified; VerifyStateProof checks it.
func (c *Client) StateProof(ctx context.Context, key string) (*ledger.StateProof, error) {
	return get[ledger.StateProof](ctx, c, "/v1/state/proof", url.Values{"key": {key}})
}

// Commitment is GET /v1/commitments/{height}.
func (c *Client) Commitment(ctx context.Context, height int64) (*ledger.Commitment, error) {
	return get[ledger.Commitment](ctx, c, fmt.Sprintf("/v1/commitments/%d", height), nil)
}

// Header is GET /v1/headers/{height}, unverified; VerifyHeader checks it.
func (c *Client) Header(ctx context.Context, height int64) (*api.SignedHeader, error) {
	return get[api.SignedHeader](ctx, c, fmt.Sprintf("/v1/headers/%d", height), nil)
}

// AuditEntry is GET /v1/audit/entries/{index}.
func (c *Client) AuditEntry(ctx context.Context, index uint64) (*api.AuditEntry, error) {
	return get[api.AuditEntry](ctx, c, fmt.Sprintf("/v1/audit/entries/%d", index), nil)
}

// AuditInclusion is GET /v1/audit/inclusion, unverified: the proof of entry
// index in the log as committed at height (height <= 0: the latest).
func (c *Client) AuditInclusion(ctx context.Context, index uint64, height int64) (*api.AuditInclusion, error) {
	q := url.Values{"index": {strconv.FormatUint(index, 10)}}
	if height > 0 {
		q.Set("height", strconv.FormatInt(height, 10))
	}
	return get[api.AuditInclusion](ctx, c, "/v1/audit/inclusion", q)
}

// AuditConsistency is GET /v1/audit/consistency, unverified.
func (c *Client) AuditConsistency(ctx context.Context, from, to int64) (*api.AuditConsistency, error) {
	q := url.Values{"from": {strconv.FormatInt(from, 10)}, "to": {strconv.FormatInt(to, 10)}}
	return get[api.AuditConsistency](ctx, c, "/v1/audit/consistency", q)
}

// Study is GET /v1/jobs/{id}/study: a pooled study's rounds, exclusions
// and completed sums (never a site's own values).
func (c *Client) Study(ctx context.Context, id uint64) (*api.StudyView, error) {
	return get[api.StudyView](ctx, c, fmt.Sprintf("/v1/jobs/%d/study", id), nil)
}

// ValidateJob is POST /v1/jobs/validate: the node checks a job's params
// against each dataset's schema and, with a purpose, that no opt-in
// dataset is left without a patient whose consent permits it (which it
// decides over the consents it holds, as no requester may list them).
func (c *Client) ValidateJob(ctx context.Context, req api.ValidateRequest) (*api.Validation, error) {
	body, err := json.Marshal(req)
	if err != nil {
		return nil, err
	}
	var out api.Validation
	if _, err := c.do(ctx, http.MethodPost, "/v1/jobs/validate", nil, body, &out); err != nil {
		return nil, err
	}
	return &out, nil
}
