package client

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strconv"

	"github.com/medchain/medchain/api"
	"github.com/medchain/medchain/rewards"
)

// Receipts is one page of GET /v1/receipts: complete receipt sets of jobs
// from `from` on (limit 0: the node's default page).
func (c *Client) Receipts(ctx context.Context, from uint64, limit int) (*api.ReceiptList, error) {
	q := url.Values{"from": {strconv.FormatUint(from, 10)}}
	if limit > 0 {
		q.Set("limit", strconv.Itoa(limit))
	}
	return get[api.ReceiptList](ctx, c, "/v1/receipts", q)
}

// AllReceipts reads every complete receipt set from job `from` on, page by
// page.
func (c *Client) AllReceipts(ctx context.Context, from uint64) ([]api.ReceiptView, error) {
	var out []api.ReceiptView
	for {
		page, err := c.Receipts(ctx, from, api.MaxReceiptLimit)
		if err != nil {
			return nil, err
		}
		out = append(out, page.Receipts...)
		if !page.More {
			return out, nil
		}
		from = page.Next
	}
}

// ReceiptSet is GET /v1/receipts/{job}/{dataset}.
func (c *Client) ReceiptSet(ctx context.Context, job uint64, dataset string) (*api.ReceiptView, error) {
	return get[api.ReceiptView](ctx, c, fmt.Sprintf("/v1/receipts/%d/%s", job, url.PathEscape(dataset)), nil)
}

// Rewards is POST /v1/rewards: a signed request to an institution's node.
func (c *Client) Rewards(ctx context.Context, req *rewards.Request) (*rewards.Answer, error) {
	body, err := json.Marshal(req)
	if err != nil {
		return nil, err
	}
	var out rewards.Answer
	if _, err := c.do(ctx, http.MethodPost, "/v1/rewards", nil, body, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// RewardOrgs is GET /v1/rewards: the organisations whose reward requests
// the node answers.
func (c *Client) RewardOrgs(ctx context.Context) ([]string, error) {
	v, err := get[api.RewardOrgs](ctx, c, "/v1/rewards", nil)
	if err != nil {
		return nil, err
	}
	return v.Orgs, nil
}
