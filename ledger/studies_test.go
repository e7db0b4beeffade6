package ledger

import (
	"crypto/ecdh"
	"crypto/rand"
	"crypto/sha256"
	mrand "math/rand/v2"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/medchain/medchain/federated"
	"github.com/medchain/medchain/store"
	"github.com/medchain/medchain/zk"
)

// studyWorld is the standard world plus a clinic, with real X25519 keys
// for the three workers (their pair secrets make the masks) and three
// datasets: cardio at hosp-a (worker wanda), renal at clinic-c (worker
// wendy), sleep at lab-b (worker walt).
type studyWorld struct {
	t      *testing.T
	m      *Machine
	db     *store.Mem
	h, now int64
	nonces map[string]uint64
	enc    map[string]*ecdh.PrivateKey // worker name → X25519 key
}

var studyWorkerOf = map[string]string{"cardio": "wanda", "renal": "wendy", "sleep": "walt"}

func newStudyWorld(t *testing.T) *studyWorld {
	w := &studyWorld{t: t, db: store.NewMem(), now: 1_700_000_000, nonces: map[string]uint64{}, enc: map[string]*ecdh.PrivateKey{}}
	t.Cleanup(func() { checkStoredRecords(t, w.db) })
	g := worldGenesis()
	g.JobTimeoutBlocks = 100
	g.Orgs = append(g.Orgs, GenesisOrg{ID: "clinic-c", Name: "Clinic C", Kind: OrgHospital, Admins: []string{testAddr("dora")}})
	g.Accounts = append(g.Accounts, genesisAccount("dora", KindInstitution, "clinic-c", 1_000), genesisAccount("wendy", KindWorker, "clinic-c", 0))
	for i, a := range g.Accounts {
		for _, name := range []string{"wanda", "walt", "wendy"} {
			if a.Kind == KindWorker && slices.Equal(a.PubKey, testPub(name)) {
				seed := sha256.Sum256([]byte("x25519/" + name))
				k, err := ecdh.X25519().NewPrivateKey(seed[:])
				if err != nil {
					t.Fatal(err)
				}
				w.enc[name] = k
				g.Accounts[i].EncKey = k.PublicKey().Bytes()
			}
		}
	}
	var err error
	if w.m, err = New(w.db); err != nil {
		t.Fatal(err)
	}
	if _, err := w.m.InitChain(testChain, g); err != nil {
		t.Fatal(err)
	}
	w.block(
		w.sign("alice", &RegisterWorker{Address: testAddr("wanda"), Attestation: AttestTypeSoftware, Measurement: genMeasurement}),
		w.sign("carol", &RegisterWorker{Address: testAddr("walt"), Attestation: AttestTypeSoftware, Measurement: genMeasurement}),
		w.sign("dora", &RegisterWorker{Address: testAddr("wendy"), Attestation: AttestTypeSoftware, Measurement: genMeasurement}),
	)
	for _, ds := range []struct{ id, admin string }{{"cardio", "alice"}, {"renal", "dora"}, {"sleep", "carol"}} {
		pol := jobPolicy(50, RewardSplit{6000, 3000, 1000}, 100, 10_000)
		pol.Analyses.Builtins = []string{"logistic_regression", "boosted_trees"}
		pol.ExactRegression = true
		w.block(
			w.sign(ds.admin, &RegisterDataset{ID: ds.id, Version: 1, Title: ds.id, Schema: []Field{{Name: "age", Type: "integer"}},
				RecordBand: "1k-10k", ContentRoot: jobRoot(ds.id), Locator: "vault://" + ds.id}),
			w.sign(ds.admin, &SetPolicy{Dataset: ds.id, Policy: pol}),
		)
	}
	return w
}

func (w *studyWorld) sign(who string, msg Msg) []byte {
	raw := mustSign(who, w.nonces[who], msg)
	w.nonces[who]++
	return raw
}

// block runs one block and returns each transaction's result.
func (w *studyWorld) block(txs ...[]byte) []Result {
	w.t.Helper()
	w.h++
	w.now += 5
	if err := w.m.BeginBlock(BlockInfo{Height: w.h, Time: w.now}); err != nil {
		w.t.Fatal(err)
	}
	var out []Result
	for _, raw := range txs {
		r, err := w.m.DeliverTx(raw)
		if err != nil {
			w.t.Fatal(err)
		}
		out = append(out, r)
	}
	commitBlock(w.t, w.m, w.db)
	return out
}

