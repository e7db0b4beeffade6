package api

import (
	"net/http"
	"slices"

	"github.com/medchain/medchain/ledger"
	"github.com/medchain/medchain/store"
)

// Reads of compute state: workers, jobs, privacy budgets and patient pools.

// WorkerList is GET /v1/workers.
type WorkerList struct {
	Workers []ledger.Worker `json:"workers"`
}

// JobList is GET /v1/jobs.
type JobList struct {
	Jobs []ledger.Job `json:"jobs"`
}

// DatasetBudget is GET /v1/datasets/{id}/budget: how much of its privacy
// budget a dataset has spent and what its patient pool holds. Spent counts
// every admitted job (a failed or expired job gives back the epsilon of the
// sites that released nothing); the total and the per-job epsilon are the
// current policy's (0 while there is none).
type DatasetBudget struct {
	Dataset        string `json:"dataset"`
	SpentMilli     uint64 `json:"spent_milli"`
	TotalMilli     uint64 `json:"total_milli"`
	RemainingMilli uint64 `json:"remaining_milli"`
	PerJobMilli    uint64 `json:"per_job_milli"`
	PatientPool    uint64 `json:"patient_pool"`
}

// jobStatuses are the states a job can be in.
var jobStatuses = []string{ledger.JobAdmitted, ledger.JobCompleted, ledger.JobFailed, ledger.JobExpired}

func (s *Server) getWorker(r *http.Request) (any, error) {
	addr, err := addressParam(r)
	if err != nil {
		return nil, err
	}
	w, err := lookup(s, func(rd store.ReadWriter) (*ledger.Worker, error) { return ledger.GetWorker(rd, addr) })
	return found(w, err, "%s is not a registered worker", addr)
}

// getAttestationPolicy is what the consortium pinned for one type of
// hardware evidence (sev-snp or tdx).
func (s *Server) getAttestationPolicy(r *http.Request) (any, error) {
	typ := r.PathValue("type")
	if typ != ledger.AttestTypeSEVSNP && typ != ledger.AttestTypeTDX {
		return nil, badParam("type", "%q is not %s or %s", typ, ledger.AttestTypeSEVSNP, ledger.AttestTypeTDX)
	}
	p, err := lookup(s, func(rd store.ReadWriter) (*ledger.AttestationPolicy, error) {
		return ledger.GetAttestationPolicy(rd, typ)
	})
	return found(p, err, "no %s attestation policy is pinned", typ)
}

// listWorkers lists registered workers in address order, filtered by the
// optional org query parameter.
func (s *Server) listWorkers(r *http.Request) (any, error) {
	org := r.URL.Query().Get("org")
	ws, err := ledger.ListWorkers(s.b, func(w *ledger.Worker) bool { return org == "" || w.Org == org })
	if err != nil {
		return nil, listError(err)
	}
	return &WorkerList{Workers: ws}, nil
}

func (s *Server) getJob(r *http.Request) (any, error) {
	id, err := uintParam("id", r.PathValue("id"))
	if err != nil {
		return nil, err
	}
	j, err := lookup(s, func(rd store.ReadWriter) (*ledger.Job, error) { return ledger.GetJob(rd, id) })
	return found(j, err, "no job %d", id)
}

// listJobs lists jobs in id order, filtered by the optional requester,
// status and dataset (any of the job's sites) query parameters.
func (s *Server) listJobs(r *http.Request) (any, error) {
	q := r.URL.Query()
	dataset, status := q.Get("dataset"), q.Get("status")
	requester := q.Get("requester")
	if requester != "" {
		var err error
		if requester, err = hexParam("requester", requester, 20); err != nil {
			return nil, err
		}
	}
	if status != "" && !slices.Contains(jobStatuses, status) {
		return nil, badParam("status", "%q is not one of admitted, completed, failed, expired", status)
	}
	jobs, err := ledger.ListJobs(s.b, func(j *ledger.Job) bool {
		return (requester == "" || j.Requester == requester) && (status == "" || j.Status == status) &&
			(dataset == "" || slices.ContainsFunc(j.Sites, func(st ledger.JobSite) bool { return st.Dataset == dataset }))
	})
	if err != nil {
		return nil, listError(err)
	}
	return &JobList{Jobs: jobs}, nil
}

func (s *Server) getBudget(r *http.Request) (any, error) {
	id, err := idParam(r)
	if err != nil {
		return nil, err
	}
	b, err := lookup(s, func(rd store.ReadWriter) (*DatasetBudget, error) {
		ds, err := ledger.GetDataset(rd, id)
		if err != nil || ds == nil {
			return nil, err
		}
		spent, err := ledger.GetBudget(rd, id)
		if err != nil {
			return nil, err
		}
		out := &DatasetBudget{Dataset: id, SpentMilli: spent.SpentMilli}
		pol, err := ledger.GetPolicy(rd, id)
		if err != nil {
			return nil, err
		}
		if pol != nil {
			out.TotalMilli, out.PerJobMilli = pol.EpsilonTotalMilli, pol.EpsilonPerJobMilli
			if out.TotalMilli > out.SpentMilli {
				out.RemainingMilli = out.TotalMilli - out.SpentMilli
			}
		}
		out.PatientPool, err = ledger.GetPool(rd, id)
		return out, err
	})
	return found(b, err, "dataset %q does not exist", id)
}
