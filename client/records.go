package client

import (
	"context"
	"encoding/json"
	"net/http"
	"net/url"

	"github.com/medchain/medchain/api"
	"github.com/medchain/medchain/recordshare"
)

// RecordServer is GET /v1/records/server: the institution account the node
// serves records and shares as.
func (c *Client) RecordServer(ctx context.Context) (*api.RecordServerInfo, error) {
	return get[api.RecordServerInfo](ctx, c, "/v1/records/server", nil)
}

func postRecords[T any](ctx context.Context, c *Client, path string, in any) (*T, error) {
	body, err := json.Marshal(in)
	if err != nil {
		return nil, err
	}
	var out T
	if _, err := c.do(ctx, http.MethodPost, path, nil, body, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// RequestRecord is POST /v1/records/request: the signer's own record,
// encrypted to their account key.
func (c *Client) RequestRecord(ctx context.Context, req *recordshare.Signed) (*api.RecordCopy, error) {
	return postRecords[api.RecordCopy](ctx, c, "/v1/records/request", req)
}

// PutShare is POST /v1/shares: a share recorded on the ledger, uploaded to
// the node that serves it.
func (c *Client) PutShare(ctx context.Context, sh *recordshare.Share) (*api.ShareCreated, error) {
	return postRecords[api.ShareCreated](ctx, c, "/v1/shares", sh)
}

// OpenShare is POST /v1/shares/{hash}/open.
func (c *Client) OpenShare(ctx context.Context, hash string, o api.ShareOpen) (*api.RecordCopy, error) {
	return postRecords[api.RecordCopy](ctx, c, "/v1/shares/"+url.PathEscape(hash)+"/open", o)
}

// Share is GET /v1/shares/{hash}: a share on the ledger and its state.
func (c *Client) Share(ctx context.Context, hash string) (*api.ShareView, error) {
	return get[api.ShareView](ctx, c, "/v1/shares/"+url.PathEscape(hash), nil)
}

// Shares is GET /v1/patients/{address}/shares.
func (c *Client) Shares(ctx context.Context, patient string) (*api.ShareList, error) {
	return get[api.ShareList](ctx, c, "/v1/patients/"+url.PathEscape(patient)+"/shares", nil)
}
