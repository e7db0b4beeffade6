package ledger

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"math"
	"slices"
	"sync"

	"pgregory.net/rapid"
)

// txGen draws random transactions against a machine's current state, for
// the property and determinism tests. Most are plausible (right nonce,
// known names) so that they get past the first checks and exercise the
// handlers; the rest are wrong in every way a sender can be wrong.
type txGen struct {
	m     *Machine
	now   int64
	sent  [][]byte // everything drawn so far, for replays
	kinds []string // the kinds to draw from; repeat a kind to weight it
}

// Kinds of transaction txGen can draw: one per transaction type, plus
// garbage bytes, replays of earlier transactions and signed transactions
// with a byte flipped.
var allTxKinds = []string{
	"create_org", "set_org_admin", "register_account", "self_register", "transfer", "register_dataset",
	"set_policy", "give_consent", "narrow_consent", "revoke_consent", "request_access", "decide_access",
	"register_worker", "submit_job", "post_result", "fail_job", "expire_job",
	"register_model", "record_prediction", "attest_prediction",
	"register_device", "set_device_status", "anchor_readings", "set_account_status",
	"post_receipts", "claim_reward",
	"post_deal", "accept_deal", "accept_deal", "withdraw_acceptance", "deliver_deal_rows", "deliver_deal_rows", "close_deal",
	"decline_acceptances",
	"garbage", "replay", "flip",
}

var (
	genActors   = []string{"root", "alice", "bob", "carol", "rita", "pat", "paula", "newpat", "newres", "dave", "ghost", "wanda", "walt"}
	genOrgs     = []string{"consortium", "hosp-a", "lab-b", "newlab"}
	genDatasets = []string{"cardio", "sleep"}
	genModels   = []string{"m1", "m2"}
	genDevices  = []string{"cuff-1", "oxi-1"}
)

// genPrediction is a prediction proof txGen can send.
type genPrediction struct {
	model, request string
	x              []int64
	bucket         uint32
	proof          []byte
}

// genPredictions are real proofs for the generated models, made with both
// test models' openings: which of them verify depends on which test model
// the id was registered with.
var genPredictions = sync.OnceValue(func() []genPrediction {
	var out []genPrediction
	for _, id := range genModels {
		for _, name := range []string{"cvd", "other"} {
			for i, values := range [][]float64{{30, 110, 0}, {60, 150, 1}} {
				req := fmt.Sprintf("req-%d", i)
				x, b, proof := testPrediction(name, testChain, id, req, values)
				out = append(out, genPrediction{model: id, request: req, x: x, bucket: b, proof: proof})
			}
		}
	}
	return out
})

func (g *txGen) draw(t *rapid.T) []byte {
	raw := g.drawKind(t, rapid.SampledFrom(g.kinds).Draw(t, "kind"))
	g.sent = append(g.sent, raw)
	return raw
}

// plausibleSigners are those who may sign a kind, at least sometimes:
// drawing them most of the time gets transactions past the permission
// checks so that datasets, policies, consents and requests come to exist.
var plausibleSigners = map[string][]string{
	"create_org":          {"root"},
	"set_org_admin":       {"alice", "carol", "root"},
	"register_account":    {"alice", "carol"},
	"transfer":            {"root", "alice", "bob", "carol", "rita", "pat"},
	"register_dataset":    {"alice", "bob", "carol"},
	"set_policy":          {"alice", "bob", "carol"},
	"give_consent":        {"pat", "paula", "newpat"},
	"narrow_consent":      {"pat", "paula", "newpat"},
	"revoke_consent":      {"pat", "paula", "newpat"},
	"request_access":      {"rita", "carol", "newres"},
	"decide_access":       {"alice", "bob", "carol"},
	"register_worker":     {"alice", "carol"},
	"submit_job":          {"rita", "carol", "alice"},
	"post_result":         {"wanda", "walt"},
	"fail_job":            {"wanda", "walt"},
	"expire_job":          {"rita", "pat"},
	"register_model":      {"rita", "carol", "alice"},
	"attest_prediction":   {"carol", "alice", "rita"},
	"register_device":     {"alice", "bob", "carol"},
	"set_device_status":   {"alice", "bob", "carol"},
	"anchor_readings":     {"alice", "bob", "carol"},
	"post_receipts":       {"wanda", "walt"},
	"claim_reward":        {"pat", "paula", "rita"},
	"post_deal":           {"rita", "carol", "alice"},
	"accept_deal":         {"pat", "paula", "newpat"},
	"withdraw_acceptance": {"pat", "paula", "newpat"},
	"deliver_deal_rows":   {"wanda", "walt"},
	"close_deal":          {"rita", "carol", "alice", "pat"},
	"set_account_status":  {"alice", "bob", "carol"},
	"decline_acceptances": {"wanda", "walt"},
}

