package ledger

import (
	mrand "math/rand/v2"
	"testing"

	"github.com/medchain/medchain/federated"
)

// Issue 10, finding 1, for pooled studies: a failed pooled job used to
// leave a decryptable pooled fit for free. Here a study reaches its final
// sum (from which every site's worker can compute the fit), one site
// posts its result, and the job then expires: every site that contributed
// is paid its price by its split and keeps its epsilon charge, and the
// requester gets nothing back — the fit was released.
func TestStudySettlementPaysForThePooledFit(t *testing.T) {
	w := newStudyWorld(t)
	rng := mrand.New(mrand.NewPCG(11, 12))
	id := w.submit("cardio", "renal", "sleep")
	for _, phase := range []string{federated.PhaseStep, federated.PhaseFinal} {
		j := w.job(id)
		bounds, _ := testSpec.Bounds(phase, MinCohortFloor, 10_000, 100)
		var txs [][]byte
		for _, site := range j.Study.Participants {
			txs = append(txs, w.contribute(j, site, phase, honest(rng, bounds), nil))
		}
		w.ok(w.block(txs...))
	}
	if !w.job(id).Study.Done {
		t.Fatal("the study has no final sum")
	}
	w.ok(w.block(w.sign("wanda", &PostResult{Job: id, Dataset: "cardio", ContentRoot: jobRoot("cardio"), Measurement: genMeasurement,
		ResultHash: genMeasurement, Locator: "vault://fit"})))
	for w.h <= w.job(id).Deadline {
		w.block()
	}
	w.ok(w.block(w.sign("pat", &ExpireJob{Job: id})))
	j := w.job(id)
	if j.Status != JobExpired || j.Escrow != 0 {
		t.Fatalf("job %s, escrow %d", j.Status, j.Escrow)
	}
	for _, s := range j.Sites {
		pool, _ := GetPool(w.m.block, s.Dataset)
		b, _ := GetBudget(w.m.block, s.Dataset)
		if pool != mulBps(s.Price, s.Split.PatientPoolBps) || b.SpentMilli != s.EpsilonMilli {
			t.Errorf("%s: pool %d, spent %d; want paid %d and charged %d", s.Dataset, pool, b.SpentMilli, mulBps(s.Price, s.Split.PatientPoolBps), s.EpsilonMilli)
		}
	}
	if a, _ := getAccount(w.m.block, testAddr("rita")); a.Balance != 2_000-3*50 {
		t.Errorf("rita's balance %d, want %d: the three sites that computed the fit are paid", a.Balance, 2_000-3*50)
	}
}
