package analysis

import (
	"fmt"
)

// ranked holds a binary outcome's scores split by outcome and sorted, which
// is all the rank-based diagnostics need.
type ranked struct {
	pos, neg []float64
}

func rank(score, y []float64) (ranked, error) {
	if len(score) != len(y) {
		return ranked{}, fmt.Errorf("analysis: %d scores for %d outcomes", len(score), len(y))
	}
	events := 0
	for _, v := range y {
		if v == 1 {
			events++
		}
	}
	r := ranked{pos: make([]float64, 0, events), neg: make([]float64, 0, len(y)-events)}
	for i, s := range score {
		if !finite(s) {
			return ranked{}, fmt.Errorf("analysis: scores must be finite")
		}
		switch y[i] {
		case 1:
			r.pos = append(r.pos, s)
		case 0:
			r.neg = append(r.neg, s)
		default:
			return ranked{}, fmt.Errorf("analysis: outcomes must be 0 or 1")
		}
	}
	if len(r.pos) == 0 || len(r.neg) == 0 {
		return ranked{}, fmt.Errorf("analysis: the outcome does not vary")
	}
	// The two groups sort independently: on two cores at once.
	done := make(chan struct{})
	go func() {
		sortFloats(r.pos)
		close(done)
	}()
	sortFloats(r.neg)
	<-done
	return r, nil
}

// AUC is the C-statistic of scores for a 0/1 outcome: the probability that
// a random event scores above a random non-event, ties counting one half
// (the Mann–Whitney U statistic over n₁n₀). It sorts the two groups'
// scores separately and counts in one merge pass: O(n log n).
func AUC(score, y []float64) (float64, error) {
	r, err := rank(score, y)
	if err != nil {
		return 0, err
	}
	return r.auc(), nil
}

func (r ranked) auc() float64 {
	// twice U: 2 for each (event, non-event) pair ordered right, 1 per tie.
	var u2 int64
	lo, hi := 0, 0
	for _, v := range r.pos {
		for lo < len(r.neg) && r.neg[lo] < v {
			lo++
		}
		if hi < lo {
			hi = lo
		}
		for hi < len(r.neg) && r.neg[hi] <= v {
			hi++
		}
		u2 += int64(2*lo + (hi - lo))
	}
	return float64(u2) / (2 * float64(len(r.pos)) * float64(len(r.neg)))
}

// HosmerLemeshow is the Hosmer–Lemeshow goodness-of-fit test: rows grouped
// by deciles of predicted risk, observed against expected events in each.
type HosmerLemeshow struct {
	Statistic float64 `json:"statistic"`
	DF        int     `json:"df"` // groups − 2
	P         float64 `json:"p"`
	Groups    int     `json:"groups"`
}

// hlGroups is the number of risk groups (deciles).
const hlGroups = 10

// hosmerLemeshow groups the rows into hlGroups groups of nearly equal size
// by predicted risk, keeping tied predictions in one group (so there can be
// fewer groups). With fewer than three groups the test has no degrees of
// freedom and the result is nil.
func (r ranked) hosmerLemeshow(link Link) *HosmerLemeshow {
	n := len(r.pos) + len(r.neg)
	var stat float64
	groups, closed := 0, 0
	var obs, exp float64
	var size, cum int
	i, j := 0, 0
	for i < len(r.pos) || j < len(r.neg) {
		var v float64
		switch {
		case i == len(r.pos):
			v = r.neg[j]
		case j == len(r.neg):
			v = r.pos[i]
		default:
			v = min(r.pos[i], r.neg[j])
		}
		cp, cn := 0, 0
		for i < len(r.pos) && r.pos[i] == v {
			i, cp = i+1, cp+1
		}
		for j < len(r.neg) && r.neg[j] == v {
			j, cn = j+1, cn+1
		}
		mu := link.Mean(v)
		obs += float64(cp)
		exp += mu * float64(cp+cn)
		size += cp + cn
		cum += cp + cn
		if k := cum * hlGroups / n; k > closed {
			closed = k
			groups++
			if den := exp * (1 - exp/float64(size)); den > 0 {
				stat += (obs - exp) * (obs - exp) / den
			}
			obs, exp, size = 0, 0, 0
		}
	}
	if groups < 3 {
		return nil
	}
	df := groups - 2
	return &HosmerLemeshow{Statistic: stat, DF: df, P: chiSquaredUpper(stat, float64(df)), Groups: groups}
}

// ROCGridSteps is the number of steps of the fixed false-positive-rate grid
// at which the ROC curve is reported: FPR = 0, 0.05, 0.10, …, 1.
const ROCGridSteps = 20

// ROCPoint is one point of an ROC curve: the true-positive rate
// (sensitivity) at a false-positive rate (1 − specificity).
type ROCPoint struct {
	FPR float64 `json:"fpr"`
	TPR float64 `json:"tpr"`
}

// ROC is the empirical ROC curve of scores for a 0/1 outcome at the fixed
// grid FPR = k/ROCGridSteps, k = 0…ROCGridSteps. The empirical curve joins
// the points (FP/n₀, TP/n₁) of every threshold, from above the highest
// score down to below the lowest, by straight lines (tied scores give one
// diagonal segment, so its trapezoid area is the AUC with ties counting
// one half). At each grid FPR the TPR is read off that curve by linear
// interpolation; where the curve is vertical at exactly that FPR the
// highest TPR is taken. So perfect separation gives TPR 1 at every grid
// point and a constant score the diagonal TPR = FPR. It shares AUC's sort
// and is one merge pass on top: O(n log n) in all.
func ROC(score, y []float64) ([]ROCPoint, error) {
	r, err := rank(score, y)
	if err != nil {
		return nil, err
	}
	return r.roc(), nil
}

// roc walks the sorted groups from the highest score down, one vertex of
// the empirical curve per distinct score, and reads the curve at the grid.
// Grid comparisons are exact, in integers: FP/n₀ ≤ k/S ⇔ S·FP ≤ k·n₀.
func (r ranked) roc() []ROCPoint {
	type vertex struct{ tp, fp int64 }
	n1, n0 := int64(len(r.pos)), int64(len(r.neg))
	i, j := len(r.pos), len(r.neg) // pos[:i] and neg[:j] are not yet passed
	var at vertex
	next := func() (vertex, bool) {
		if i == 0 && j == 0 {
			return vertex{}, false
		}
		var v float64
		switch {
		case i == 0:
			v = r.neg[j-1]
		case j == 0:
			v = r.pos[i-1]
		default:
			v = max(r.pos[i-1], r.neg[j-1])
		}
		for i > 0 && r.pos[i-1] == v {
			i, at.tp = i-1, at.tp+1
		}
		for j > 0 && r.neg[j-1] == v {
			j, at.fp = j-1, at.fp+1
		}
		return at, true
	}
	const s = ROCGridSteps
	out := make([]ROCPoint, 0, s+1)
	cur := vertex{}
	nxt, ok := next()
	for k := int64(0); k <= s; k++ {
		target := k * n0
		for ok && nxt.fp*s <= target {
			cur = nxt
			nxt, ok = next()
		}
		tpr := float64(cur.tp) / float64(n1)
		if cur.fp*s < target && ok {
			// cur.fp < k·n₀/S < nxt.fp: interpolate along the segment.
			frac := (float64(target)/s - float64(cur.fp)) / float64(nxt.fp-cur.fp)
			tpr = (float64(cur.tp) + frac*float64(nxt.tp-cur.tp)) / float64(n1)
		}
		out = append(out, ROCPoint{FPR: float64(k) / s, TPR: min(max(tpr, 0), 1)})
	}
	return out
}
