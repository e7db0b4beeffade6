// Package client is the Go client of medchain's HTTP API; the CLI uses it.
//
// Besides one typed method per endpoint it can check what a node says
// without trusting the node: state proofs, audit-log inclusion and
// consistency proofs are verified against block headers signed by the
// validators (see verify.go).
package client

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	cmttypes "github.com/cometbft/cometbft/types"

	"github.com/medchain/medchain/api"
	"github.com/medchain/medchain/keys"
	"github.com/medchain/medchain/ledger"
	"github.com/medchain/medchain/reqsig"
)

// Error is an error answered by the API, a transaction committed with a
// non-zero result code, or a failed verification. Code is the ledger result
// code where one applies (0 for a failed verification, whose Name is
// "verification_failed"); Status is the HTTP status (0 when the error did
// not come from an HTTP response).
type Error struct {
	Status  int    `json:"-"`
	Code    uint32 `json:"code"`
	Name    string `json:"name"`
	Message string `json:"message"`
	Param   string `json:"param,omitempty"` // the request parameter at fault, if any
	err     error
}

func (e *Error) Error() string { return e.Name + ": " + e.Message }

// Unwrap lets errors.Is(err, ErrVerification) pick out failed verifications.
func (e *Error) Unwrap() error { return e.err }

// ErrVerification is wrapped by every error that means a proof or signature
// did not check out (as opposed to the node being unreachable).
var ErrVerification = errors.New("verification failed")

func verifyErr(format string, args ...any) error {
	return &Error{Name: "verification_failed", Message: fmt.Sprintf(format, args...), err: ErrVerification}
}

// IsNotFound reports whether err is the API's not_found answer.
func IsNotFound(err error) bool {
	var e *Error
	return errors.As(err, &e) && e.Status == http.StatusNotFound
}

// ResultError is the error of a committed transaction with a non-zero
// result code, nil for a successful or not yet committed one.
func ResultError(s *api.TxSubmitted) error {
	if s == nil || s.Result == nil || s.Result.Code == ledger.CodeOK {
		return nil
	}
	c := s.Result.Code
	return &Error{Code: uint32(c), Name: c.String(), Message: fmt.Sprintf("transaction %s failed at height %d: %s", s.Hash, s.Result.Height, s.Result.Log)}
}

// EventAttr is the value of attribute key of the first event of type typ
// in a committed transaction's record: the ids a transaction creates (a
// job's id is EventAttr(rec, "submit_job", "job")).
func EventAttr(rec *ledger.TxRecord, typ, key string) (string, bool) {
	if rec == nil {
		return "", false
	}
	for _, e := range rec.Events {
		if e.Type != typ {
			continue
		}
		for _, a := range e.Attrs {
			if a.Key == key {
				return a.Value, true
			}
		}
	}
	return "", false
}

// JobID is the id of the job a committed submit_job transaction admitted.
func JobID(rec *ledger.TxRecord) (uint64, error) {
	v, ok := EventAttr(rec, "submit_job", "job")
	if !ok {
		return 0, fmt.Errorf("the transaction record has no submit_job event with a job id")
	}
	id, err := strconv.ParseUint(v, 10, 64)
	if err != nil {
		return 0, fmt.Errorf("submit_job event: job id %q: %w", v, err)
	}
	return id, nil
}

// Client talks to one node's HTTP API.
type Client struct {
	base string
	hc   *http.Client

	// ChainID, if set, is the chain headers must belong to; otherwise the
	// node's /v1/status says.
	ChainID string
	// Trusted, if set, is the validator set headers must be signed by
	// (e.g. from the genesis file, since medchain's validator set does not
	// change); otherwise a header is checked against the validator set the
	// node serves with it, whose hash the header commits to.
	Trusted *cmttypes.ValidatorSet
	// HeaderWait bounds how long verification waits for the next block's
	// header to exist (default 15 s).
	HeaderWait time.Duration
}

// New returns a client of the API at baseURL ("http://host:port"; a bare
// "host:port" means http).
func New(baseURL string) *Client {
	if !strings.Contains(baseURL, "://") {
		baseURL = "http://" + baseURL
	}
	return &Client{base: strings.TrimRight(baseURL, "/"), hc: &http.Client{}, HeaderWait: 15 * time.Second}
}

// BaseURL is the API's base URL.
func (c *Client) BaseURL() string { return c.base }

