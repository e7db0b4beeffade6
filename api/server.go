package api

import (
	"context"
	_ "embed"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"time"

	"github.com/medchain/medchain/ledger"
)

// Server routes /v1/ requests to a Backend.
type Server struct {
	b   Backend
	mux *http.ServeMux
}

// NewServer builds the API over a backend.
func NewServer(b Backend) *Server {
	s := &Server{b: b, mux: http.NewServeMux()}
	for _, rt := range s.routes() {
		s.mux.HandleFunc(rt.method+" "+rt.path, handler(rt.fn))
	}
	s.mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		writeErr(w, apiError(ledger.CodeNotFound, "no such endpoint: %s %s (see /v1/openapi.json)", r.Method, r.URL.Path))
	})
	return s
}

// Handler is the server's http.Handler.
func (s *Server) Handler() http.Handler { return s.mux }

// Error is the API's error body: {"error": {"code": ..., "name": ..., "message": ...}}.
// Code is the ledger result code (CodeInvalidField for a bad parameter,
// CodeNotFound for a missing object or endpoint); the HTTP status follows
// from it in httpStatus. Param names the offending path or query parameter.
type Error struct {
	Code    ledger.Code `json:"code"`
	Name    string      `json:"name"`
	Message string      `json:"message"`
	Param   string      `json:"param,omitempty"`
}

func (e *Error) Error() string { return e.Name + ": " + e.Message }

// httpStatus is the one place ledger codes become HTTP statuses.
func httpStatus(c ledger.Code) int {
	switch c {
	case ledger.CodeOK:
		return http.StatusOK
	case ledger.CodeNotFound, ledger.CodeUnknownAccount:
		return http.StatusNotFound
	case ledger.CodeUnauthorized, ledger.CodeBadSignature, ledger.CodeWrongChain:
		return http.StatusForbidden
	case ledger.CodeAlreadyExists, ledger.CodeBadNonce, ledger.CodeInvalidState, ledger.CodeBudgetExhausted:
		return http.StatusConflict
	case ledger.CodeOversize:
		return http.StatusRequestEntityTooLarge
	case ledger.CodeRateLimited:
		return http.StatusTooManyRequests
	case ledger.CodeInternal:
		return http.StatusInternalServerError
	}
	return http.StatusBadRequest
}

func apiError(c ledger.Code, format string, args ...any) *Error {
	return &Error{Code: c, Name: c.String(), Message: fmt.Sprintf(format, args...)}
}

// badParam reports a malformed path or query parameter.
func badParam(name, format string, args ...any) *Error {
	e := apiError(ledger.CodeInvalidField, "%s: %s", name, fmt.Sprintf(format, args...))
	e.Param = name
	return e
}

func notFound(format string, args ...any) *Error {
	return apiError(ledger.CodeNotFound, format, args...)
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	enc.SetEscapeHTML(false)
	enc.Encode(v)
}

func writeErr(w http.ResponseWriter, err error) {
	var e *Error
	if !errors.As(err, &e) {
		var le *ledger.Error
		if errors.As(err, &le) {
			e = apiError(le.Code, "%s", le.Msg)
		} else {
			e = apiError(ledger.CodeInternal, "%v", err)
		}
	}
	writeJSON(w, httpStatus(e.Code), map[string]*Error{"error": e})
}

// statuser lets a response choose a success status other than 200.
type statuser interface{ httpStatus() int }

// handler adapts a function returning (value, error) to http.HandlerFunc.
func handler(fn func(r *http.Request) (any, error)) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		v, err := fn(r)
		if err != nil {
			writeErr(w, err)
			return
		}
		status := http.StatusOK
		if s, ok := v.(statuser); ok {
			status = s.httpStatus()
		}
		writeJSON(w, status, v)
	}
}

type route struct {
	method, path string
	fn           func(r *http.Request) (any, error)
}

