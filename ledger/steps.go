package ledger

import (
	"fmt"

	"github.com/medchain/medchain/store"
)

// Pooled fits: the sites of a multi-site regression job each post their
// Newton step (the sufficient statistics of one Fisher-scoring iteration,
// fixed-point encoded by analysis.FixedPoint) per iteration; every worker
// reads all of them and computes the same next coefficients. The ledger
// treats a step as opaque int64s: no floats in consensus.

// MaxStepLen bounds an encoded step (a step of p coefficients has
// 3 + p + p(p+1)/2 values; 4096 allows up to 87 coefficients).
const MaxStepLen = 4096

// MaxStepIterations bounds the iterations of a pooled fit.
const MaxStepIterations = 1000

// PostStep is a site's Newton step for one iteration of a pooled fit.
type PostStep struct {
	Job       uint64  `json:"job"`
	Dataset   string  `json:"dataset"`
	Iteration uint32  `json:"iteration"`
	Step      []int64 `json:"step"`
}

// JobStep is a posted step as stored.
type JobStep struct {
	Job       uint64  `json:"job"`
	Dataset   string  `json:"dataset"`
	Iteration uint32  `json:"iteration"`
	Step      []int64 `json:"step"`
	Worker    string  `json:"worker"`
	Posted    int64   `json:"posted_height"`
}

// TxPostStep is the transaction type of PostStep.
const TxPostStep TxType = "post_step"

func (*PostStep) Type() TxType { return TxPostStep }

func (c *txCtx) postStep(m *PostStep) ([]Event, error) {
	j, err := c.job(m.Job)
	if err != nil {
		return nil, err
	}
	site, _, err := c.siteWorker(j, m.Dataset)
	if err != nil {
		return nil, err
	}
	if c.height > j.Deadline {
		return nil, errf(CodeExpired, "msg.job: job %d's deadline was height %d", j.ID, j.Deadline)
	}
	if site.Result != nil {
		return nil, errf(CodeInvalidState, "msg.dataset: job %d already has a result for %q", j.ID, m.Dataset)
	}
	if len(m.Step) == 0 || len(m.Step) > MaxStepLen {
		return nil, errf(CodeInvalidField, "msg.step: 1 to %d values, got %d", MaxStepLen, len(m.Step))
	}
	if m.Iteration >= MaxStepIterations {
		return nil, errf(CodeInvalidField, "msg.iteration: %d, limit %d", m.Iteration, MaxStepIterations-1)
	}
	key := KeyJobStep(j.ID, m.Iteration, m.Dataset)
	if prev, err := getOne[JobStep](c.s, key); err != nil {
		return nil, err
	} else if prev != nil {
		return nil, errf(CodeAlreadyExists, "msg.iteration: dataset %q already posted its step %d of job %d", m.Dataset, m.Iteration, j.ID)
	}
	for _, s := range j.Sites {
		if m.Iteration > 0 {
			prev, err := getOne[JobStep](c.s, KeyJobStep(j.ID, m.Iteration-1, s.Dataset))
			if err != nil {
				return nil, err
			}
			if prev == nil {
				return nil, errf(CodeInvalidState, "msg.iteration: step %d of job %d is missing for dataset %q", m.Iteration-1, j.ID, s.Dataset)
			}
		}
		other, err := getOne[JobStep](c.s, KeyJobStep(j.ID, m.Iteration, s.Dataset))
		if err != nil {
			return nil, err
		}
		if other != nil && len(other.Step) != len(m.Step) {
			return nil, errf(CodeInvalidField, "msg.step: %d values; dataset %q posted %d for this iteration", len(m.Step), s.Dataset, len(other.Step))
		}
	}
	st := JobStep{Job: j.ID, Dataset: m.Dataset, Iteration: m.Iteration, Step: m.Step, Worker: c.addr, Posted: c.height}
	return ev("post_step", "job", fmt.Sprint(j.ID), "dataset", m.Dataset, "iteration", fmt.Sprint(m.Iteration)),
		putJSON(c.s, key, st)
}

// GetJobSteps reads the steps posted for a job, iteration by iteration,
// in the order of the job's sites, up to the first iteration no site has
// posted.
func GetJobSteps(r store.Reader, j *Job) ([]JobStep, error) {
	var out []JobStep
	for k := uint32(0); k < MaxStepIterations; k++ {
		any := false
		for _, s := range j.Sites {
			st, err := getOne[JobStep](r, KeyJobStep(j.ID, k, s.Dataset))
			if err != nil {
				return nil, err
			}
			if st != nil {
				out = append(out, *st)
				any = true
			}
		}
		if !any {
			break
		}
	}
	return out, nil
}
