package api

import (
	"errors"
	"net/http"
	"slices"
	"strings"

	"github.com/medchain/medchain/ledger"
	"github.com/medchain/medchain/reqsig"
	"github.com/medchain/medchain/store"
	"github.com/medchain/medchain/vocab"
)

// Consents are listed only to those who need them: the patient who gave
// them, on a request signed with the patient's key, and the data holder —
// its compute worker or an admin of its organisation — for the consents
// whose scope concerns it (one of its datasets, the organisation itself,
// or every institution). Anyone else, and any unsigned request, is
// refused. The ledger keeps every consent (its validators decide consent
// transactions on them); docs/patients.md says what remains visible.

// viewer is who signed a request, as the ledger knows them.
type viewer struct {
	Address string
	// Org is set when the signer speaks for a data holder: a worker
	// account of the organisation, or an institution account among its
	// admins.
	Org      string
	Datasets map[string]bool // the ids of Org's datasets
	Patient  bool            // a registered patient account
}

// mayRead decides whether v may read consent c: a pure function of the
// viewer and the consent.
func mayRead(v *viewer, c *ledger.Consent) bool {
	if c.Patient == v.Address {
		return true
	}
	if v.Org == "" {
		return false
	}
	switch c.Scope.Kind {
	case ledger.ScopeAll:
		return true
	case ledger.ScopeInstitution:
		return c.Scope.ID == v.Org
	case ledger.ScopeDataset:
		return v.Datasets[c.Scope.ID]
	}
	return false
}

// signedBy verifies r's request signature (package reqsig: once, within
// the clock window, for this chain and host) and says who signed it.
func (s *Server) signedBy(r *http.Request, what string) (*viewer, error) {
	pub, err := s.guard.Check(r, nil)
	if err != nil {
		var e *reqsig.Error
		if !errors.As(err, &e) {
			return nil, err
		}
		switch e.Kind {
		case reqsig.Replayed:
			return nil, apiError(ledger.CodeReplayed, "%s: %s", what, e.Msg)
		case reqsig.Busy:
			return nil, rateLimited("%s: %s", what, e.Msg)
		}
		return nil, apiError(ledger.CodeUnauthenticated, "%s are listed only to a signed request — by the patient who gave them, or by the worker or an admin of the institution they concern (docs/patients.md): %s", what, e.Msg)
	}
	v := &viewer{Address: vocab.Address(pub)}
	err = s.b.View(func(rd store.ReadWriter, _ ledger.Commitment) error {
		a, err := ledger.GetAccount(rd, v.Address)
		if err != nil || a == nil {
			return err
		}
		v.Patient = a.Kind == ledger.KindPatient
		if a.Org == "" {
			return nil
		}
		switch a.Kind {
		case ledger.KindWorker:
		case ledger.KindInstitution:
			o, err := ledger.GetOrg(rd, a.Org)
			if err != nil || o == nil || !slices.Contains(o.Admins, a.Address) {
				return err
			}
		default:
			return nil
		}
		v.Org, v.Datasets = a.Org, map[string]bool{}
		return nil
	})
	if err != nil {
		return nil, err
	}
	if v.Org != "" {
		ds, err := ledger.ListDatasets(s.b)
		if err != nil {
			return nil, listError(err)
		}
		for _, d := range ds {
			if d.Org == v.Org {
				v.Datasets[d.ID] = true
			}
		}
	}
	return v, nil
}

// forbidden is the answer to a signed request for consents the signer may
// not read.
func forbidden(v *viewer, what string) error {
	return apiError(ledger.CodeUnauthorized, "%s: %s may not read them — consents are listed to the patient who gave them and to the worker or admins of the institution they concern", what, v.Address)
}

// ConsentList is GET /v1/patients/{address}/consents: the patient's own
// consents (signed by the patient), or those of them that concern the
// signing data holder.
type ConsentList struct {
	Patient  string           `json:"patient"`
	Consents []ledger.Consent `json:"consents"`
}

