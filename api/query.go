package api

import (
	"net/http"
	"strconv"
	"strings"

	"github.com/medchain/medchain/ledger"
	"github.com/medchain/medchain/store"
)

// Reads of committed state. Each failure to parse a parameter names it;
// an absent object is not_found.

func (s *Server) txRecord(hash string) (*ledger.TxRecord, error) {
	return lookup(s, func(r store.ReadWriter) (*ledger.TxRecord, error) { return ledger.GetTxRecord(r, hash) })
}

// lookup reads one object from committed state; nil means absent.
func lookup[T any](s *Server, get func(r store.ReadWriter) (*T, error)) (*T, error) {
	var v *T
	err := s.b.View(func(r store.ReadWriter, _ ledger.Commitment) error {
		var err error
		v, err = get(r)
		return err
	})
	return v, err
}

// found turns an absent object into a not_found error.
func found[T any](v *T, err error, format string, args ...any) (any, error) {
	if err != nil {
		return nil, err
	}
	if v == nil {
		return nil, notFound(format, args...)
	}
	return v, nil
}

// Parameter parsing. Each failure names the parameter.

func hexParam(name, v string, n int) (string, error) {
	v = strings.ToLower(v)
	if len(v) != 2*n || strings.Trim(v, "0123456789abcdef") != "" {
		return "", badParam(name, "%q is not %d hex digits", v, 2*n)
	}
	return v, nil
}

// idParam reads an organisation or dataset id. The ledger's ids never
// contain '/', which keeps them from reaching into another key.
func idParam(r *http.Request) (string, error) {
	id := r.PathValue("id")
	if strings.Contains(id, "/") {
		return "", badParam("id", "%q is not an id (ids never contain '/')", id)
	}
	return id, nil
}

func addressParam(r *http.Request) (string, error) {
	return hexParam("address", r.PathValue("address"), 20)
}

func uintParam(name, v string) (uint64, error) {
	n, err := strconv.ParseUint(v, 10, 64)
	if err != nil {
		return 0, badParam(name, "%q is not a non-negative integer", v)
	}
	return n, nil
}

func heightParam(name, v string, min int64) (int64, error) {
	n, err := strconv.ParseInt(v, 10, 64)
	if err != nil || n < min {
		return 0, badParam(name, "%q is not a block height (an integer >= %d)", v, min)
	}
	return n, nil
}

func requiredQuery(r *http.Request, name string) (string, error) {
	v := r.URL.Query().Get(name)
	if v == "" {
		return "", badParam(name, "required query parameter is missing")
	}
	return v, nil
}

func (s *Server) getTx(r *http.Request) (any, error) {
	hash, err := hexParam("hash", r.PathValue("hash"), 32)
	if err != nil {
		return nil, err
	}
	rec, err := s.txRecord(hash)
	return found(rec, err, "no committed transaction %s", hash)
}

func (s *Server) getAccount(r *http.Request) (any, error) {
	addr, err := addressParam(r)
	if err != nil {
		return nil, err
	}
	a, err := lookup(s, func(rd store.ReadWriter) (*ledger.Account, error) { return ledger.GetAccount(rd, addr) })
	return found(a, err, "no account %s", addr)
}

// listError reports a ledger listing failure (an unreadable stored value
// or store) as an internal error.
func listError(err error) error {
	if _, ok := err.(*Error); ok {
		return err
	}
	return apiError(ledger.CodeInternal, "%v", err)
}

// OrgList is GET /v1/orgs.
type OrgList struct {
	Orgs []ledger.Org `json:"orgs"`
}

func (s *Server) listOrgs(*http.Request) (any, error) {
	orgs, err := ledger.ListOrgs(s.b)
	if err != nil {
		return nil, listError(err)
	}
	return &OrgList{Orgs: orgs}, nil
}

func (s *Server) getOrg(r *http.Request) (any, error) {
	id, err := idParam(r)
	if err != nil {
		return nil, err
	}
	o, err := lookup(s, func(rd store.ReadWriter) (*ledger.Org, error) { return ledger.GetOrg(rd, id) })
	return found(o, err, "organisation %q does not exist", id)
}

// DatasetInfo is a catalogue entry: the dataset, its latest version's
// metadata and its policy (absent until set). Versions lists every version,
// oldest first, in GET /v1/datasets/{id} only.
type DatasetInfo struct {
	ledger.Dataset
	Latest   *ledger.DatasetVersion  `json:"latest"`
	Policy   *ledger.Policy          `json:"policy,omitempty"`
	Versions []ledger.DatasetVersion `json:"versions,omitempty"`
}

// DatasetList is GET /v1/datasets.
type DatasetList struct {
	Datasets []DatasetInfo `json:"datasets"`
}

func datasetInfo(r store.Reader, id string, versions bool) (*DatasetInfo, error) {
	ds, err := ledger.GetDataset(r, id)
	if err != nil || ds == nil {
		return nil, err
	}
	info := &DatasetInfo{Dataset: *ds}
	if info.Latest, err = ledger.GetDatasetVersion(r, id, ds.LatestVersion); err != nil {
		return nil, err
	}
	if info.Policy, err = ledger.GetPolicy(r, id); err != nil {
		return nil, err
	}
	for v := uint64(1); versions && v <= ds.LatestVersion; v++ {
		dv, err := ledger.GetDatasetVersion(r, id, v)
		if err != nil {
			return nil, err
		}
		if dv == nil {
			return nil, apiError(ledger.CodeInternal, "dataset %q: version %d missing", id, v)
		}
		info.Versions = append(info.Versions, *dv)
	}
	return info, nil
}

