package api

import (
	"net/http"

	"github.com/medchain/medchain/ledger"
	"github.com/medchain/medchain/store"
)

// StudyView is GET /v1/jobs/{id}/study: a pooled study's rounds, its
// participants, dropped and flagged sites, the completed sums every worker
// replays the fit from, and which participants have posted to the current
// iteration. It serves no per-site value: contributions are masked, and
// only their existence is shown.
type StudyView struct {
	Job    uint64            `json:"job"`
	Status string            `json:"status"`
	Study  *ledger.Study     `json:"study"`
	Sums   []ledger.StudySum `json:"sums"`
	// Posted lists the participants whose contribution to the current
	// round and iteration is on the ledger.
	Posted []string `json:"posted"`
}

func (s *Server) getStudy(r *http.Request) (any, error) {
	id, err := uintParam("id", r.PathValue("id"))
	if err != nil {
		return nil, err
	}
	v, err := lookup(s, func(rd store.ReadWriter) (*StudyView, error) {
		j, err := ledger.GetJob(rd, id)
		if err != nil || j == nil || j.Study == nil {
			return nil, err
		}
		sums, err := ledger.GetStudySums(rd, j)
		if err != nil {
			return nil, err
		}
		v := &StudyView{Job: j.ID, Status: j.Status, Study: j.Study, Sums: sums, Posted: []string{}}
		for _, d := range j.Study.Participants {
			c, err := ledger.GetStudyContribution(rd, j.ID, j.Study.Round, j.Study.Iteration, d)
			if err != nil {
				return nil, err
			}
			if c != nil {
				v.Posted = append(v.Posted, d)
			}
		}
		return v, nil
	})
	return found(v, err, "no pooled study with job id %d", id)
}
