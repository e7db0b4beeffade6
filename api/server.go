package api

import (
	"context"
	_ "embed"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"slices"
	"time"

	"github.com/medchain/medchain/ledger"
	"github.com/medchain/medchain/reqsig"
)

// Server routes /v1/ requests to a Backend.
type Server struct {
	b     Backend
	mux   *http.ServeMux
	obs   Observer
	guard *reqsig.Guard // signed requests (the consent routes)
	plan  StudyPlanner
	// streams bounds the open GET /v1/events streams.
	streams eventStreams
}

// Config adjusts a Server.
type Config struct {
	// Limits bound the costly routes (see Limits); the zero value limits
	// nothing.
	Limits Limits
	// Observer, if set, sees every answer.
	Observer Observer
	// Now is the limiters' clock; nil means time.Now (tests set it).
	Now func() time.Time
	// PlanStudy, if set, declares the pooled study of a job that needs one,
	// for POST /v1/jobs/validate to return (the node sets compute's
	// planner; the API cannot import it).
	PlanStudy StudyPlanner
	// EventStreams bounds the GET /v1/events streams open at once (0:
	// DefaultEventStreams).
	EventStreams int
}

// StudyPlanner declares the study (the secure-aggregation spec) of a job
// whose analysis is fitted as one pooled model across its datasets, from the
// first dataset's schema, or returns nil when the job needs none. A browser
// cannot run it (it needs the analysis formula parser and the plausible
// ranges of normalize), so validate returns what the CLI would sign.
type StudyPlanner func(job *ledger.SubmitJob, schema []ledger.Field) (*ledger.StudyRequest, error)

// Observer sees each answer the server gives: the route pattern that
// matched (never the request path, which carries ids and addresses), the
// HTTP status and the time taken.
type Observer interface {
	ObserveRequest(route string, status int, d time.Duration)
}

// NewServer builds the API over a backend.
func NewServer(b Backend, c Config) *Server {
	s := &Server{b: b, mux: http.NewServeMux(), obs: c.Observer, plan: c.PlanStudy}
	now := c.Now
	if now == nil {
		now = time.Now
	}
	s.guard = &reqsig.Guard{Now: now}
	s.streams.max = int64(c.EventStreams)
	if s.streams.max <= 0 {
		s.streams.max = DefaultEventStreams
	}
	if b != nil {
		s.guard.ChainID = b.ChainID()
	}
	limiters := map[class]*limiter{
		verify: newLimiter("verify", c.Limits.Verify, now),
		submit: newLimiter("submit", c.Limits.Submit, now),
		scan:   newLimiter("scan", c.Limits.Scan, now),
		stream: newLimiter("events", Limit{Rate: c.Limits.Scan.Rate, Burst: c.Limits.Scan.Burst}, now),
	}
	for _, rt := range s.routes() {
		pattern := rt.method + " " + rt.path
		var h http.Handler = handler(rt.fn)
		if rt.fn == nil {
			// A streamed answer, not one JSON value (GET /v1/events).
			h = http.HandlerFunc(s.events)
		}
		if d := longAnswers[pattern]; d > 0 {
			h = extendWrite(d, h)
		}
		if l := limiters[rt.class]; l != nil {
			h = l.wrap(h)
		}
		s.mux.Handle(pattern, h)
	}
	s.mux.HandleFunc(NotFoundPattern, func(w http.ResponseWriter, r *http.Request) {
		writeErr(w, apiError(ledger.CodeNotFound, "no such endpoint: %s %s (see /v1/openapi.json)", r.Method, r.URL.Path))
	})
	return s
}

// NotFoundPattern is the pattern of every request no route matches.
const NotFoundPattern = "/"

// RoutePatterns lists every pattern a request can match ("GET /v1/jobs/{id}",
// and NotFoundPattern): the closed set of route labels.
func RoutePatterns() []string {
	out := []string{NotFoundPattern}
	for _, r := range (&Server{}).routes() {
		out = append(out, r.method+" "+r.path)
	}
	return out
}

// Handler is the server's http.Handler.
func (s *Server) Handler() http.Handler {
	if s.obs == nil {
		return s.mux
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		sw := &statusWriter{ResponseWriter: w, status: http.StatusOK}
		s.mux.ServeHTTP(sw, r)
		// The mux sets r.Pattern to the pattern it matched.
		s.obs.ObserveRequest(r.Pattern, sw.status, time.Since(start))
	})
}

// statusWriter remembers the status a handler wrote.
type statusWriter struct {
	http.ResponseWriter
	status int
}

func (w *statusWriter) WriteHeader(code int) {
	w.status = code
	w.ResponseWriter.WriteHeader(code)
}

// Unwrap lets http.ResponseController reach the connection (submitTx
// extends its write deadline).
func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// Error is the API's error body: {"error": {"code": ..., "name": ..., "message": ...}}.
// Code is the ledger result code (CodeInvalidField for a bad parameter,
// CodeNotFound for a missing object or endpoint); the HTTP status follows
// from it in httpStatus. Param names the offending path or query parameter.
type Error struct {
	Code    ledger.Code `json:"code"`
	Name    string      `json:"name"`
	Message string      `json:"message"`
	Param   string      `json:"param,omitempty"`
	// Reason and Column detail a job's params that do not fit a dataset
	// (POST /v1/jobs/validate): the jobparams code and the schema column.
	Reason string `json:"reason,omitempty"`
	Column string `json:"column,omitempty"`
}

func (e *Error) Error() string { return e.Name + ": " + e.Message }