func (w *studyWorld) ok(r []Result) {
	w.t.Helper()
	for i, x := range r {
		if x.Code != CodeOK {
			w.t.Fatalf("tx %d: %s: %s", i, x.Code, x.Log)
		}
	}
}

func (w *studyWorld) job(id uint64) *Job {
	j, err := GetJob(w.m.block, id)
	if err != nil || j == nil {
		w.t.Fatalf("job %d: %v", id, err)
	}
	return j
}

var testSpec = federated.Spec{Columns: 2, MaxAbs: []uint64{1 << 10, 120 << 10}, Link: "logit"}

func (w *studyWorld) submit(datasets ...string) uint64 {
	w.t.Helper()
	r := w.block(w.sign("rita", &SubmitJob{Datasets: datasets, Analysis: "logistic_regression", Params: []byte(`{}`),
		Purpose: "research", MaxPrice: 1000, ResultKey: testEncKey("rita"), Study: &StudyRequest{Spec: testSpec, IterationBlocks: MinIterationBlocks}}))
	w.ok(r)
	var id uint64
	for _, e := range r[0].Events {
		for _, a := range e.Attrs {
			if a.Key == "job" {
				id, _ = strconv.ParseUint(a.Value, 10, 64)
			}
		}
	}
	return id
}

// honest draws a site's values uniformly within the study's bounds.
func honest(rng *mrand.Rand, bounds []zk.Interval) []int64 {
	v := make([]int64, len(bounds))
	for j, b := range bounds {
		v[j] = b.Lo + int64(rng.Uint64N(uint64(b.Hi-b.Lo)+1))
	}
	return v
}

// contribute builds a site's contribution to the study's current
// iteration; forged, if set, replaces the committed and masked values
// (the proof stays that of the honest values).
func (w *studyWorld) contribute(j *Job, site string, phase string, values, forged []int64) []byte {
	w.t.Helper()
	st := j.Study
	var peers []federated.Peer
	self := -1
	for _, d := range st.Participants {
		if d == site {
			self = len(peers)
		}
		peers = append(peers, federated.Peer{Site: d, Key: w.enc[studyWorkerOf[d]].PublicKey().Bytes()})
	}
	sess := federated.Session{ChainID: testChain, Job: j.ID, Round: st.Round, Iteration: st.Iteration, Phase: phase}
	bounds, err := st.Spec.Bounds(phase, MinCohortFloor, 10_000, 100)
	if err != nil {
		w.t.Fatal(err)
	}
	c, err := federated.Contribute(w.enc[studyWorkerOf[site]], self, peers, sess, values, bounds, rand.Reader)
	if err != nil {
		w.t.Fatal(err)
	}
	if forged != nil {
		m, _ := federated.PairMasks(w.enc[studyWorkerOf[site]], self, peers, sess, len(values))
		if c.Commitments, err = zk.CommitValues(forged, m.Blindings); err != nil {
			w.t.Fatal(err)
		}
		c.Masked, _ = m.Apply(forged)
	}
	return w.sign(studyWorkerOf[site], &PostContribution{Job: j.ID, Dataset: site, Round: st.Round, Iteration: st.Iteration, Phase: phase, Contribution: *c})
}