// genMeasurement is the code measurement generated workers register.
var genMeasurement = func() string { h := sha256.Sum256([]byte("worker")); return hex.EncodeToString(h[:]) }()

func (g *txGen) drawKind(t *rapid.T, kind string) []byte {
	switch kind {
	case "garbage":
		return rapid.SliceOfN(rapid.Byte(), 0, 80).Draw(t, "garbage")
	case "replay":
		if len(g.sent) > 0 {
			return rapid.SampledFrom(g.sent).Draw(t, "replay")
		}
		return []byte("{}")
	case "flip":
		raw := g.drawKind(t, "transfer")
		i := rapid.IntRange(0, len(raw)-1).Draw(t, "flip at")
		raw[i] ^= 1 << rapid.IntRange(0, 7).Draw(t, "flip bit")
		return raw
	case "self_register":
		who := rapid.SampledFrom(genActors).Draw(t, "who")
		return g.sign(t, who, &RegisterAccount{PubKey: testPub(who), EncKey: testEncKey(who), Kind: g.kind(t)})
	}
	signer := rapid.SampledFrom(genActors).Draw(t, "signer")
	if likely := plausibleSigners[kind]; likely != nil && rapid.IntRange(0, 3).Draw(t, "plausible signer") > 0 {
		signer = rapid.SampledFrom(likely).Draw(t, "signer")
	}
	var msg Msg
	switch kind {
	case "create_org":
		admin := rapid.SampledFrom(genActors).Draw(t, "admin")
		id := g.org(t)
		msg = &CreateOrg{ID: id, Name: "Org", Kind: rapid.SampledFrom(OrgKinds).Draw(t, "org kind"),
			Admin: testPub(admin), EncKey: testEncKey(admin), AdminPossession: ProvePossession(testKey(admin), testChain, id)}
	case "set_org_admin":
		msg = &SetOrgAdmin{Org: g.org(t), Address: testAddr(rapid.SampledFrom(genActors).Draw(t, "address")), Admin: rapid.Bool().Draw(t, "admin")}
	case "register_account":
		who := rapid.SampledFrom(genActors).Draw(t, "who")
		org := g.org(t)
		msg = &RegisterAccount{PubKey: testPub(who), EncKey: testEncKey(who), Kind: g.kind(t), Org: org, Possession: ProvePossession(testKey(who), testChain, org)}
	case "transfer":
		msg = &Transfer{To: g.to(t), Amount: g.amount(t, signer)}
	case "register_dataset":
		id := rapid.SampledFrom(genDatasets).Draw(t, "dataset")
		v := rapid.Uint64Range(0, 2).Draw(t, "version")
		root := sha256.Sum256(fmt.Appendf(nil, "%s/%d", id, v))
		msg = &RegisterDataset{ID: id, Version: v, Title: "T", Schema: []Field{{Name: "age", Type: "integer"}},
			RecordBand: "1k-10k", ContentRoot: hex.EncodeToString(root[:]), Locator: "vault://x"}
	case "set_policy":
		p := Policy{
			Purposes:           g.purposes(t, 1),
			Analyses:           Analyses{Builtins: []string{"cohort_count"}},
			MinCohort:          MinCohortFloor,
			EpsilonPerJobMilli: 100,
			EpsilonTotalMilli:  1000,
			Price:              10,
			Split:              RewardSplit{InstitutionBps: 7000, PatientPoolBps: 2000, WorkerBps: 1000},
			Attestation:        AttestSoftware,
			ConsentModel:       rapid.SampledFrom([]string{ConsentOptIn, ConsentOptOut}).Draw(t, "model"),
			Expiry:             g.expiry(t),
		}
		if !slices.Contains(p.Purposes, "research") {
			p.Purposes = append(p.Purposes, "research")
		}
		if rapid.Bool().Draw(t, "anyone") {
			p.Requesters.Anyone = true
		} else {
			p.Requesters.Kinds = []AccountKind{KindResearcher}
		}
		msg = &SetPolicy{Dataset: rapid.SampledFrom(genDatasets).Draw(t, "dataset"), Policy: p}
	case "give_consent":
		msg = &GiveConsent{Scope: g.scope(t), Provision: rapid.SampledFrom([]string{Permit, Deny}).Draw(t, "provision"),
			Purposes: g.purposes(t, 1), Expiry: g.expiry(t)}
	case "narrow_consent":
		msg = &NarrowConsent{Seq: rapid.Uint64Range(0, 2).Draw(t, "seq"), Purposes: g.purposes(t, 0), Expiry: g.expiry(t)}
	case "revoke_consent":
		msg = &RevokeConsent{Seq: rapid.Uint64Range(0, 2).Draw(t, "seq")}
	case "request_access":
		purpose := "research" // which every policy drawn here allows
		if rapid.Bool().Draw(t, "other purpose") {
			purpose = rapid.SampledFrom(Purposes).Draw(t, "purpose")
		}
		msg = &RequestAccess{Dataset: rapid.SampledFrom(genDatasets).Draw(t, "dataset"), Purpose: purpose}
	case "decide_access":
		msg = &DecideAccess{Request: rapid.Uint64Range(0, 2).Draw(t, "request"), Grant: rapid.Bool().Draw(t, "grant"), Expiry: g.expiry(t)}
	case "register_worker":
		msg = &RegisterWorker{Address: testAddr(rapid.SampledFrom(genActors).Draw(t, "worker")),
			Attestation: rapid.SampledFrom(AttestationTypes).Draw(t, "attestation"), Measurement: genMeasurement}
	case "submit_job":
		ds := rapid.SliceOfNDistinct(rapid.SampledFrom(genDatasets), 1, 2, rapid.ID[string]).Draw(t, "datasets")
		msg = &SubmitJob{Datasets: ds, Analysis: "cohort_count", Params: []byte(`{}`), Purpose: "research",
			MaxPrice: rapid.Uint64Range(0, 40).Draw(t, "max price"), ResultKey: testEncKey(signer),
			EpsilonMilli: rapid.Uint64Range(0, 150).Draw(t, "epsilon")}
	case "post_result":
		id := rapid.SampledFrom(genDatasets).Draw(t, "dataset")
		root := sha256.Sum256(fmt.Appendf(nil, "%s/%d", id, rapid.Uint64Range(1, 2).Draw(t, "version")))
		msg = &PostResult{Job: rapid.Uint64Range(0, 3).Draw(t, "job"), Dataset: id, ContentRoot: hex.EncodeToString(root[:]),
			Measurement: genMeasurement, ResultHash: genMeasurement, Locator: "vault://result"}
	case "fail_job":
		msg = &FailJob{Job: rapid.Uint64Range(0, 3).Draw(t, "job"), Dataset: rapid.SampledFrom(genDatasets).Draw(t, "dataset"),
			Reason: rapid.SampledFrom(FailReasons).Draw(t, "reason")}
	case "expire_job":
		msg = &ExpireJob{Job: rapid.Uint64Range(0, 3).Draw(t, "job")}
	case "register_model":
		m := testRegisterModel(rapid.SampledFrom(genModels).Draw(t, "model"), rapid.SampledFrom([]string{"cvd", "other"}).Draw(t, "test model"))
		if rapid.IntRange(0, 4).Draw(t, "bad edges") == 0 {
			m.BucketEdges = []int64{5, 5, 6}
		}
		if rapid.Bool().Draw(t, "has job") {
			j := rapid.Uint64Range(0, 3).Draw(t, "job")
			m.Job = &j
		}
		msg = m
	case "record_prediction", "attest_prediction":
		p := rapid.SampledFrom(genPredictions()).Draw(t, "prediction")
		proof, bucket := slices.Clone(p.proof), p.bucket
		if rapid.IntRange(0, 3).Draw(t, "tamper") == 0 {
			proof[rapid.IntRange(0, len(proof)-1).Draw(t, "tamper at")] ^= 1 << rapid.IntRange(0, 7).Draw(t, "tamper bit")
		}
		if rapid.IntRange(0, 3).Draw(t, "other bucket") == 0 {
			bucket = rapid.Uint32Range(0, 4).Draw(t, "bucket")
		}
		if kind == "record_prediction" {
			msg = &RecordPrediction{Model: p.model, X: p.x, Bucket: bucket, Request: p.request, Proof: proof}
		} else {
			msg = &AttestPrediction{Model: p.model, XHash: InputsHash([]byte("salt"), p.x), Bucket: bucket, ProofHash: ProofHash(proof)}
		}
	case "register_device":
		m := &RegisterDevice{ID: rapid.SampledFrom(genDevices).Draw(t, "device"), PubKey: testPub(rapid.SampledFrom(genActors).Draw(t, "key")),
			Kind:         rapid.SampledFrom(append(slices.Clone(DeviceKinds), "toaster")).Draw(t, "kind"),
			Measurements: []Measurement{{System: "loinc", Code: "8867-4", Unit: "/min"}}}
		if rapid.IntRange(0, 4).Draw(t, "bad measurement") == 0 {
			m.Measurements[0].Code = "8867"
		}
		msg = m
	case "set_device_status":
		msg = &SetDeviceStatus{ID: rapid.SampledFrom(genDevices).Draw(t, "device"),
			Status: rapid.SampledFrom(append(slices.Clone(DeviceStatuses), "lost")).Draw(t, "status")}
	case "anchor_readings":
		root := sha256.Sum256([]byte(rapid.String().Draw(t, "readings")))
		msg = &AnchorReadings{Seq: rapid.Uint64Range(0, 4).Draw(t, "seq"), Root: hex.EncodeToString(root[:]),
			Band: rapid.SampledFrom([]string{"<100", "1k-10k", "17"}).Draw(t, "band")}
	case "post_receipts":
		part := rapid.Uint32Range(0, 5).Draw(t, "part")
		count := rapid.SampledFrom([]int{ReceiptTagsPerPart, 10_000 - 4*ReceiptTagsPerPart, 3}).Draw(t, "tags")
		start := uint64(part) * ReceiptTagsPerPart
		if rapid.IntRange(0, 4).Draw(t, "overlap") == 0 {
			start -= min(start, 1)
		}
		m := &PostReceipts{Job: rapid.Uint64Range(0, 3).Draw(t, "job"), Dataset: rapid.SampledFrom(genDatasets).Draw(t, "dataset"), Part: part}
		for k := range count {
			var tag [ReceiptTagSize]byte
			binary.BigEndian.PutUint64(tag[8:], start+uint64(k))
			m.Tags = append(m.Tags, tag[:]...)
		}
		msg = m
	case "claim_reward":
		issuer := rapid.SampledFrom([]string{"wanda", "walt", "alice", "carol", "rita"}).Draw(t, "issuer")
		n := sha256.Sum256([]byte(rapid.SampledFrom([]string{"n1", "n2", "n3", "n4"}).Draw(t, "nullifier")))
		v := Voucher{Org: rapid.SampledFrom([]string{"hosp-a", "lab-b"}).Draw(t, "org"),
			Amount:    rapid.SampledFrom([]uint64{1, 8, 128, 7}).Draw(t, "amount"),
			Recipient: testAddr(rapid.SampledFrom([]string{signer, signer, signer, "pat"}).Draw(t, "recipient")),
			Nullifier: hex.EncodeToString(n[:])}
		SignVoucher(testKey(issuer), testChain, &v)
		if rapid.IntRange(0, 5).Draw(t, "forged voucher") == 0 {
			v.Issuer = testAddr(rapid.SampledFrom([]string{"wanda", "alice"}).Draw(t, "claimed issuer"))
		}
		msg = &ClaimReward{Voucher: v}
	case "post_deal":
		price := rapid.OneOf(rapid.Just(uint64(0)), rapid.Uint64Range(1, 30), rapid.Uint64Range(1, 30)).Draw(t, "price")
		records := rapid.OneOf(rapid.Just(uint64(0)), rapid.Uint64Range(1, 4), rapid.Uint64Range(1, 4)).Draw(t, "max records")
		m := &PostDeal{Purpose: "research", Fields: []string{"age"}, PricePerRecord: price, MaxRecords: records,
			Budget:       rapid.OneOf(rapid.Just(price*records), rapid.Uint64Range(price, max(price, price*records)+1), rapid.Just(g.amount(t, signer))).Draw(t, "budget"),
			ExpiryBlocks: rapid.OneOf(rapid.Just(uint64(0)), rapid.Uint64Range(1, 6), rapid.Uint64Range(1, 6)).Draw(t, "expiry blocks"), BuyerKey: testEncKey(signer)}
		if rapid.IntRange(0, 3).Draw(t, "by org") == 0 {
			m.Org = g.org(t)
		} else {
			m.Datasets = rapid.SliceOfNDistinct(rapid.SampledFrom(genDatasets), 1, 2, rapid.ID[string]).Draw(t, "datasets")
		}
		if rapid.IntRange(0, 5).Draw(t, "identifier") == 0 {
			m.Fields = append(m.Fields, "mrn")
		}
		msg = m
	case "accept_deal":
		msg = &AcceptDeal{Deal: g.deal(t), Dataset: rapid.SampledFrom(genDatasets).Draw(t, "dataset")}
	case "withdraw_acceptance":
		msg = &WithdrawAcceptance{Deal: g.deal(t)}
	case "deliver_deal_rows":
		m := &DeliverDealRows{Deal: g.deal(t)}
		patients := rapid.SliceOfN(rapid.SampledFrom([]string{"pat", "paula", "newpat", "rita"}), 0, 3).Draw(t, "patients")
		if rapid.IntRange(0, 3).Draw(t, "odd delivery") > 0 {
			// Mostly what a worker would send: the pending acceptances of
			// the deal, by the worker of their dataset's organisation.
			patients = nil
			for _, p := range []string{"pat", "paula"} {
				if a, _ := GetAcceptance(g.m.block, m.Deal, testAddr(p)); a != nil && a.Status == AcceptancePending {
					patients = append(patients, p)
					signer = map[string]string{"hosp-a": "wanda", "lab-b": "walt"}[a.Org]
				}
			}
		}
		for _, p := range patients {
			m.Rows = append(m.Rows, DeliveredRow{Patient: testAddr(p), RowHash: genMeasurement})
		}
		msg = m
	case "close_deal":
		msg = &CloseDeal{Deal: g.deal(t)}
	case "set_account_status":
		msg = &SetAccountStatus{Address: testAddr(rapid.SampledFrom(genActors).Draw(t, "account")),
			Status: rapid.SampledFrom(append(slices.Clone(AccountStatuses), "asleep")).Draw(t, "status")}
	case "decline_acceptances":
		m := &DeclineAcceptances{Deal: g.deal(t)}
		for _, p := range rapid.SliceOfN(rapid.SampledFrom([]string{"pat", "paula", "newpat"}), 0, 2).Draw(t, "declined") {
			m.Patients = append(m.Patients, testAddr(p))
		}
		msg = m
	default:
		t.Fatalf("txGen: unknown kind %q", kind)
	}
	return g.sign(t, signer, msg)
}

