package api_test

import (
	"encoding/json"
	"os"
	"reflect"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/medchain/medchain/api"
	"github.com/medchain/medchain/attest"
	"github.com/medchain/medchain/device"
	"github.com/medchain/medchain/iomt"
	"github.com/medchain/medchain/jobparams"
	"github.com/medchain/medchain/ledger"
	"github.com/medchain/medchain/recordshare"
	"github.com/medchain/medchain/smt"
)

type openAPIDoc struct {
	OpenAPI string                               `json:"openapi"`
	Paths   map[string]map[string]map[string]any `json:"paths"`
	Comps   struct {
		Schemas map[string]struct {
			Properties map[string]any `json:"properties"`
			Required   []string       `json:"required"`
		} `json:"schemas"`
	} `json:"components"`
}

func loadDoc(t *testing.T) openAPIDoc {
	t.Helper()
	b, err := os.ReadFile("openapi.json")
	if err != nil {
		t.Fatal(err)
	}
	var d openAPIDoc
	if err := json.Unmarshal(b, &d); err != nil {
		t.Fatal(err)
	}
	return d
}

// TestOpenAPIRoutes checks that the document describes exactly the routes
// the server registers.
func TestOpenAPIRoutes(t *testing.T) {
	d := loadDoc(t)
	var documented []string
	for path, ops := range d.Paths {
		for method, op := range ops {
			documented = append(documented, strings.ToUpper(method)+" "+path)
			if op["summary"] == nil || op["responses"] == nil || op["operationId"] == nil {
				t.Errorf("%s %s: summary, operationId and responses are required", method, path)
			}
			// Every path parameter in the template is declared.
			params, _ := op["parameters"].([]any)
			for _, seg := range strings.Split(path, "/") {
				if name, ok := strings.CutPrefix(seg, "{"); ok {
					name = strings.TrimSuffix(name, "}")
					if !slices.ContainsFunc(params, func(p any) bool {
						m := p.(map[string]any)
						return m["name"] == name && m["in"] == "path" && m["required"] == true
					}) {
						t.Errorf("%s %s: path parameter %s is not declared", method, path, name)
					}
				}
			}
		}
	}
	// A node with device ingestion serves the device routes beside the API's.
	registered := append(api.Routes(), iomt.Routes()...)
	sort.Strings(documented)
	sort.Strings(registered)
	for _, r := range registered {
		if !slices.Contains(documented, r) {
			t.Errorf("route %s is not in openapi.json", r)
		}
	}
	for _, r := range documented {
		if !slices.Contains(registered, r) {
			t.Errorf("openapi.json describes %s, which is not a route", r)
		}
	}
}

// jsonFields lists the JSON names of a struct's fields, following embedded
// structs the way encoding/json does.
func jsonFields(t reflect.Type) []string {
	var out []string
	for i := range t.NumField() {
		f := t.Field(i)
		name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
		if name == "-" || !f.IsExported() {
			continue
		}
		if f.Anonymous && name == "" {
			out = append(out, jsonFields(f.Type)...)
			continue
		}
		if name == "" {
			name = f.Name
		}
		out = append(out, name)
	}
	return out
}