// TestStudyStateHoldsOnlyMaskedValuesAndSums runs a three-site study
// through the state machine with real masks, commitments and proofs, and
// then scans every key and value of the state: no site's own value appears
// anywhere, every stored masked value differs from the value it hides, and
// each sum is exactly the sum of the sites' values.
func TestStudyStateHoldsOnlyMaskedValuesAndSums(t *testing.T) {
	w := newStudyWorld(t)
	rng := mrand.New(mrand.NewPCG(7, 8))
	id := w.submit("cardio", "renal", "sleep")
	j := w.job(id)
	if j.Sites[0].StudyWorker != testAddr("wanda") || j.Sites[2].StudyWorker != testAddr("walt") {
		t.Fatalf("study workers %q %q", j.Sites[0].StudyWorker, j.Sites[2].StudyWorker)
	}
	planted := map[string][]int64{}
	for it, phase := range []string{federated.PhaseStep, federated.PhaseStep, federated.PhaseFinal} {
		j = w.job(id)
		bounds, _ := testSpec.Bounds(phase, MinCohortFloor, 10_000, 100)
		want := make([]int64, len(bounds))
		var txs [][]byte
		for _, site := range j.Study.Participants {
			v := honest(rng, bounds)
			for k := range v {
				want[k] += v[k]
			}
			planted[site] = append(planted[site], v...)
			txs = append(txs, w.contribute(j, site, phase, v, nil))
		}
		w.ok(w.block(txs...))
		s, err := getOne[StudySum](w.m.block, KeyStudySum(id, uint32(it)))
		if err != nil || s == nil {
			t.Fatalf("iteration %d: no sum (%v)", it, err)
		}
		if !slices.Equal(s.Sum, want) || s.Phase != phase {
			t.Fatalf("iteration %d: sum %v, want %v", it, s.Sum, want)
		}
	}
	if j = w.job(id); !j.Study.Done || len(j.Study.Excluded) != 0 {
		t.Fatalf("study %+v", j.Study)
	}
	state := stagedState(t, w.m, w.db)
	for site, vals := range planted {
		for _, v := range vals {
			if v > -1_000_000 && v < 1_000_000 {
				continue // small numbers occur everywhere (heights, prices)
			}
			for k, val := range state {
				if strings.Contains(val, strconv.FormatInt(v, 10)) || strings.Contains(val, strconv.FormatUint(uint64(v), 10)) {
					t.Errorf("%s's value %d is in the state at %s", site, v, k)
				}
			}
		}
	}
	// A stored contribution's masked value never equals what it hides.
	for it := range uint32(3) {
		for _, site := range []string{"cardio", "renal", "sleep"} {
			sc, _ := GetStudyContribution(w.m.block, id, 0, it, site)
			if sc == nil {
				t.Fatalf("no contribution of %s to iteration %d", site, it)
			}
			off := 0
			for k := range it {
				off += testSpec.Len([]string{federated.PhaseStep, federated.PhaseStep}[k])
			}
			for k, m := range sc.Masked {
				if int64(m) == planted[site][off+k] {
					t.Errorf("%s iteration %d value %d stored unmasked", site, it, k)
				}
			}
		}
	}
}

// TestStudyFlagsAndDropouts: a forged contribution (commitments to values
// far outside the bounds, a proof made for honest ones) is accepted as a
// transaction but flags its site, with evidence, and restarts the round
// without it; after the next iteration's deadline a site that has not
// posted is dropped, and with fewer than two sites left the study fails.
// The flagged site is charged epsilon but not paid; the site that
// contributed in the restarted round is paid; the dropped one, which never
// touched its data, is refunded.
func TestStudyFlagsAndDropouts(t *testing.T) {
	w := newStudyWorld(t)
	rng := mrand.New(mrand.NewPCG(9, 10))
	id := w.submit("cardio", "renal", "sleep")
	j := w.job(id)
	bounds, _ := testSpec.Bounds(federated.PhaseStep, MinCohortFloor, 10_000, 100)
	v := honest(rng, bounds)
	forged := slices.Clone(v)
	for k := range forged {
		forged[k] *= 1000
	}
	r := w.block(w.contribute(j, "sleep", federated.PhaseStep, v, forged))
	w.ok(r)
	if !slices.ContainsFunc(r[0].Events, func(e Event) bool { return e.Type == "contribution_flagged" }) {
		t.Fatalf("events %+v", r[0].Events)
	}
	j = w.job(id)
	st := j.Study
	if st.Round != 1 || !slices.Equal(st.Participants, []string{"cardio", "renal"}) || len(st.Excluded) != 1 ||
		st.Excluded[0].Kind != ExcludedFlagged || len(st.Excluded[0].Evidence) != 64 {
		t.Fatalf("after the flag: %+v", st)
	}
	// A flagged site cannot come back.
	if r := w.block(w.contribute(j, "cardio", federated.PhaseStep, honest(rng, bounds), nil)); r[0].Code != CodeOK {
		t.Fatal(r[0].Log)
	}
	// renal misses the deadline; too early to advance, then dropped.
	if r := w.block(w.sign("pat", &AdvanceStudy{Job: id})); r[0].Code != CodeInvalidState {
		t.Fatalf("early advance: %s %s", r[0].Code, r[0].Log)
	}
	for w.h <= w.job(id).Study.Deadline {
		w.block()
	}
	w.ok(w.block(w.sign("pat", &AdvanceStudy{Job: id})))
	j = w.job(id)
	if j.Status != JobFailed || len(j.Study.Excluded) != 2 || j.Study.Excluded[1].Dataset != "renal" || j.Study.Excluded[1].Kind != ExcludedDropped {
		t.Fatalf("after the dropout: %s %q %+v", j.Status, j.Reason, j.Study.Excluded)
	}
	spent := func(ds string) uint64 { b, _ := GetBudget(w.m.block, ds); return b.SpentMilli }
	pool := func(ds string) uint64 { p, _ := GetPool(w.m.block, ds); return p }
	if spent("sleep") != 100 || pool("sleep") != 0 {
		t.Errorf("flagged sleep: spent %d pool %d, want charged and unpaid", spent("sleep"), pool("sleep"))
	}
	if spent("cardio") != 100 || pool("cardio") == 0 {
		t.Errorf("cardio contributed: spent %d pool %d, want charged and paid", spent("cardio"), pool("cardio"))
	}
	if spent("renal") != 0 || pool("renal") != 0 {
		t.Errorf("dropped renal never touched data: spent %d pool %d", spent("renal"), pool("renal"))
	}
	// Tokens: rita paid cardio's price only.
	a, _ := getAccount(w.m.block, testAddr("rita"))
	if a.Balance != 2_000-50 {
		t.Errorf("rita's balance %d, want %d", a.Balance, 2_000-50)
	}
}

