package overlap

import (
	"errors"
	"fmt"
)

// ErrOverlap is matched (errors.Is) by every *Refusal.
var ErrOverlap = errors.New("overlap: cohort differs from an earlier release's by fewer than the minimum cohort size")

// Entry is one earlier release: its label (a job id, say) and its cohort.
type Entry struct {
	Label  string
	Sketch Sketch
}

// Refusal is the error of a release whose cohort differs from an earlier
// release's cohort by at least one and fewer than MinCohort patients.
//
// It names the earlier release and the minimum, and nothing derived from the
// rows: not the difference, not a cohort size. Its message is the same
// whether the cohorts differ by 1 patient or by MinCohort−1, so the refusal
// tells the requester only what the rule itself implies.
type Refusal struct {
	// Dataset is the dataset whose history was checked; (*Store).CheckAndRecord
	// sets it, Check leaves it empty.
	Dataset string
	// Label is the earlier release the cohort nearly overlaps (the first such
	// release in history order).
	Label string
	// MinCohort is the minimum cohort size k the rule was applied with.
	MinCohort int
}

func (r *Refusal) Error() string {
	ds := ""
	if r.Dataset != "" {
		ds = fmt.Sprintf(" of dataset %q", r.Dataset)
	}
	return fmt.Sprintf("overlap: release refused: its cohort is not identical to that of earlier release %q%s but differs from it by fewer than %d patients (the minimum cohort size); subtracting the two results could reveal the patients in between",
		r.Label, ds, r.MinCohort)
}

// Is makes errors.Is(err, ErrOverlap) true for a *Refusal.
func (r *Refusal) Is(target error) bool { return target == ErrOverlap }

// Check applies the query-set-overlap rule: cur may be released unless some
// earlier release's cohort differs from it by 1 to minCohort−1 patients
// (symmetric difference). Identical cohorts (difference 0) are allowed: a
// second analysis of the same cohort reveals no single patient by
// subtraction, and its cost is the privacy budget's business. Cohorts that
// differ by minCohort or more are allowed.
//
// The refusal is a *Refusal naming the first offending release in history
// order. Check does not look at the size of cur (the minimum-cohort rule is
// applied elsewhere). minCohort must be at least 1; with 1 nothing is
// refused.
func Check(history []Entry, cur Sketch, minCohort int) error {
	if minCohort < 1 {
		return fmt.Errorf("overlap: minimum cohort size %d is less than 1", minCohort)
	}
	for _, e := range history {
		if nearlyOverlaps(e.Sketch, cur, minCohort) {
			return &Refusal{Label: e.Label, MinCohort: minCohort}
		}
	}
	return nil
}

// nearlyOverlaps: 0 < |a △ b| < k.
func nearlyOverlaps(a, b Sketch, k int) bool {
	if absDiff(len(a.keys), len(b.keys)) >= k {
		return false
	}
	d := symDiff(a.keys, b.keys, k)
	return d > 0 && d < k
}