func (s *Server) listDatasets(*http.Request) (any, error) {
	heads, err := ledger.ListDatasets(s.b)
	if err != nil {
		return nil, listError(err)
	}
	// Read the details in one view, so every entry is of the same height.
	out := &DatasetList{Datasets: make([]DatasetInfo, 0, len(heads))}
	err = s.b.View(func(r store.ReadWriter, _ ledger.Commitment) error {
		for _, h := range heads {
			info, err := datasetInfo(r, h.ID, false)
			if err != nil {
				return err
			}
			if info != nil {
				out.Datasets = append(out.Datasets, *info)
			}
		}
		return nil
	})
	return out, err
}

func (s *Server) getDataset(r *http.Request) (any, error) {
	id, err := idParam(r)
	if err != nil {
		return nil, err
	}
	info, err := lookup(s, func(rd store.ReadWriter) (*DatasetInfo, error) { return datasetInfo(rd, id, true) })
	return found(info, err, "dataset %q does not exist", id)
}

func (s *Server) getDatasetVersion(r *http.Request) (any, error) {
	id, err := idParam(r)
	if err != nil {
		return nil, err
	}
	v, err := uintParam("version", r.PathValue("version"))
	if err != nil {
		return nil, err
	}
	if v == 0 {
		return nil, badParam("version", "versions start at 1")
	}
	dv, err := lookup(s, func(rd store.ReadWriter) (*ledger.DatasetVersion, error) { return ledger.GetDatasetVersion(rd, id, v) })
	return found(dv, err, "dataset %q has no version %d", id, v)
}

func (s *Server) getPolicy(r *http.Request) (any, error) {
	id, err := idParam(r)
	if err != nil {
		return nil, err
	}
	var ds *ledger.Dataset
	p, err := lookup(s, func(rd store.ReadWriter) (*ledger.Policy, error) {
		var err error
		if ds, err = ledger.GetDataset(rd, id); err != nil || ds == nil {
			return nil, err
		}
		return ledger.GetPolicy(rd, id)
	})
	if err == nil && ds == nil {
		return nil, notFound("dataset %q does not exist", id)
	}
	return found(p, err, "dataset %q has no policy yet", id)
}

// AccessRequestList is GET /v1/access-requests.
type AccessRequestList struct {
	AccessRequests []ledger.AccessRequest `json:"access_requests"`
}

// listAccessRequests lists requests in id order, filtered by the optional
// dataset, requester and status query parameters.
func (s *Server) listAccessRequests(r *http.Request) (any, error) {
	q := r.URL.Query()
	dataset, status := q.Get("dataset"), q.Get("status")
	requester := q.Get("requester")
	if requester != "" {
		var err error
		if requester, err = hexParam("requester", requester, 20); err != nil {
			return nil, err
		}
	}
	switch status {
	case "", ledger.AccessPending, ledger.AccessGranted, ledger.AccessDenied:
	default:
		return nil, badParam("status", "%q is not one of pending, granted, denied", status)
	}
	reqs, err := ledger.ListAccessRequests(s.b, func(a *ledger.AccessRequest) bool {
		return (dataset == "" || a.Dataset == dataset) && (requester == "" || a.Requester == requester) &&
			(status == "" || a.Status == status)
	})
	if err != nil {
		return nil, listError(err)
	}
	return &AccessRequestList{AccessRequests: reqs}, nil
}

func (s *Server) getAccessRequest(r *http.Request) (any, error) {
	id, err := uintParam("id", r.PathValue("id"))
	if err != nil {
		return nil, err
	}
	a, err := lookup(s, func(rd store.ReadWriter) (*ledger.AccessRequest, error) { return ledger.GetAccessRequest(rd, id) })
	return found(a, err, "no access request %d", id)
}

// stateProof proves a state key's value, or its absence, under the latest
// commitment. The client checks it against the signed header at
// commitment.height+1.
func (s *Server) stateProof(r *http.Request) (any, error) {
	key, err := requiredQuery(r, "key")
	if err != nil {
		return nil, err
	}
	if !strings.HasPrefix(key, string(ledger.StatePrefix)) {
		return nil, badParam("key", "%q is not a state key (state keys start with %q, e.g. s/acct/<address>)", key, ledger.StatePrefix)
	}
	if patient, ok := ledger.ConsentKeyPatient([]byte(key)); ok {
		if err := s.mayProveConsentKey(r, key, patient); err != nil {
			return nil, err
		}
	}
	var p *ledger.StateProof
	err = s.b.View(func(rd store.ReadWriter, c ledger.Commitment) error {
		var err error
		p, err = ledger.ProveState(rd, c, []byte(key))
		return err
	})
	return p, err
}

func (s *Server) getCommitment(r *http.Request) (any, error) {
	h, err := heightParam("height", r.PathValue("height"), 0)
	if err != nil {
		return nil, err
	}
	var c *ledger.Commitment
	var latest int64
	err = s.b.View(func(rd store.ReadWriter, last ledger.Commitment) error {
		latest = last.Height
		c, err = ledger.GetCommitment(rd, h)
		return err
	})
	return found(c, err, "no commitment at height %d (latest is %d)", h, latest)
}

func (s *Server) getHeader(r *http.Request) (any, error) {
	h, err := heightParam("height", r.PathValue("height"), 1)
	if err != nil {
		return nil, err
	}
	var latest int64
	if err := s.b.View(func(_ store.ReadWriter, c ledger.Commitment) error { latest = c.Height; return nil }); err != nil {
		return nil, err
	}
	if h > latest {
		return nil, notFound("no block at height %d yet (latest is %d)", h, latest)
	}
	sh, err := s.b.SignedHeader(r.Context(), h)
	if err != nil {
		return nil, apiError(ledger.CodeInternal, "signed header %d: %v", h, err)
	}
	return sh, nil
}
