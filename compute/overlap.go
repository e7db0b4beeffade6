package compute

import (
	"crypto/hkdf"
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"iter"
	"path/filepath"

	"github.com/medchain/medchain/analysis"
	"github.com/medchain/medchain/ledger"
	"github.com/medchain/medchain/overlap"
	"github.com/medchain/medchain/vault"
)

// Query-set-overlap control: before a site releases anything computed from
// a cohort — a result, or a study contribution — it checks the cohort
// against the cohorts it released before for the same dataset (any
// version: pseudonyms are stable) and refuses one that differs from an
// earlier one by fewer than the minimum cohort (package overlap). The
// record is the institution's own, encrypted in its vault, never on the
// ledger.

// overlapStore is the worker's store, opened on first use.
func (w *Worker) overlapStore() (*overlap.Store, error) {
	if w.Overlap != nil {
		return w.Overlap, nil
	}
	secret, err := w.Vault.Secret()
	if err != nil {
		return nil, err
	}
	key, err := hkdf.Key(sha256.New, secret, nil, "medchain/compute/overlap-store/v1/"+w.Org, 32)
	if err != nil {
		return nil, err
	}
	s, err := overlap.Open(filepath.Join(w.Vault.Root(), "overlap", w.Org), [32]byte(key))
	if err != nil {
		return nil, err
	}
	w.Overlap = s
	return s, nil
}

// checkOverlap checks and records the cohort of rows (one flag per row of
// the version, in order) as released for the job.
func (w *Worker) checkOverlap(site ledger.JobSite, job uint64, v *vault.Version, rows []bool) error {
	s, err := w.overlapStore()
	if err != nil {
		return err
	}
	var readErr error
	cohort := func(yield func(string) bool) {
		i := 0
		for c, err := range v.Pseudonyms() {
			if err != nil {
				readErr = err
				return
			}
			for r := 0; r < c.Rows; r++ {
				if i < len(rows) && rows[i] && !yield(c.Strs[r]) {
					return
				}
				i++
			}
		}
	}
	sk := s.Sketch(iter.Seq[string](cohort))
	if readErr != nil {
		return readErr
	}
	return s.CheckAndRecord(site.Dataset, fmt.Sprintf("job %d", job), sk, int(site.MinCohort))
}

// checkCohortOverlap is checkOverlap for a single-site result: the cohort
// is the consented rows its filter keeps (the analyses' own complete-case
// rules narrow it further; the overlap rule is applied to the filter's
// cohort).
func (w *Worker) checkCohortOverlap(site ledger.JobSite, j *ledger.Job, t *analysis.Table, v *vault.Version) error {
	var p struct {
		Filter analysis.Filter `json:"filter"`
	}
	_ = json.Unmarshal(j.Params, &p) // the analysis already decoded the params strictly
	rows, err := t.Select(p.Filter)
	if err != nil {
		return err
	}
	return w.checkOverlap(site, j.ID, v, rows)
}
