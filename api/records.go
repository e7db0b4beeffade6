package api

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"

	"github.com/medchain/medchain/ledger"
	"github.com/medchain/medchain/recordshare"
	"github.com/medchain/medchain/store"
)

// RecordService is implemented by a backend that serves patients' records
// and their shares (a node started with a records account; package
// recordserver). Every method returns a *ledger.Error for a refusal.
type RecordService interface {
	// RecordServer is the institution account (and its organisation) the
	// node serves records as; ok is false if it serves none.
	RecordServer() (server, org string, ok bool)
	Record(ctx context.Context, req *recordshare.Signed) ([]byte, error)
	PutShare(ctx context.Context, sh *recordshare.Share) (string, error)
	OpenLink(ctx context.Context, hash, id, passcode string) ([]byte, error)
	OpenAccount(ctx context.Context, req *recordshare.Signed) ([]byte, error)
}

func (s *Server) recordRoutes() []route {
	return []route{
		{"GET", "/v1/records/server", s.recordServer, cheap},
		{"POST", "/v1/records/request", s.requestRecord, verify},
		{"POST", "/v1/shares", s.putShare, submit},
		{"GET", "/v1/shares/{hash}", s.getShare, cheap},
		{"POST", "/v1/shares/{hash}/open", s.openShare, verify},
		{"GET", "/v1/patients/{address}/shares", s.listShares, scan},
	}
}

// RecordServerInfo is GET /v1/records/server: the institution account a
// node serves records and shares as — what a patient's request names.
type RecordServerInfo struct {
	Server string `json:"server"`
	Org    string `json:"org"`
}

// RecordCopy is the answer to POST /v1/records/request and to
// POST /v1/shares/{hash}/open: ciphertext (age) only its recipient opens.
type RecordCopy struct {
	Server     string `json:"server"`
	Share      string `json:"share,omitempty"`
	Ciphertext []byte `json:"ciphertext"` // base64 in JSON
}

// ShareCreated is the answer to POST /v1/shares.
type ShareCreated struct {
	Hash string `json:"hash"`
}

func (*ShareCreated) httpStatus() int { return http.StatusCreated }

// ShareOpen is the body of POST /v1/shares/{hash}/open: a link share's id
// and passcode (both from the link holder), or a share to an account: its
// recipient's signed request.
type ShareOpen struct {
	ID       string              `json:"id,omitempty"`
	Passcode string              `json:"passcode,omitempty"`
	Request  *recordshare.Signed `json:"request,omitempty"`
}

// ShareView is a share on the ledger with its state at the latest block
// (active, opened, revoked, locked or expired).
type ShareView struct {
	ledger.Share
	State string `json:"state"`
}

// ShareList is GET /v1/patients/{address}/shares.
type ShareList struct {
	Patient string      `json:"patient"`
	Shares  []ShareView `json:"shares"`
}

func (s *Server) records() (RecordService, error) {
	rs, ok := s.b.(RecordService)
	if ok {
		if _, _, on := rs.RecordServer(); on {
			return rs, nil
		}
	}
	return nil, notFound("this node serves no records (start it with a records account)")
}

func (s *Server) recordServer(*http.Request) (any, error) {
	rs, err := s.records()
	if err != nil {
		return nil, err
	}
	srv, org, _ := rs.RecordServer()
	return &RecordServerInfo{Server: srv, Org: org}, nil
}

// readRecordBody decodes a JSON body into v, refusing unknown fields and
// trailing data; what names the expected shape in errors.
func readRecordBody(r *http.Request, v any, what string) error {
	body, err := io.ReadAll(io.LimitReader(r.Body, maxShareBody+1))
	if err != nil {
		return apiError(ledger.CodeMalformed, "read body: %v", err)
	}
	if len(body) > maxShareBody {
		return apiError(ledger.CodeOversize, "request body exceeds %d bytes", maxShareBody)
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return apiError(ledger.CodeMalformed, "body: want %s: %v", what, err)
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return apiError(ledger.CodeMalformed, "body: trailing data after the JSON object")
	}
	return nil
}