// TestStudyCountsInstitutions: two datasets of one institution share its
// worker's key, so they count as one site: a study over them and one other
// institution's dataset does not meet a policy's minimum of three.
func TestStudyCountsInstitutions(t *testing.T) {
	w := newStudyWorld(t)
	pol := jobPolicy(50, RewardSplit{6000, 3000, 1000}, 100, 10_000)
	pol.Analyses.Builtins = []string{"logistic_regression"}
	pol.MinStudySites = 3
	w.ok(w.block(
		w.sign("alice", &RegisterDataset{ID: "cardio2", Version: 1, Title: "c2", Schema: []Field{{Name: "age", Type: "integer"}},
			RecordBand: "1k-10k", ContentRoot: jobRoot("cardio2"), Locator: "vault://c2"}),
		w.sign("alice", &SetPolicy{Dataset: "cardio2", Policy: pol}),
		w.sign("carol", &SetPolicy{Dataset: "sleep", Policy: pol}),
	))
	r := w.block(w.sign("rita", &SubmitJob{Datasets: []string{"cardio", "cardio2", "sleep"}, Analysis: "logistic_regression", Params: []byte(`{}`),
		Purpose: "research", MaxPrice: 1000, ResultKey: testEncKey("rita"), Study: &StudyRequest{Spec: testSpec}}))
	if r[0].Code != CodeInvalidField || !strings.Contains(r[0].Log, "needs 3 institutions") {
		t.Fatalf("%s: %s", r[0].Code, r[0].Log)
	}
}

// TestLowOrderEncKeyRefused: an X25519 key of small order would make every
// pairwise mask with it a known value; registration refuses it.
func TestLowOrderEncKeyRefused(t *testing.T) {
	w := newStudyWorld(t)
	for _, k := range [][]byte{make([]byte, 32), append([]byte{1}, make([]byte, 31)...)} {
		r := w.block(w.sign("alice", &RegisterAccount{PubKey: testPub("mallory"), EncKey: k, Kind: KindWorker, Org: "hosp-a", Possession: ProvePossession(testKey("mallory"), testChain, "hosp-a")}))
		if r[0].Code != CodeInvalidField || !strings.Contains(r[0].Log, "small order") {
			t.Fatalf("%x: %s %s", k[:2], r[0].Code, r[0].Log)
		}
	}
}

