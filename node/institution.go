package node

import (
	"context"
	"errors"
	"fmt"

	"github.com/medchain/medchain/api"
	"github.com/medchain/medchain/ingest"
	"github.com/medchain/medchain/ledger"
	"github.com/medchain/medchain/vault"
)

// institutionVault is what a node started with a records account reads for
// its institution's console (GET /v1/orgs/{id}/vault): the organisation's
// vault, opened with the node key derived from the account's key.
type institutionVault struct {
	v    *vault.Vault
	org  string
	node *vault.Identity
}

var _ api.InstitutionService = (*Node)(nil)

// VaultOrg implements api.InstitutionService.
func (n *Node) VaultOrg() (string, bool) {
	if n.instVault == nil {
		return "", false
	}
	return n.instVault.org, true
}

// InstitutionVault implements api.InstitutionService.
func (n *Node) InstitutionVault(ctx context.Context, versions []ledger.DatasetVersion) (*api.InstitutionVault, error) {
	iv := n.instVault
	if iv == nil {
		return nil, errNoRecords
	}
	out := &api.InstitutionVault{Org: iv.org, Versions: []api.VersionVault{}}
	links, err := iv.v.Links(iv.org, iv.node)
	if err != nil {
		return nil, fmt.Errorf("patient links of %s: %w", iv.org, err)
	}
	out.PatientLinks = vault.RecordBand(uint64(len(links.Links)))
	for _, dv := range versions {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		out.Versions = append(out.Versions, iv.version(dv))
	}
	return out, nil
}

// version reads one version's exact row count, sealed ingest report and
// quarantine. A version the vault does not hold is reported as not held; one
// it cannot read, with the vault's reason (which names the dataset, version
// and part, never data).
func (iv *institutionVault) version(dv ledger.DatasetVersion) api.VersionVault {
	out := api.VersionVault{Dataset: dv.Dataset, Version: dv.Version}
	if !iv.v.Has(dv.Dataset, dv.Version) {
		return out
	}
	out.Held = true
	r, err := iv.v.Open(dv.Dataset, dv.Version, dv.ContentRoot, iv.node)
	if err != nil {
		if errors.Is(err, vault.ErrNotFound) {
			out.Held = false
			return out
		}
		out.Problem = err.Error()
		return out
	}
	out.Rows = r.NumRows()
	rep, err := ingest.ReadReport(r)
	if err != nil {
		out.Problem = err.Error()
		return out
	}
	if rep != nil {
		out.Report = ingestSummary(rep)
	}
	q, err := r.Quarantine()
	if err != nil {
		out.Problem = err.Error()
		return out
	}
	if q != nil {
		out.Quarantine = quarantineView(q)
	}
	return out
}

// ingestSummary keeps of an ingest report the counts and rules: not the
// source files' hashes or the recipients' keys.
func ingestSummary(r *ingest.Report) *api.IngestSummary {
	s := &api.IngestSummary{Format: string(r.Format), Files: r.Files, RefDate: r.RefDate, RowsRead: r.RowsRead,
		RowsKept: r.RowsKept, RowsQuarantined: r.RowsQuarantined, DeidProfile: r.DeidProfile, OriginalsKept: r.OriginalsKept,
		Quarantined: []api.ReasonCount{}, Rules: []api.RuleApplied{},
		Workers: api.WorkerWrapping{Registered: r.RegisteredWorkers, Keys: max(0, len(r.Recipients)-1)}}
	for _, q := range r.Quarantined {
		s.Quarantined = append(s.Quarantined, api.ReasonCount{Field: q.Field, Reason: q.Reason, Count: q.Count})
	}
	for _, c := range r.Deid {
		s.Rules = append(s.Rules, api.RuleApplied{Field: c.Field, Method: c.Method, N: uint64(c.N)})
	}
	return s
}

// quarantineView lists where and why rows were set aside. An input error's
// Source is the file's position ("file 3") as ingest writes it, never its
// name; Reason never repeats the value (record.InputError).
func quarantineView(q *vault.Quarantine) *api.QuarantineView {
	v := &api.QuarantineView{Rows: q.Rows, Problems: []api.QuarantineProblem{}}
	for i, p := range q.Problems {
		if i == api.MaxQuarantineShown {
			v.More = len(q.Problems) - i
			break
		}
		v.Problems = append(v.Problems, api.QuarantineProblem{File: p.Source, Where: p.Where, Field: p.Field, Reason: p.Reason})
	}
	return v
}
