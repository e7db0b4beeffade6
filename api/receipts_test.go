package api_test

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/medchain/medchain/api"
)

// Receipt listing: parameters are checked and named; a node with no
// receipts answers an empty first page; a missing set is not found. A
// rewards request that is not one is malformed; one for an organisation
// whose worker key the node does not hold is not found.
func TestReceiptsAndRewardsRoutes(t *testing.T) {
	for _, c := range []struct{ path, param string }{
		{"/v1/receipts?from=x", "from"},
		{"/v1/receipts?limit=0", "limit"},
		{"/v1/receipts?limit=201", "limit"},
		{"/v1/receipts/x/cardio", "job"},
	} {
		e := apiErr(t, "GET", c.path, nil, 400, "invalid_field")
		if e.Param != c.param || !strings.HasPrefix(e.Message, c.param+": ") {
			t.Errorf("GET %s: %+v, want param %s", c.path, e, c.param)
		}
	}
	apiErr(t, "GET", "/v1/receipts/999999/cardio", nil, 404, "not_found")
	status, b := call(t, "GET", "/v1/receipts?from=999999", nil)
	var page api.ReceiptList
	if err := json.Unmarshal(b, &page); status != 200 || err != nil || len(page.Receipts) != 0 || page.More || page.Next != 999999 {
		t.Fatalf("empty page: %d %s", status, b)
	}
	apiErr(t, "POST", "/v1/rewards", []byte(`{"chain_id":"x","extra":1}`), 400, "malformed")
	apiErr(t, "POST", "/v1/rewards", []byte(`{"chain_id":"x","org":"no-such-org","action":"balance","id":"00","time":0,"pub_key":null,"signature":null}`), 404, "not_found")
}