// TestOpenAPISchemas checks that each schema names exactly the JSON fields
// of the Go type it describes, so the document cannot drift from the code.
func TestOpenAPISchemas(t *testing.T) {
	d := loadDoc(t)
	types := map[string]any{
		"Error": api.Error{}, "NodeStatus": api.NodeStatus{}, "Commitment": ledger.Commitment{},
		"TxSubmitted": api.TxSubmitted{}, "TxRecord": ledger.TxRecord{}, "Account": ledger.Account{},
		"Org": ledger.Org{}, "OrgList": api.OrgList{}, "Field": ledger.Field{}, "DatasetVersion": ledger.DatasetVersion{},
		"Requesters": ledger.Requesters{}, "Analyses": ledger.Analyses{}, "RewardSplit": ledger.RewardSplit{},
		"Policy": ledger.Policy{}, "DatasetInfo": api.DatasetInfo{}, "DatasetList": api.DatasetList{},
		"Scope": ledger.Scope{}, "Consent": ledger.Consent{}, "ConsentList": api.ConsentList{}, "ConsentPage": api.ConsentPage{},
		"AccessRequest": ledger.AccessRequest{}, "AccessRequestList": api.AccessRequestList{},
		"SmtProof": smt.Proof{}, "SmtProofLeaf": smt.ProofLeaf{}, "StateProof": ledger.StateProof{},
		"SignedHeader": api.SignedHeader{}, "StateChange": ledger.StateChange{}, "LedgerAuditEntry": ledger.AuditEntry{},
		"AuditEntry": api.AuditEntry{}, "AuditInclusion": api.AuditInclusion{}, "AuditConsistency": api.AuditConsistency{},
		"Payload": ledger.Payload{}, "Event": ledger.Event{}, "Attribute": ledger.Attribute{},
		"Worker": ledger.Worker{}, "WorkerList": api.WorkerList{},
		"AttestationPolicy": ledger.AttestationPolicy{}, "TDXCollateral": attest.TDXCollateral{}, "JobResult": ledger.JobResult{}, "JobSite": ledger.JobSite{},
		"Job": ledger.Job{}, "JobList": api.JobList{}, "DatasetBudget": api.DatasetBudget{},
		"ModelFeature": ledger.ModelFeature{}, "Model": ledger.Model{}, "ModelList": api.ModelList{},
		"Prediction": ledger.Prediction{}, "PredictionList": api.PredictionList{},
		"VerifyRequest": api.VerifyRequest{}, "VerifyResult": api.VerifyResult{},
		"Refusal": ledger.Refusal{}, "AnalysisList": api.AnalysisList{}, "AnalysisSpec": jobparams.Spec{},
		"AnalysisParam": jobparams.Param{}, "AnalysisExample": jobparams.Example{},
		"ValidateRequest": api.ValidateRequest{}, "Validation": api.Validation{}, "CheckedVersion": api.CheckedVersion{},
		"Share": ledger.Share{}, "ShareView": api.ShareView{}, "ShareList": api.ShareList{},
		"RecordServerInfo": api.RecordServerInfo{}, "RecordCopy": api.RecordCopy{}, "ShareCreated": api.ShareCreated{},
		"RecordRequest": recordshare.Request{}, "SignedRecordRequest": recordshare.Signed{},
		"ShareUpload": recordshare.Share{}, "ShareOpen": api.ShareOpen{},
		"Reading": device.Reading{}, "SignedReading": device.Signed{}, "ReadingOutcome": iomt.Outcome{},
		"BlockEvent": api.BlockEvent{}, "JobEvent": api.JobEvent{},
		"InstitutionVault": api.InstitutionVault{}, "VersionVault": api.VersionVault{}, "IngestSummary": api.IngestSummary{},
		"ReasonCount": api.ReasonCount{}, "RuleApplied": api.RuleApplied{}, "WorkerWrapping": api.WorkerWrapping{},
		"QuarantineView": api.QuarantineView{}, "QuarantineProblem": api.QuarantineProblem{},
		"DeviceList": api.DeviceList{}, "Device": ledger.Device{}, "Measurement": ledger.Measurement{},
		"IngestBands": iomt.BandedStats{}, "ReasonBand": iomt.BandedReasonCount{}, "StreamMessage": iomt.StreamMessage{},
	}
	for name, v := range types {
		s, ok := d.Comps.Schemas[name]
		if name == "Payload" { // described inline, inside TxEnvelope
			s.Properties = d.Comps.Schemas["TxEnvelope"].Properties["payload"].(map[string]any)["properties"].(map[string]any)
			ok = true
		}
		if !ok {
			t.Errorf("schema %s is missing", name)
			continue
		}
		want := jsonFields(reflect.TypeOf(v))
		var got []string
		for p := range s.Properties {
			got = append(got, p)
		}
		sort.Strings(want)
		sort.Strings(got)
		if !slices.Equal(got, want) {
			t.Errorf("schema %s has properties %v, Go type %T has JSON fields %v", name, got, v, want)
		}
		for _, r := range s.Required {
			if !slices.Contains(want, r) {
				t.Errorf("schema %s requires unknown property %s", name, r)
			}
		}
	}
}

// TestOpenAPITxTypes checks that the envelope's type enum lists exactly the
// ledger's transaction types.
func TestOpenAPITxTypes(t *testing.T) {
	d := loadDoc(t)
	payload := d.Comps.Schemas["TxEnvelope"].Properties["payload"].(map[string]any)["properties"].(map[string]any)
	var got, want []string
	for _, v := range payload["type"].(map[string]any)["enum"].([]any) {
		got = append(got, v.(string))
	}
	for _, tt := range ledger.TxTypes {
		want = append(want, string(tt))
	}
	sort.Strings(got)
	sort.Strings(want)
	if !slices.Equal(got, want) {
		t.Errorf("TxEnvelope payload.type enum %v, ledger.TxTypes %v", got, want)
	}
}
