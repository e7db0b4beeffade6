package api

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"github.com/medchain/medchain/store"
	"io"
	"net/http"
	"strings"
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
	s.routes()
	return s
}

// Handler is the server's http.Handler.
func (s *Server) Handler() http.Handler { return s.mux }

// Error is the API's error body: {"error": {"code": ..., "name": ..., "message": ...}}.
// Code is the ledger result code where one applies.
type Error struct {
	Status  int         `json:"-"`
	Code    ledger.Code `json:"code"`
	Name    string      `json:"name"`
	Message string      `json:"message"`
}

func (e *Error) Error() string { return e.Message }

// httpStatus is the one place ledger codes become HTTP statuses.
func httpStatus(c ledger.Code) int {
	switch c {
	case ledger.CodeOK:
		return http.StatusOK
	case ledger.CodeNotFound, ledger.CodeUnknownAccount:
		return http.StatusNotFound
	case ledger.CodeUnauthorized, ledger.CodeBadSignature, ledger.CodeWrongChain:
		return http.StatusForbidden
	case ledger.CodeAlreadyExists, ledger.CodeBadNonce, ledger.CodeInvalidState:
		return http.StatusConflict
	case ledger.CodeOversize:
		return http.StatusRequestEntityTooLarge
	case ledger.CodeInternal:
		return http.StatusInternalServerError
	}
	return http.StatusBadRequest
}

func apiError(c ledger.Code, format string, args ...any) *Error {
	return &Error{Status: httpStatus(c), Code: c, Name: c.String(), Message: fmt.Sprintf(format, args...)}
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
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
	writeJSON(w, e.Status, map[string]*Error{"error": e})
}

// handler adapts a function returning (value, error) to http.HandlerFunc.
func handler(fn func(r *http.Request) (any, error)) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		v, err := fn(r)
		if err != nil {
			writeErr(w, err)
			return
		}
		writeJSON(w, http.StatusOK, v)
	}
}

func (s *Server) routes() {
	s.mux.HandleFunc("GET /v1/status", handler(s.status))
	s.mux.HandleFunc("POST /v1/txs", handler(s.submitTx))
	s.mux.HandleFunc("GET /v1/txs/{hash}", handler(s.getTx))
	s.mux.HandleFunc("/v1/", func(w http.ResponseWriter, r *http.Request) {
		writeErr(w, &Error{Status: http.StatusNotFound, Code: ledger.CodeNotFound, Name: "not_found",
			Message: fmt.Sprintf("no such endpoint: %s %s (see /v1/openapi.json)", r.Method, r.URL.Path)})
	})
}

func (s *Server) status(r *http.Request) (any, error) { return s.b.Status(r.Context()) }

// TxSubmitted is the answer to POST /v1/txs.
type TxSubmitted struct {
	Hash   string           `json:"hash"`
	Result *ledger.TxRecord `json:"result,omitempty"` // set once committed (with ?wait=commit)
}

// maxBody bounds request bodies: a transaction plus JSON framing.
const maxBody = ledger.MaxTxBytes + 1024

// submitTx accepts a signed transaction as the request body (its wire JSON).
// The mempool check runs first; ?wait=commit then waits (up to 30 s) for
// the transaction to be committed and returns its result.
func (s *Server) submitTx(r *http.Request) (any, error) {
	body, err := io.ReadAll(io.LimitReader(r.Body, maxBody+1))
	if err != nil {
		return nil, apiError(ledger.CodeMalformed, "read body: %v", err)
	}
	if len(body) > maxBody {
		return nil, apiError(ledger.CodeOversize, "request body exceeds %d bytes", maxBody)
	}
	// Decode here too, so a client gets the precise reason even before the mempool.
	if _, err := ledger.DecodeAndVerify(body, s.b.ChainID()); err != nil {
		return nil, err
	}
	res, err := s.b.Broadcast(r.Context(), body)
	if err != nil {
		return nil, apiError(ledger.CodeInternal, "broadcast: %v", err)
	}
	if res.Code != ledger.CodeOK {
		return nil, apiError(res.Code, "rejected by mempool: %s", res.Log)
	}
	out := &TxSubmitted{Hash: ledger.TxHash(body)}
	if r.URL.Query().Get("wait") != "commit" {
		return out, nil
	}
	ctx, cancel := context.WithTimeout(r.Context(), 30*time.Second)
	defer cancel()
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
			return nil, &Error{Status: http.StatusAccepted, Code: ledger.CodeOK, Name: "pending",
				Message: fmt.Sprintf("transaction %s accepted but not committed within 30 s", out.Hash)}
		case <-time.After(50 * time.Millisecond):
		}
	}
}

func (s *Server) txRecord(hash string) (*ledger.TxRecord, error) {
	var rec *ledger.TxRecord
	err := s.b.View(func(r store.ReadWriter, _ ledger.Commitment) error {
		var err error
		rec, err = ledger.GetTxRecord(r, hash)
		return err
	})
	return rec, err
}

func (s *Server) getTx(r *http.Request) (any, error) {
	hash := strings.ToLower(r.PathValue("hash"))
	rec, err := s.txRecord(hash)
	if err != nil {
		return nil, err
	}
	if rec == nil {
		return nil, apiError(ledger.CodeNotFound, "no committed transaction %s", hash)
	}
	return rec, nil
}
