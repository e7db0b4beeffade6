package api_test

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/medchain/medchain/api"
	"github.com/medchain/medchain/api/apitest"
	"github.com/medchain/medchain/keys"
	"github.com/medchain/medchain/ledger"
)

// scrape reads the node's /metrics and returns the body and its samples
// by series ("name{label="value",...}" as the text format writes it).
func scrape(t *testing.T) (string, map[string]float64) {
	t.Helper()
	resp, err := http.Get(tn.URL + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("GET /metrics: %d %v", resp.StatusCode, err)
	}
	samples := map[string]float64{}
	for _, line := range strings.Split(string(b), "\n") {
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		i := strings.LastIndexByte(line, ' ')
		v, err := strconv.ParseFloat(line[i+1:], 64)
		if err != nil {
			t.Fatalf("sample %q: %v", line, err)
		}
		samples[line[:i]] = v
	}
	return string(b), samples
}

var labelRE = regexp.MustCompile(`(\w+)="([^"]*)"`)

// TestMetrics runs transactions and jobs through the node, then scrapes
// /metrics: the chain, job, worker and API series are there with the
// right counts, and nothing in the scrape names an account, a dataset, a
// record or a request path, although all of them were planted on the way.
// Every medchain label value is checked against its closed set.
func TestMetrics(t *testing.T) {
	// Planted identifiers: a dataset id and a title that reads like a
	// patient's record number, a worker's and a patient's addresses, a
	// path segment.
	const (
		ds        = "zq-planted-ds-4471"
		mrn       = "MRN-88123-PLANTED"
		badPath   = "zq-planted-path-9931"
		refusal   = "data_unavailable"
		malformed = "zq-planted-garbage-5520"
	)
	st, rita, patient := key(t, "st-mary-admin"), key(t, "rita-researcher"), key(t, "patient-1")
	wk, err := keys.Generate("metrics-worker")
	if err != nil {
		t.Fatal(err)
	}
	_, before := scrape(t)

	do(t, "st-mary-admin", &ledger.RegisterAccount{PubKey: wk.PubKey(), EncKey: wk.EncPub(), Kind: ledger.KindWorker, Org: "st-mary",
		Possession: ledger.ProvePossession(wk.Sign, apitest.ChainID, "st-mary")})
	measurement := strings.Repeat("5e", 32)
	do(t, "st-mary-admin", &ledger.RegisterWorker{Address: wk.Address(), Attestation: ledger.AttestTypeSoftware, Measurement: measurement})
	do(t, "st-mary-admin", &ledger.RegisterDataset{ID: ds, Version: 1, Title: mrn, RecordBand: "1k-10k",
		Schema: []ledger.Field{{Name: "age", Type: "integer"}}, ContentRoot: testRoot, Locator: "vault://st-mary/" + ds})
	do(t, "st-mary-admin", &ledger.SetPolicy{Dataset: ds, Policy: ledger.Policy{
		Purposes: []string{"research"}, Requesters: ledger.Requesters{Kinds: []ledger.AccountKind{ledger.KindResearcher}},
		Analyses: ledger.Analyses{Builtins: []string{"cohort_count"}}, MinCohort: 11, EpsilonPerJobMilli: 100, EpsilonTotalMilli: 1000,
		Price: 1, Split: ledger.RewardSplit{InstitutionBps: 10000}, Attestation: ledger.AttestSoftware, ConsentModel: ledger.ConsentOptOut}})
	do(t, "rita-researcher", &ledger.Transfer{To: patient.Address(), Amount: 1})
	submit := &ledger.SubmitJob{Datasets: []string{ds}, Analysis: "cohort_count", Params: json.RawMessage(`{}`),
		Purpose: "research", MaxPrice: 1, ResultKey: rita.EncPub()}
	failed := jobID(t, do(t, "rita-researcher", submit))
	commit(t, sign(t, wk, &ledger.FailJob{Job: failed, Dataset: ds, Reason: refusal}), ledger.CodeOK)
	admitted := jobID(t, do(t, "rita-researcher", submit))
	commit(t, sign(t, st, &ledger.ExpireJob{Job: admitted}), ledger.CodeInvalidState) // before its deadline
	// Requests whose paths and bodies carry the planted values.
	getOK[api.DatasetInfo](t, "/v1/datasets/"+ds)
	getOK[ledger.Account](t, "/v1/accounts/"+strings.ToUpper(wk.Address()))
	getAs[api.ConsentList](t, patient, "/v1/patients/"+patient.Address()+"/consents")
	apiErr(t, "GET", "/v1/no-such/"+badPath, nil, http.StatusNotFound, "not_found")
	apiErr(t, "POST", "/v1/txs", []byte(`{"`+malformed+`": "`+mrn+`"}`), http.StatusBadRequest, "malformed")

	text, after := scrape(t)
	delta := func(series string) float64 { return after[series] - before[series] }
	for series, want := range map[string]float64{
		`medchain_txs_total{code="ok",type="register_dataset"}`:                   1,
		`medchain_txs_total{code="ok",type="submit_job"}`:                         2,
		`medchain_txs_total{code="ok",type="fail_job"}`:                           1,
		`medchain_txs_total{code="invalid_state",type="expire_job"}`:              1,
		`medchain_worker_runs_total{outcome="refusal"}`:                           1,
		`medchain_worker_refusals_total{reason="data_unavailable"}`:               1,
		`medchain_api_requests_total{route="GET /v1/datasets/{id}",status="200"}`: 1,
		`medchain_api_requests_total{route="/",status="404"}`:                     1,
		`medchain_api_requests_total{route="POST /v1/txs",status="400"}`:          1,
	} {
		if got := delta(series); got != want {
			t.Errorf("%s rose by %v, want %v", series, got, want)
		}
	}
	// sign() reads the signer's nonce: the account route was asked more
	// than once.
	if got := delta(`medchain_api_requests_total{route="GET /v1/accounts/{address}",status="200"}`); got < 1 {
		t.Errorf("account reads rose by %v", got)
	}
	for series, atLeast := range map[string]float64{
		`medchain_block_height`:                                             float64(tn.Height() - 1),
		`medchain_block_interval_seconds_count`:                             1,
		`medchain_jobs{status="admitted"}`:                                  1,
		`medchain_jobs{status="failed"}`:                                    1,
		`medchain_api_open_connections`:                                     1,
		`medchain_mempool_txs`:                                              0,
		`medchain_api_request_duration_seconds_count{route="POST /v1/txs"}`: 10,
	} {
		if got, ok := after[series]; !ok || got < atLeast {
			t.Errorf("%s = %v (present %t), want at least %v", series, got, ok, atLeast)
		}
	}

	// No planted value, in any case, anywhere in the scrape.
	for _, planted := range []string{ds, mrn, badPath, malformed, wk.Address(), rita.Address(), st.Address(), patient.Address(),
		"vault://st-mary/" + ds, measurement} {
		for _, v := range []string{planted, strings.ToUpper(planted)} {
			if strings.Contains(text, v) {
				t.Errorf("the scrape contains the planted %q", v)
			}
		}
	}
	// Every label value of a medchain series is from its closed set.
	allowed := map[string][]string{
		"code": {"other"}, "type": {"other"}, "status": {"other"}, "reason": append([]string{"other"}, ledger.FailReasons...),
		"route": api.RoutePatterns(), "outcome": {"result", "contribution", "refusal", "other"},
	}
	for _, c := range ledger.Codes() {
		allowed["code"] = append(allowed["code"], c.String())
	}
	for _, tt := range ledger.TxTypes {
		allowed["type"] = append(allowed["type"], string(tt))
	}
	allowed["status"] = append(allowed["status"], ledger.JobAdmitted, ledger.JobCompleted, ledger.JobFailed, ledger.JobExpired)
	for s := 100; s < 600; s++ {
		allowed["status"] = append(allowed["status"], fmt.Sprint(s))
	}
	for series := range after {
		if !strings.HasPrefix(series, "medchain_") {
			continue
		}
		for _, m := range labelRE.FindAllStringSubmatch(series, -1) {
			name, value := m[1], m[2]
			if name == "le" {
				if _, err := strconv.ParseFloat(value, 64); err != nil && value != "+Inf" {
					t.Errorf("%s: bucket bound %q", series, value)
				}
				continue
			}
			set, known := allowed[name]
			if !known || !slices.Contains(set, value) {
				t.Errorf("%s: label %s=%q is not from a closed set", series, name, value)
			}
		}
	}
}