// maxShareBody bounds a share upload: its ciphertext, base64, and framing.
const maxShareBody = recordshare.MaxCiphertext*4/3 + 4096

func (s *Server) requestRecord(r *http.Request) (any, error) {
	rs, err := s.records()
	if err != nil {
		return nil, err
	}
	var req recordshare.Signed
	if err := readRecordBody(r, &req, "a signed record request {request, signature}"); err != nil {
		return nil, err
	}
	ct, err := rs.Record(r.Context(), &req)
	if err != nil {
		return nil, err
	}
	srv, _, _ := rs.RecordServer()
	return &RecordCopy{Server: srv, Ciphertext: ct}, nil
}

func (s *Server) putShare(r *http.Request) (any, error) {
	rs, err := s.records()
	if err != nil {
		return nil, err
	}
	var sh recordshare.Share
	if err := readRecordBody(r, &sh, "a share {id, recipient, expiry, ciphertext, salt, verifier}"); err != nil {
		return nil, err
	}
	hash, err := rs.PutShare(r.Context(), &sh)
	if err != nil {
		return nil, err
	}
	return &ShareCreated{Hash: hash}, nil
}

func shareParam(r *http.Request) (string, error) { return hexParam("hash", r.PathValue("hash"), 32) }

func (s *Server) openShare(r *http.Request) (any, error) {
	hash, err := shareParam(r)
	if err != nil {
		return nil, err
	}
	rs, err := s.records()
	if err != nil {
		return nil, err
	}
	var o ShareOpen
	if err := readRecordBody(r, &o, "{passcode} for a link share or {request} for a share to an account"); err != nil {
		return nil, err
	}
	var ct []byte
	switch {
	case o.Request != nil && (o.Passcode != "" || o.ID != ""):
		return nil, badParam("body", "an id and passcode, or a signed request, not both")
	case o.Request != nil:
		if o.Request.Request.Share != hash {
			return nil, badParam("request.share", "the signed request names share %s, not %s", o.Request.Request.Share, hash)
		}
		ct, err = rs.OpenAccount(r.Context(), o.Request)
	default:
		ct, err = rs.OpenLink(r.Context(), hash, o.ID, o.Passcode)
	}
	if err != nil {
		return nil, err
	}
	srv, _, _ := rs.RecordServer()
	return &RecordCopy{Server: srv, Share: hash, Ciphertext: ct}, nil
}

func (s *Server) getShare(r *http.Request) (any, error) {
	hash, err := shareParam(r)
	if err != nil {
		return nil, err
	}
	now, err := s.shareBlockTime(r.Context())
	if err != nil {
		return nil, err
	}
	sh, err := lookup(s, func(rd store.ReadWriter) (*ledger.Share, error) { return ledger.GetShare(rd, hash) })
	if err != nil {
		return nil, err
	}
	if sh == nil {
		return nil, notFound("no share %s", hash)
	}
	return &ShareView{Share: *sh, State: sh.ShareState(now)}, nil
}

func (s *Server) listShares(r *http.Request) (any, error) {
	addr, err := addressParam(r)
	if err != nil {
		return nil, err
	}
	now, err := s.shareBlockTime(r.Context())
	if err != nil {
		return nil, err
	}
	ss, err := ledger.ListSharesOf(s.b, addr)
	if err != nil {
		return nil, err
	}
	out := &ShareList{Patient: addr, Shares: []ShareView{}}
	for _, sh := range ss {
		out.Shares = append(out.Shares, ShareView{Share: sh, State: sh.ShareState(now)})
	}
	return out, nil
}

// shareBlockTime is the latest block's time, which share states are read at.
func (s *Server) shareBlockTime(ctx context.Context) (int64, error) {
	st, err := s.b.Status(ctx)
	if err != nil {
		return 0, fmt.Errorf("node status: %w", err)
	}
	return st.BlockTime.Unix(), nil
}
