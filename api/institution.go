package api

import (
	"context"
	"net/http"
	"slices"

	"github.com/medchain/medchain/ledger"
	"github.com/medchain/medchain/store"
)

// The institution console's private view: what an institution's node keeps
// in its vault about the organisation's own datasets — each version's
// ingest report (counts, rules applied) and quarantine (where and why rows
// were set aside), and how many patients are linked, as a band. It is
// answered only to a request signed (package reqsig) by an admin of the
// organisation, and only by a node holding the organisation's vault key
// (one started with a records account of it). It carries counts, field
// names, rule names and row positions: never a value, a pseudonym, a
// patient's identifier or a source file's name.

// InstitutionService is implemented by a backend that holds an
// institution's vault key (a node started with a records account).
type InstitutionService interface {
	// VaultOrg is the organisation whose vault key the node holds; ok is
	// false if it holds none.
	VaultOrg() (org string, ok bool)
	// InstitutionVault reads what the vault keeps of versions, the
	// organisation's dataset versions on the ledger.
	InstitutionVault(ctx context.Context, versions []ledger.DatasetVersion) (*InstitutionVault, error)
}

// InstitutionVault is GET /v1/orgs/{id}/vault.
type InstitutionVault struct {
	Org string `json:"org"`
	// PatientLinks is how many patients are linked to their wallets
	// (package patientlink), as a record band.
	PatientLinks string         `json:"patient_links"`
	Versions     []VersionVault `json:"versions"`
}

// VersionVault is what the vault keeps of one dataset version.
type VersionVault struct {
	Dataset string `json:"dataset"`
	Version uint64 `json:"version"`
	// Held is false when this node's vault does not hold the version (it
	// was ingested elsewhere); nothing else is then set.
	Held bool `json:"held"`
	// Rows is the exact number of rows kept (the ledger has only the band).
	Rows       uint64          `json:"rows,omitempty"`
	Report     *IngestSummary  `json:"report,omitempty"`
	Quarantine *QuarantineView `json:"quarantine,omitempty"`
	// Problem says why the version could not be read (a damaged blob, a
	// data key not wrapped to this node): names and reasons only.
	Problem string `json:"problem,omitempty"`
}

// IngestSummary is an ingest's report as sealed with its version (package
// ingest's Report, without file hashes, recipients or the vault summary).
type IngestSummary struct {
	Format          string         `json:"format"`
	Files           int            `json:"files"`
	RefDate         string         `json:"ref_date"`
	RowsRead        int            `json:"rows_read"`
	RowsKept        int            `json:"rows_kept"`
	RowsQuarantined int            `json:"rows_quarantined"`
	Quarantined     []ReasonCount  `json:"quarantined_by_reason"`
	DeidProfile     string         `json:"deid_profile"`
	Rules           []RuleApplied  `json:"rules"`
	OriginalsKept   int            `json:"originals_kept"`
	Workers         WorkerWrapping `json:"workers"`
}

// ReasonCount counts quarantined rows' problems of one kind.
type ReasonCount struct {
	Field  string `json:"field,omitempty"`
	Reason string `json:"reason"`
	Count  int    `json:"count"`
}

// RuleApplied counts the applications of one de-identification rule.
type RuleApplied struct {
	Field  string `json:"field"`
	Method string `json:"method"`
	N      uint64 `json:"n"`
}

// WorkerWrapping says to which workers' keys the data key was wrapped.
type WorkerWrapping struct {
	Registered bool `json:"registered"` // the institution's workers registered on the ledger
	Keys       int  `json:"keys"`       // how many worker keys besides the node's
}

// QuarantineView lists rows set aside at ingest: where (a row number or a
// JSON path within the N-th source file), which field and why — never the
// value or the file's name. At most MaxQuarantineShown problems are listed.
type QuarantineView struct {
	Rows     int                 `json:"rows"`
	Problems []QuarantineProblem `json:"problems"`
	More     int                 `json:"more,omitempty"` // problems not listed
}

// QuarantineProblem is one problem of a quarantined row.
type QuarantineProblem struct {
	File   string `json:"file,omitempty"` // "file 3": its position, never its name
	Where  string `json:"where"`
	Field  string `json:"field,omitempty"`
	Reason string `json:"reason"`
}

// MaxQuarantineShown bounds the problems a QuarantineView lists.
const MaxQuarantineShown = 500

func (s *Server) institutionRoutes() []route {
	return []route{
		{"GET", "/v1/orgs/{id}/vault", s.orgVault, scan},
		{"GET", "/v1/devices", s.listDevices, scan},
	}
}

// orgVault serves GET /v1/orgs/{id}/vault to a signed request by an admin of
// the organisation.
func (s *Server) orgVault(r *http.Request) (any, error) {
	org := r.PathValue("id")
	v, err := s.signedBy(r, "an organisation's ingest reports and quarantine")
	if err != nil {
		return nil, err
	}
	admin := false
	var versions []ledger.DatasetVersion
	err = s.b.View(func(rd store.ReadWriter, _ ledger.Commitment) error {
		o, err := ledger.GetOrg(rd, org)
		if err != nil || o == nil {
			return err
		}
		admin = slices.Contains(o.Admins, v.Address)
		return nil
	})
	if err != nil {
		return nil, err
	}
	if !admin {
		return nil, apiError(ledger.CodeUnauthorized, "%s is not an admin of organisation %q: its ingest reports and quarantine are shown only to its admins", v.Address, org)
	}
	is, ok := s.b.(InstitutionService)
	held := ""
	if ok {
		held, ok = is.VaultOrg()
	}
	if !ok || held != org {
		return nil, notFound("this node holds no vault key of organisation %q (an institution's node, started with a records account of it, answers)", org)
	}
	ds, err := ledger.ListDatasets(s.b)
	if err != nil {
		return nil, listError(err)
	}
	err = s.b.View(func(rd store.ReadWriter, _ ledger.Commitment) error {
		for _, d := range ds {
			if d.Org != org {
				continue
			}
			for ver := uint64(1); ver <= d.LatestVersion; ver++ {
				dv, err := ledger.GetDatasetVersion(rd, d.ID, ver)
				if err != nil {
					return err
				}
				if dv != nil {
					versions = append(versions, *dv)
				}
			}
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return is.InstitutionVault(r.Context(), versions)
}

// DeviceList is GET /v1/devices.
type DeviceList struct {
	Devices []ledger.Device `json:"devices"`
}

// listDevices lists registered devices (public ledger metadata: id, kind,
// measurements, status; never who wears one) in id order, filtered by the
// optional org query parameter.
func (s *Server) listDevices(r *http.Request) (any, error) {
	org := r.URL.Query().Get("org")
	out := []ledger.Device{}
	ds, err := ledger.ListDevices(s.b, func(d *ledger.Device) bool { return org == "" || d.Org == org })
	if err != nil {
		return nil, listError(err)
	}
	out = append(out, ds...)
	return &DeviceList{Devices: out}, nil
}
