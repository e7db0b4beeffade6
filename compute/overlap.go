package compute

import (
	"crypto/hkdf"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"iter"
	"math"
	"path/filepath"
	"slices"
	"strings"

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
// the table, in order) as released for the job. A row is identified by its
// pseudonym and a hash of its values, so a record that changed between
// dataset versions counts as a difference (the old row out, the new one
// in) rather than as the same patient. study, when not empty, names the
// institutions' datasets of an exact study: such a release is also refused
// when (nearly) the same cohort went into an exact study with other
// datasets (see studyRule).
func (w *Worker) checkOverlap(site ledger.JobSite, job uint64, v *vault.Version, t *analysis.Table, rows []bool, study string) error {
	s, err := w.overlapStore()
	if err != nil {
		return err
	}
	cols := t.AllColumns()
	var readErr error
	var buf []byte
	cohort := func(yield func(string) bool) {
		i := 0
		for c, err := range v.Pseudonyms() {
			if err != nil {
				readErr = err
				return
			}
			for r := 0; r < c.Rows; r++ {
				if i < len(rows) && rows[i] {
					buf = append(append(buf[:0], c.Strs[r]...), '|')
					buf = binary.LittleEndian.AppendUint64(buf, rowHash(cols, i))
					if !yield(string(buf)) {
						return
					}
				}
				i++
			}
		}
	}
	sk := s.Sketch(iter.Seq[string](cohort))
	if readErr != nil {
		return readErr
	}
	label := fmt.Sprintf("job %d", job)
	var rule func([]overlap.Entry) error
	if study != "" {
		label += studyTag + study
		rule = studyRule(study, sk, int(site.MinCohort))
	}
	return s.CheckAndRecordWith(site.Dataset, label, sk, int(site.MinCohort), rule)
}

// rowHash is an FNV-1a hash of a row's values (null as NaN bits).
func rowHash(cols []analysis.Column, i int) uint64 {
	h := uint64(14695981039346656037)
	for _, c := range cols {
		v := c.Values[i]
		if c.Valid != nil && !c.Valid[i] {
			v = math.NaN()
		}
		b := math.Float64bits(v)
		for k := range 8 {
			h ^= (b >> (8 * k)) & 0xff
			h *= 1099511628211
		}
	}
	return h
}

// studyTag separates a release label from the study it belongs to.
const studyTag = " study="

// studyRule refuses an exact study's contribution when this site released
// (nearly) the same cohort — within the minimum cohort — into an exact
// study over another set of datasets. The sums of exact studies are public:
// two studies over {A, B, C} and {A, B} on the same cohorts would give C's
// statistics by subtraction, though A's and B's cohorts are identical (the
// overlap rule allows identical cohorts) and C released once. A and B
// protect C by refusing the second study.
func studyRule(study string, cur overlap.Sketch, minCohort int) func([]overlap.Entry) error {
	return func(history []overlap.Entry) error {
		for _, e := range history {
			_, other, ok := strings.Cut(e.Label, studyTag)
			if !ok || other == study {
				continue
			}
			if overlap.DiffersByLessThan(e.Sketch, cur, minCohort) {
				label, _, _ := strings.Cut(e.Label, studyTag)
				return fmt.Errorf("%w: this cohort went, within %d patients, into the exact study of %s over other datasets; the two studies' public sums would give the other datasets' statistics by subtraction",
					overlap.ErrOverlap, minCohort, label)
			}
		}
		return nil
	}
}

// studyGroup names the set of datasets of an exact study (a hash of their
// sorted ids), or "" for a private one (whose sums carry every site's
// noise).
func studyGroup(j *ledger.Job) string {
	if j.Study == nil || j.Study.Spec.Private != nil {
		return ""
	}
	var ds []string
	for _, s := range j.Sites {
		ds = append(ds, s.Dataset)
	}
	slices.Sort(ds)
	// A hash keeps the label short whatever the number of sites.
	h := sha256.Sum256([]byte(strings.Join(ds, ",")))
	return hex.EncodeToString(h[:16])
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
	return w.checkOverlap(site, j.ID, v, t, rows, "")
}