// routes is the API. openapi.json describes exactly these (a test checks).
func (s *Server) routes() []route {
	return []route{
		{"GET", "/v1/openapi.json", s.openAPI},
		{"GET", "/v1/status", s.status},
		{"POST", "/v1/txs", s.submitTx},
		{"GET", "/v1/txs/{hash}", s.getTx},
		{"GET", "/v1/accounts/{address}", s.getAccount},
		{"GET", "/v1/orgs", s.listOrgs},
		{"GET", "/v1/orgs/{id}", s.getOrg},
		{"GET", "/v1/datasets", s.listDatasets},
		{"GET", "/v1/datasets/{id}", s.getDataset},
		{"GET", "/v1/datasets/{id}/versions/{version}", s.getDatasetVersion},
		{"GET", "/v1/datasets/{id}/policy", s.getPolicy},
		{"GET", "/v1/datasets/{id}/budget", s.getBudget},
		{"GET", "/v1/patients/{address}/consents", s.listConsents},
		{"GET", "/v1/consents", s.listAllConsents},
		{"GET", "/v1/access-requests", s.listAccessRequests},
		{"GET", "/v1/access-requests/{id}", s.getAccessRequest},
		{"GET", "/v1/workers", s.listWorkers},
		{"GET", "/v1/workers/{address}", s.getWorker},
		{"GET", "/v1/jobs", s.listJobs},
		{"GET", "/v1/jobs/{id}", s.getJob},
		{"GET", "/v1/jobs/{id}/study", s.getStudy},
		{"GET", "/v1/results/{job}/{dataset}", s.getResult},
		{"GET", "/v1/models", s.listModels},
		{"GET", "/v1/models/{id}", s.getModel},
		{"GET", "/v1/models/{id}/predictions", s.listPredictions},
		{"POST", "/v1/models/{id}/verify", s.verifyPrediction},
		{"GET", "/v1/state/proof", s.stateProof},
		{"GET", "/v1/commitments/{height}", s.getCommitment},
		{"GET", "/v1/headers/{height}", s.getHeader},
		{"GET", "/v1/audit/entries/{index}", s.auditEntry},
		{"GET", "/v1/audit/inclusion", s.auditInclusion},
		{"GET", "/v1/audit/consistency", s.auditConsistency},
	}
}

//go:embed openapi.json
var openAPIDoc []byte

func (s *Server) openAPI(*http.Request) (any, error) { return json.RawMessage(openAPIDoc), nil }

func (s *Server) status(r *http.Request) (any, error) { return s.b.Status(r.Context()) }

// TxSubmitted is the answer to POST /v1/txs. Result is set once the
// transaction is committed (with ?wait=commit); until then the status is
// 202 Accepted.
type TxSubmitted struct {
	Hash   string           `json:"hash"`
	Result *ledger.TxRecord `json:"result,omitempty"`
}

func (t *TxSubmitted) httpStatus() int {
	if t.Result == nil {
		return http.StatusAccepted
	}
	return http.StatusOK
}

// maxBody bounds request bodies: a transaction plus JSON framing.
const maxBody = ledger.MaxTxBytes + 1024

// commitWait bounds how long ?wait=commit waits.
const commitWait = 30 * time.Second

// submitTx accepts a signed transaction as the request body (its wire JSON)
// and broadcasts it; a rejection carries the ledger's code and reason.
// ?wait=commit waits (up to 30 s) for the transaction to be committed and
// returns its result.
func (s *Server) submitTx(r *http.Request) (any, error) {
	body, err := io.ReadAll(io.LimitReader(r.Body, maxBody+1))
	if err != nil {
		return nil, apiError(ledger.CodeMalformed, "read body: %v", err)
	}
	if len(body) > maxBody {
		return nil, apiError(ledger.CodeOversize, "request body exceeds %d bytes (transactions are limited to %d)", maxBody, ledger.MaxTxBytes)
	}
	switch wait := r.URL.Query().Get("wait"); wait {
	case "", "commit":
	default:
		return nil, badParam("wait", "%q is not a wait mode (use wait=commit, or leave it out)", wait)
	}
	out := &TxSubmitted{Hash: ledger.TxHash(body)}
	// The backend's broadcast runs the mempool's checks first (decoding,
	// signature, nonce against committed state) on this goroutine, with
	// the node's transaction cache, so a rejection carries its precise
	// reason and the signature is verified once per node.
	res, err := s.b.Broadcast(r.Context(), body)
	switch {
	case errors.Is(err, ErrTxInCache):
		// The mempool already holds these exact bytes: submitting is
		// idempotent, so answer as for the first submission.
	case err != nil:
		return nil, apiError(ledger.CodeInternal, "broadcast: %v", err)
	case res.Code == ledger.CodeBadNonce:
		if rec, _ := s.txRecord(out.Hash); rec != nil {
			return nil, apiError(ledger.CodeBadNonce, "%s (this exact transaction was committed at height %d)", res.Log, rec.Height)
		}
		return nil, apiError(res.Code, "%s", res.Log)
	case res.Code != ledger.CodeOK:
		return nil, apiError(res.Code, "%s", res.Log)
	}
	if r.URL.Query().Get("wait") != "commit" {
		return out, nil
	}
	ctx, cancel := context.WithTimeout(r.Context(), commitWait)
	defer cancel()
	t := time.NewTicker(50 * time.Millisecond)
	defer t.Stop()
	for {
		rec, err := s.txRecord(out.Hash)
		if err != nil {
			return nil, err
		}
		if rec != nil {
			out.Result = rec
			return out, nil
		}
		select {
		case <-ctx.Done():
			return out, nil // 202: accepted, not yet committed
		case <-t.C:
		}
	}
}
