package api

import (
	"errors"
	"io/fs"
	"net/http"
	"slices"

	"github.com/medchain/medchain/ledger"
	"github.com/medchain/medchain/store"
)

// Data deals (ledger/deals.go): the deals buyers posted, their
// acceptances, and the delivered rows' ciphertexts.

// dealRoutes are the deal endpoints (registered in routes).
func (s *Server) dealRoutes() []route {
	return []route{
		{"GET", "/v1/deals", s.listDeals, scan},
		{"GET", "/v1/deals/{id}", s.getDeal, cheap},
		{"GET", "/v1/deals/{id}/acceptances", s.listAcceptances, scan},
		{"GET", "/v1/deals/{id}/rows/{address}", s.getDealRow, scan},
		{"GET", "/v1/patients/{address}/deals", s.listPatientDeals, scan},
	}
}

// DealList is GET /v1/deals.
type DealList struct {
	Deals []ledger.Deal `json:"deals"`
}

// AcceptanceList is GET /v1/deals/{id}/acceptances and
// /v1/patients/{address}/deals.
type AcceptanceList struct {
	Acceptances []ledger.Acceptance `json:"acceptances"`
}

// DealRowBlob is GET /v1/deals/{id}/rows/{address}: one delivered record
// as the worker stored it, encrypted (age, X25519) to the deal's buyer key
// and padded to the deal's fixed size. A client checks its SHA-256 against
// the delivery's row_hash on the ledger before decrypting.
type DealRowBlob struct {
	Deal       uint64 `json:"deal"`
	Patient    string `json:"patient"`
	RowHash    string `json:"row_hash"`
	Worker     string `json:"worker"`
	Ciphertext []byte `json:"ciphertext"` // base64 in JSON
}

var dealStatuses = []string{ledger.DealOpen, ledger.DealClosed}

var acceptanceStatuses = []string{ledger.AcceptancePending, ledger.AcceptanceWithdrawn, ledger.AcceptanceDelivered, ledger.AcceptanceDeclined}

func dealParam(r *http.Request) (uint64, error) { return uintParam("id", r.PathValue("id")) }

// listDeals lists deals in id order, filtered by the optional buyer,
// status, dataset (deals that name it) and org (deals open to any of its
// datasets) query parameters.
func (s *Server) listDeals(r *http.Request) (any, error) {
	q := r.URL.Query()
	buyer, status, dataset, org := q.Get("buyer"), q.Get("status"), q.Get("dataset"), q.Get("org")
	if buyer != "" {
		var err error
		if buyer, err = hexParam("buyer", buyer, 20); err != nil {
			return nil, err
		}
	}
	if status != "" && !slices.Contains(dealStatuses, status) {
		return nil, badParam("status", "%q is not one of %v", status, dealStatuses)
	}
	deals, err := ledger.ListDeals(s.b, func(d *ledger.Deal) bool {
		return (buyer == "" || d.Buyer == buyer) && (status == "" || d.Status == status) &&
			(dataset == "" || slices.Contains(d.Datasets, dataset)) && (org == "" || d.Org == org)
	})
	if err != nil {
		return nil, listError(err)
	}
	return &DealList{Deals: deals}, nil
}

func (s *Server) getDeal(r *http.Request) (any, error) {
	id, err := dealParam(r)
	if err != nil {
		return nil, err
	}
	d, err := lookup(s, func(rd store.ReadWriter) (*ledger.Deal, error) { return ledger.GetDeal(rd, id) })
	return found(d, err, "no deal %d", id)
}

func statusFilter(r *http.Request) (string, error) {
	status := r.URL.Query().Get("status")
	if status != "" && !slices.Contains(acceptanceStatuses, status) {
		return "", badParam("status", "%q is not one of %v", status, acceptanceStatuses)
	}
	return status, nil
}

// listAcceptances lists a deal's acceptances by patient address, filtered
// by the optional status query parameter: what the data holder's worker
// delivers from and the buyer follows.
func (s *Server) listAcceptances(r *http.Request) (any, error) {
	id, err := dealParam(r)
	if err != nil {
		return nil, err
	}
	status, err := statusFilter(r)
	if err != nil {
		return nil, err
	}
	d, err := lookup(s, func(rd store.ReadWriter) (*ledger.Deal, error) { return ledger.GetDeal(rd, id) })
	if err != nil {
		return nil, err
	}
	if d == nil {
		return nil, notFound("no deal %d", id)
	}
	acc, err := ledger.ListAcceptances(s.b, id, func(a *ledger.Acceptance) bool { return status == "" || a.Status == status })
	if err != nil {
		return nil, listError(err)
	}
	return &AcceptanceList{Acceptances: acc}, nil
}

// listPatientDeals lists a patient's acceptances, by deal.
func (s *Server) listPatientDeals(r *http.Request) (any, error) {
	addr, err := addressParam(r)
	if err != nil {
		return nil, err
	}
	status, err := statusFilter(r)
	if err != nil {
		return nil, err
	}
	acc, err := ledger.ListAllAcceptances(s.b, func(a *ledger.Acceptance) bool {
		return a.Patient == addr && (status == "" || a.Status == status)
	})
	if err != nil {
		return nil, listError(err)
	}
	return &AcceptanceList{Acceptances: acc}, nil
}

// getDealRow serves a delivered record's ciphertext from this node's
// results store, where the delivering worker put it.
func (s *Server) getDealRow(r *http.Request) (any, error) {
	id, err := dealParam(r)
	if err != nil {
		return nil, err
	}
	addr, err := addressParam(r)
	if err != nil {
		return nil, err
	}
	a, err := lookup(s, func(rd store.ReadWriter) (*ledger.Acceptance, error) { return ledger.GetAcceptance(rd, id, addr) })
	if err != nil {
		return nil, err
	}
	if a == nil || a.Delivery == nil {
		return nil, notFound("deal %d has no delivered record of %s", id, addr)
	}
	src, ok := s.b.(ResultSource)
	if !ok {
		return nil, notFound("this node keeps no results")
	}
	b, err := src.ResultBlob(a.Delivery.RowHash)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, notFound("this node does not hold the record of %s delivered to deal %d (row %s)", addr, id, a.Delivery.RowHash)
	}
	if err != nil {
		return nil, err
	}
	return &DealRowBlob{Deal: id, Patient: addr, RowHash: a.Delivery.RowHash, Worker: a.Delivery.Worker, Ciphertext: b}, nil
}
