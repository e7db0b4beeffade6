package client

import (
	"context"
	"fmt"
	"net/url"

	"github.com/medchain/medchain/api"
	"github.com/medchain/medchain/ledger"
)

// DealFilter narrows GET /v1/deals; empty fields do not filter.
type DealFilter struct {
	Buyer, Status, Dataset, Org string
}

// Deals is GET /v1/deals.
func (c *Client) Deals(ctx context.Context, f DealFilter) ([]ledger.Deal, error) {
	q := url.Values{}
	for k, v := range map[string]string{"buyer": f.Buyer, "status": f.Status, "dataset": f.Dataset, "org": f.Org} {
		if v != "" {
			q.Set(k, v)
		}
	}
	v, err := get[api.DealList](ctx, c, "/v1/deals", q)
	if err != nil {
		return nil, err
	}
	return v.Deals, nil
}

// Deal is GET /v1/deals/{id}.
func (c *Client) Deal(ctx context.Context, id uint64) (*ledger.Deal, error) {
	return get[ledger.Deal](ctx, c, fmt.Sprintf("/v1/deals/%d", id), nil)
}

// Acceptances is GET /v1/deals/{id}/acceptances, of one status if status
// is not empty.
func (c *Client) Acceptances(ctx context.Context, deal uint64, status string) ([]ledger.Acceptance, error) {
	q := url.Values{}
	if status != "" {
		q.Set("status", status)
	}
	v, err := get[api.AcceptanceList](ctx, c, fmt.Sprintf("/v1/deals/%d/acceptances", deal), q)
	if err != nil {
		return nil, err
	}
	return v.Acceptances, nil
}

// PatientDeals is GET /v1/patients/{address}/deals.
func (c *Client) PatientDeals(ctx context.Context, patient string) ([]ledger.Acceptance, error) {
	v, err := get[api.AcceptanceList](ctx, c, fmt.Sprintf("/v1/patients/%s/deals", url.PathEscape(patient)), nil)
	if err != nil {
		return nil, err
	}
	return v.Acceptances, nil
}

// DealRow is GET /v1/deals/{id}/rows/{address}: one delivered record's
// ciphertext, unverified (package deal's Open checks it).
func (c *Client) DealRow(ctx context.Context, deal uint64, patient string) (*api.DealRowBlob, error) {
	return get[api.DealRowBlob](ctx, c, fmt.Sprintf("/v1/deals/%d/rows/%s", deal, url.PathEscape(patient)), nil)
}