// sign signs with the signer's next nonce, or now and then a wrong one.
func (g *txGen) sign(t *rapid.T, signer string, msg Msg) []byte {
	nonce := uint64(0)
	acct, err := getAccount(g.m.block, testAddr(signer))
	if err != nil {
		t.Fatal(err)
	}
	if acct != nil {
		nonce = acct.Nonce
	}
	if rapid.IntRange(0, 9).Draw(t, "wrong nonce") == 0 {
		nonce = rapid.Uint64Range(0, nonce+2).Draw(t, "nonce")
	}
	return mustSign(signer, nonce, msg)
}

// deal is mostly one of the first deals, which exist most often.
func (g *txGen) deal(t *rapid.T) uint64 {
	return rapid.OneOf(rapid.Uint64Range(0, 1), rapid.Uint64Range(0, 1), rapid.Uint64Range(0, 3)).Draw(t, "deal")
}

func (g *txGen) org(t *rapid.T) string { return rapid.SampledFrom(genOrgs).Draw(t, "org") }

func (g *txGen) kind(t *rapid.T) AccountKind {
	return rapid.SampledFrom(AccountKinds).Draw(t, "account kind")
}

func (g *txGen) to(t *rapid.T) string {
	if rapid.IntRange(0, 19).Draw(t, "bad address") == 0 {
		return "not-an-address"
	}
	return testAddr(rapid.SampledFrom(genActors).Draw(t, "to"))
}