// httpStatus is the one place ledger codes become HTTP statuses.
func httpStatus(c ledger.Code) int {
	switch c {
	case ledger.CodeOK:
		return http.StatusOK
	case ledger.CodeNotFound, ledger.CodeUnknownAccount:
		return http.StatusNotFound
	case ledger.CodeUnauthorized, ledger.CodeBadSignature, ledger.CodeWrongChain, ledger.CodeAccountSuspended, ledger.CodeCodeNotApproved:
		return http.StatusForbidden
	case ledger.CodeAlreadyExists, ledger.CodeBadNonce, ledger.CodeInvalidState, ledger.CodeBudgetExhausted,
		ledger.CodeDealFull, ledger.CodeAlreadyDelivered:
		return http.StatusConflict
	case ledger.CodeOversize:
		return http.StatusRequestEntityTooLarge
	case ledger.CodeRateLimited:
		return http.StatusTooManyRequests
	case ledger.CodeWrongPasscode:
		return http.StatusUnauthorized
	case ledger.CodeShareRevoked, ledger.CodeShareClosed, ledger.CodeShareLocked:
		return http.StatusGone
	case ledger.CodeUnauthenticated, ledger.CodeReplayed:
		return http.StatusUnauthorized
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
	status := httpStatus(e.Code)
	if status == http.StatusUnauthorized {
		// RFC 9110: a 401 names the scheme that would be accepted.
		w.Header().Set("WWW-Authenticate", reqsig.Scheme)
	}
	writeJSON(w, status, map[string]*Error{"error": e})
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
	// fn answers with one JSON value; nil for the one streamed route,
	// GET /v1/events (events.go).
	fn    func(r *http.Request) (any, error)
	class class // which limit applies (cheap: none)
}

// routes is the API. openapi.json describes exactly these (a test checks).
func (s *Server) routes() []route {
	return slices.Concat([]route{
		{"GET", "/v1/openapi.json", s.openAPI, cheap},
		{"GET", "/v1/status", s.status, cheap},
		{"GET", "/v1/events", nil, stream},
		{"POST", "/v1/txs", s.submitTx, submit},
		{"GET", "/v1/txs/{hash}", s.getTx, cheap},
		{"GET", "/v1/accounts/{address}", s.getAccount, cheap},
		{"GET", "/v1/orgs", s.listOrgs, scan},
		{"GET", "/v1/orgs/{id}", s.getOrg, cheap},
		{"GET", "/v1/datasets", s.listDatasets, scan},
		{"GET", "/v1/datasets/{id}", s.getDataset, scan},
		{"GET", "/v1/datasets/{id}/versions/{version}", s.getDatasetVersion, cheap},
		{"GET", "/v1/datasets/{id}/policy", s.getPolicy, cheap},
		{"GET", "/v1/datasets/{id}/budget", s.getBudget, cheap},
		{"GET", "/v1/patients/{address}/consents", s.listConsents, scan},
		{"GET", "/v1/consents", s.listAllConsents, scan},
		{"GET", "/v1/access-requests", s.listAccessRequests, scan},
		{"GET", "/v1/access-requests/{id}", s.getAccessRequest, cheap},
		{"GET", "/v1/workers", s.listWorkers, scan},
		{"GET", "/v1/workers/{address}", s.getWorker, cheap},
		{"GET", "/v1/attestation-policies/{type}", s.getAttestationPolicy, cheap},
		{"GET", "/v1/jobs", s.listJobs, scan},
		{"GET", "/v1/jobs/{id}", s.getJob, cheap},
		{"GET", "/v1/jobs/{id}/study", s.getStudy, scan},
		{"POST", "/v1/jobs/validate", s.validateJob, scan},
		{"GET", "/v1/analyses", s.listAnalyses, cheap},
		{"GET", "/v1/analyses/{name}", s.getAnalysis, cheap},
		{"GET", "/v1/results/{job}/{dataset}", s.getResult, scan},
		{"GET", "/v1/models", s.listModels, scan},
		{"GET", "/v1/models/{id}", s.getModel, cheap},
		{"GET", "/v1/models/{id}/predictions", s.listPredictions, scan},
		{"POST", "/v1/models/{id}/verify", s.verifyPrediction, verify},
		{"GET", "/v1/state/proof", s.stateProof, scan},
		{"GET", "/v1/commitments/{height}", s.getCommitment, cheap},
		{"GET", "/v1/headers/{height}", s.getHeader, cheap},
		{"GET", "/v1/audit/entries/{index}", s.auditEntry, cheap},
		{"GET", "/v1/audit/inclusion", s.auditInclusion, scan},
		{"GET", "/v1/audit/consistency", s.auditConsistency, scan},
		{"GET", "/v1/receipts", s.listReceipts, scan},
		{"GET", "/v1/receipts/{job}/{dataset}", s.getReceipts, scan},
		{"GET", "/v1/rewards", s.getRewards, cheap},
		{"POST", "/v1/rewards", s.postRewards, verify},
	},
		s.recordRoutes(),
		s.dealRoutes(),
		s.institutionRoutes(),
	)
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

// longAnswers are the routes that may take longer to answer than the
// server's write timeout allows (which bounds every other route, so a slow
// reader cannot hold a connection): POST /v1/txs?wait=commit waits for the
// commit. Their write deadline is moved to this long after the request.
var longAnswers = map[string]time.Duration{
	"POST /v1/txs": commitWait + 15*time.Second,
	// Opening a share waits for the ledger to record the opening.
	"POST /v1/shares/{hash}/open": commitWait + 15*time.Second,
}

// extendWrite gives h's answer d to be written. Writers without a deadline
// (a test recorder) are left as they are.
func extendWrite(d time.Duration, h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_ = http.NewResponseController(w).SetWriteDeadline(time.Now().Add(d))
		h.ServeHTTP(w, r)
	})
}

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