func (s *Server) listConsents(r *http.Request) (any, error) {
	addr, err := addressParam(r)
	if err != nil {
		return nil, err
	}
	v, err := s.signedBy(r, "consents")
	if err != nil {
		return nil, err
	}
	if v.Address != addr && v.Org == "" {
		return nil, forbidden(v, "the consents of "+addr)
	}
	out := &ConsentList{Patient: addr, Consents: []ledger.Consent{}}
	var all []ledger.Consent
	err = s.b.View(func(rd store.ReadWriter, _ ledger.Commitment) error {
		var err error
		all, err = ledger.GetConsents(rd, addr)
		return err
	})
	for i := range all {
		if mayRead(v, &all[i]) {
			out.Consents = append(out.Consents, all[i])
		}
	}
	return out, err
}

// ConsentPage is GET /v1/consents: the consents the signer may read, in
// state key order (by patient address, then oldest first), a page at a
// time: a patient's own; for a data holder's worker or admin, every
// consent that concerns the institution (the worker reads them once per
// run instead of asking per patient). Any other signer is refused. Next,
// when set, is the after= value of the following page.
type ConsentPage struct {
	Consents []ledger.Consent `json:"consents"`
	Next     string           `json:"next,omitempty"`
}

// Page sizes of GET /v1/consents.
const (
	DefaultConsentPage = 10_000
	MaxConsentPage     = 100_000
)

func (s *Server) listAllConsents(r *http.Request) (any, error) {
	q := r.URL.Query()
	after := q.Get("after")
	limit := uint64(DefaultConsentPage)
	if v := q.Get("limit"); v != "" {
		var err error
		if limit, err = uintParam("limit", v); err != nil {
			return nil, err
		}
		if limit == 0 || limit > MaxConsentPage {
			return nil, badParam("limit", "%d is not between 1 and %d", limit, MaxConsentPage)
		}
	}
	v, err := s.signedBy(r, "consents")
	if err != nil {
		return nil, err
	}
	if v.Org == "" && !v.Patient {
		return nil, forbidden(v, "the list of consents")
	}
	consents, next, err := ledger.ListConsentsWhere(s.b, after, int(limit), func(c *ledger.Consent) bool { return mayRead(v, c) })
	if errors.Is(err, ledger.ErrBadCursor) {
		return nil, badParam("after", "%q is not a consent key (the next value of the previous page)", after)
	}
	if err != nil {
		return nil, listError(err)
	}
	return &ConsentPage{Consents: consents, Next: next}, nil
}

// mayProveConsentKey decides GET /v1/state/proof for a consent key: the
// patient may prove any of their own; a data holder a consent that
// concerns it (not a count, which says how many decisions a wallet made).
func (s *Server) mayProveConsentKey(r *http.Request, key, patient string) error {
	v, err := s.signedBy(r, "state proofs of consents")
	if err != nil {
		return err
	}
	if v.Address == patient {
		return nil
	}
	if v.Org != "" && strings.HasPrefix(key, "s/consent/") {
		var c *ledger.Consent
		err := s.b.View(func(rd store.ReadWriter, _ ledger.Commitment) error {
			var err error
			c, err = getConsentByKey(rd, key)
			return err
		})
		if err != nil {
			return err
		}
		// An absent consent is refused like another's: a proof of absence
		// would tell how many consents the wallet has.
		if c != nil && mayRead(v, c) {
			return nil
		}
	}
	return forbidden(v, "the state proof of "+key)
}

func getConsentByKey(rd store.Reader, key string) (*ledger.Consent, error) {
	b, err := rd.Get([]byte(key))
	if err != nil || b == nil {
		return nil, err
	}
	var c ledger.Consent
	if err := ledger.DecodeState(b, &c); err != nil {
		return nil, err
	}
	return &c, nil
}