// amount is often exactly the signer's balance or one more, sometimes
// anything at all.
func (g *txGen) amount(t *rapid.T, signer string) uint64 {
	var bal uint64
	if acct, _ := getAccount(g.m.block, testAddr(signer)); acct != nil {
		bal = acct.Balance
	}
	return rapid.OneOf(rapid.Uint64Range(0, 100), rapid.Just(bal), rapid.Just(bal+1), rapid.Just(uint64(math.MaxUint64)), rapid.Uint64()).Draw(t, "amount")
}

func (g *txGen) purposes(t *rapid.T, min int) []string {
	return rapid.SliceOfNDistinct(rapid.SampledFrom(Purposes), min, 3, rapid.ID[string]).Draw(t, "purposes")
}

func (g *txGen) expiry(t *rapid.T) int64 {
	if rapid.Bool().Draw(t, "has expiry") {
		return g.now + rapid.Int64Range(-20, 2000).Draw(t, "expiry")
	}
	return 0
}

func (g *txGen) scope(t *rapid.T) Scope {
	return rapid.SampledFrom([]Scope{
		{Kind: ScopeDataset, ID: "cardio"}, {Kind: ScopeDataset, ID: "sleep"}, {Kind: ScopeInstitution, ID: "hosp-a"},
		{Kind: ScopeInstitution, ID: "lab-b"}, {Kind: ScopeAll}, {Kind: ScopeDataset, ID: "missing"},
	}).Draw(t, "scope")
}