// TestStudyPhaseConflictRestarts: honest sites replay the same sums and
// post the same phase; when a site posts the other one, nothing is summed
// and the round restarts — nobody is flagged, since a majority could be
// colluders outvoting an honest site.
func TestStudyPhaseConflictRestarts(t *testing.T) {
	w := newStudyWorld(t)
	rng := mrand.New(mrand.NewPCG(11, 12))
	id := w.submit("cardio", "renal", "sleep")
	j := w.job(id)
	step, _ := testSpec.Bounds(federated.PhaseStep, MinCohortFloor, 10_000, 100)
	final, _ := testSpec.Bounds(federated.PhaseFinal, MinCohortFloor, 10_000, 100)
	w.ok(w.block(
		w.contribute(j, "cardio", federated.PhaseStep, honest(rng, step), nil),
		w.contribute(j, "renal", federated.PhaseStep, honest(rng, step), nil),
		w.contribute(j, "sleep", federated.PhaseFinal, honest(rng, final), nil),
	))
	st := w.job(id).Study
	if st.Iteration != 0 || st.Round != 1 || len(st.Excluded) != 0 || st.Mismatches != 1 || len(st.Participants) != 3 {
		t.Fatalf("after the phase conflict: %+v", st)
	}
	if s, _ := getOne[StudySum](w.m.block, KeyStudySum(id, 0)); s != nil {
		t.Fatal("a sum was taken over conflicting phases")
	}
}

// A boosted-trees study: it fails rather than go on without a site once a
// sum is in (a parent node's sum over every site less its children's over
// the rest would be the departed site's histogram), and it fails when its
// sites post more steps than its trees can have nodes.
func TestTreesStudyEndsOnDropoutAndStepLimit(t *testing.T) {
	spec := federated.Spec{Columns: 1, MaxAbs: []uint64{120 << 10}, Link: federated.LinkTrees,
		Trees: &federated.TreesSpec{Bins: 8, Depth: 1, Trees: 1}}
	submit := func(w *studyWorld) uint64 {
		r := w.block(w.sign("rita", &SubmitJob{Datasets: []string{"cardio", "renal", "sleep"}, Analysis: "boosted_trees", Params: []byte(`{}`),
			Purpose: "research", MaxPrice: 1000, ResultKey: testEncKey("rita"), Study: &StudyRequest{Spec: spec, IterationBlocks: MinIterationBlocks}}))
		w.ok(r)
		for _, e := range r[0].Events {
			for _, a := range e.Attrs {
				if a.Key == "job" {
					id, _ := strconv.ParseUint(a.Value, 10, 64)
					return id
				}
			}
		}
		t.Fatal("no job id in the events")
		return 0
	}
	rng := mrand.New(mrand.NewPCG(11, 12))
	bounds, err := spec.Bounds(federated.PhaseStep, MinCohortFloor, 10_000, 100)
	if err != nil {
		t.Fatal(err)
	}
	step := func(w *studyWorld, id uint64, sites ...string) {
		for _, s := range sites {
			w.ok(w.block(w.contribute(w.job(id), s, federated.PhaseStep, honest(rng, bounds), nil)))
		}
	}

	w := newStudyWorld(t)
	id := submit(w)
	step(w, id, "cardio", "renal", "sleep") // the counts
	step(w, id, "cardio", "renal")
	for w.h <= w.job(id).Study.Deadline {
		w.block()
	}
	w.ok(w.block(w.sign("pat", &AdvanceStudy{Job: id})))
	if j := w.job(id); j.Status != JobFailed || !strings.Contains(j.Reason, "cannot continue without a site") {
		t.Fatalf("after a dropout: %s %q", j.Status, j.Reason)
	}

	w = newStudyWorld(t)
	id = submit(w)
	step(w, id, "cardio", "renal", "sleep") // the counts
	step(w, id, "cardio", "renal", "sleep") // the root: the last node of a depth-1 tree
	if j := w.job(id); j.Status != JobAdmitted || j.Study.Iteration != 2 || j.Deadline < j.Study.Deadline {
		t.Fatalf("after two sums: %s, iteration %d, job deadline %d, iteration deadline %d", j.Status, j.Study.Iteration, j.Deadline, j.Study.Deadline)
	}
	step(w, id, "cardio", "renal", "sleep") // one step too many
	if j := w.job(id); j.Status != JobFailed || !strings.Contains(j.Reason, "at most 2 steps") {
		t.Fatalf("after a third step: %s %q", j.Status, j.Reason)
	}
}
