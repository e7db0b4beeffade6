package api

import (
	"net/http"

	"github.com/medchain/medchain/ledger"
	"github.com/medchain/medchain/store"
)

// JobStepList is GET /v1/jobs/{id}/steps: the Newton steps the sites of a
// pooled fit posted (post_step), iteration by iteration.
type JobStepList struct {
	Steps []ledger.JobStep `json:"steps"`
}

func (s *Server) listJobSteps(r *http.Request) (any, error) {
	id, err := uintParam("id", r.PathValue("id"))
	if err != nil {
		return nil, err
	}
	type out struct {
		job   *ledger.Job
		steps []ledger.JobStep
	}
	o, err := lookup(s, func(rd store.ReadWriter) (*out, error) {
		j, err := ledger.GetJob(rd, id)
		if err != nil || j == nil {
			return nil, err
		}
		st, err := ledger.GetJobSteps(rd, j)
		if err != nil {
			return nil, err
		}
		return &out{j, st}, nil
	})
	if _, err := found(o, err, "no job %d", id); err != nil {
		return nil, err
	}
	steps := o.steps
	if steps == nil {
		steps = []ledger.JobStep{}
	}
	return &JobStepList{Steps: steps}, nil
}
