package client

import (
	"context"
	"fmt"
	"net/url"

	"github.com/medchain/medchain/api"
)

// Result is GET /v1/results/{job}/{dataset}: one site's encrypted result,
// unverified (compute.FetchResult checks it against the ledger).
func (c *Client) Result(ctx context.Context, job uint64, dataset string) (*api.ResultBlob, error) {
	return get[api.ResultBlob](ctx, c, fmt.Sprintf("/v1/results/%d/%s", job, url.PathEscape(dataset)), nil)
}