// do sends a request and decodes a 2xx JSON answer into out; anything else
// becomes an *Error.
func (c *Client) do(ctx context.Context, method, path string, q url.Values, body []byte, out any) (int, error) {
	return c.doAs(ctx, nil, method, path, q, body, out)
}

// doAs is do with the request signed by as (package reqsig), for the
// routes that answer only to a particular account; nil signs nothing.
func (c *Client) doAs(ctx context.Context, as *keys.Key, method, path string, q url.Values, body []byte, out any) (int, error) {
	u := c.base + path
	if len(q) > 0 {
		u += "?" + q.Encode()
	}
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, u, rd)
	if err != nil {
		return 0, err
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	req.Header.Set("Accept", "application/json")
	if as != nil {
		chainID, err := c.chainID(ctx)
		if err != nil {
			return 0, err
		}
		if err := reqsig.SignHTTP(as.Sign, chainID, req, body, time.Now()); err != nil {
			return 0, err
		}
	}
	resp, err := c.hc.Do(req)
	if err != nil {
		return 0, fmt.Errorf("%s %s: %w", method, path, err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, 64<<20))
	if err != nil {
		return resp.StatusCode, fmt.Errorf("%s %s: read answer: %w", method, path, err)
	}
	if resp.StatusCode/100 != 2 {
		var eb struct {
			Error *Error `json:"error"`
		}
		if json.Unmarshal(data, &eb) != nil || eb.Error == nil {
			return resp.StatusCode, &Error{Status: resp.StatusCode, Name: "http_error",
				Message: fmt.Sprintf("%s %s: %s: %s", method, path, resp.Status, bytes.TrimSpace(data))}
		}
		eb.Error.Status = resp.StatusCode
		return resp.StatusCode, eb.Error
	}
	if out != nil {
		if err := json.Unmarshal(data, out); err != nil {
			return resp.StatusCode, fmt.Errorf("%s %s: decode answer: %w", method, path, err)
		}
	}
	return resp.StatusCode, nil
}

func get[T any](ctx context.Context, c *Client, path string, q url.Values) (*T, error) {
	return getAs[T](ctx, c, nil, path, q)
}

// getAs is get signed by as.
func getAs[T any](ctx context.Context, c *Client, as *keys.Key, path string, q url.Values) (*T, error) {
	var v T
	if _, err := c.doAs(ctx, as, http.MethodGet, path, q, nil, &v); err != nil {
		return nil, err
	}
	return &v, nil
}

// Submit posts a signed wire transaction. With wait it waits for the
// commit (the node waits up to 30 s) and Result is set; a transaction that
// committed with a non-zero code is not an error here (see ResultError).
// A transaction the node refuses outright comes back as an *Error.
func (c *Client) Submit(ctx context.Context, tx []byte, wait bool) (*api.TxSubmitted, error) {
	var q url.Values
	if wait {
		q = url.Values{"wait": {"commit"}}
	}
	var out api.TxSubmitted
	if _, err := c.do(ctx, http.MethodPost, "/v1/txs", q, tx, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// SignAndSubmit signs msg with key, using the chain id from /v1/status and
// the signer's next nonce (0 for an account that does not exist yet, as a
// self-registering patient), and submits it.
func (c *Client) SignAndSubmit(ctx context.Context, key *keys.Key, msg ledger.Msg, wait bool) (*api.TxSubmitted, error) {
	tx, err := c.Sign(ctx, key, msg)
	if err != nil {
		return nil, err
	}
	return c.Submit(ctx, tx, wait)
}

// Possession is key's proof of possession for its registration into org
// on the network c talks to (ledger.ProvePossession): what an organisation
// admin's register_account, or an authority's create_org, needs from the
// key being registered.
func (c *Client) Possession(ctx context.Context, key *keys.Key, org string) ([]byte, error) {
	chainID, err := c.chainID(ctx)
	if err != nil {
		return nil, err
	}
	return ledger.ProvePossession(key.Sign, chainID, org), nil
}

// Sign builds the wire transaction SignAndSubmit would send.
func (c *Client) Sign(ctx context.Context, key *keys.Key, msg ledger.Msg) ([]byte, error) {
	chainID, err := c.chainID(ctx)
	if err != nil {
		return nil, err
	}
	var nonce uint64
	acct, err := c.Account(ctx, key.Address())
	switch {
	case IsNotFound(err):
	case err != nil:
		return nil, err
	default:
		nonce = acct.Nonce
	}
	return ledger.SignTx(key.Sign, chainID, nonce, msg)
}
