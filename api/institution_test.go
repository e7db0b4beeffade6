package api_test

import (
	"crypto/ed25519"
	"net/http"
	"slices"
	"testing"

	"github.com/medchain/medchain/api"
	"github.com/medchain/medchain/ledger"
)

// GET /v1/orgs/{id}/vault answers only a request signed by an admin of the
// organisation, and only on a node holding the organisation's vault key: the
// shared test node holds none (its positive answers are shown by the web
// console journey, on a node started with a records account).
func TestOrgVaultIsPrivate(t *testing.T) {
	path := "/v1/orgs/st-mary/vault"
	if e := apiErr(t, "GET", path, nil, http.StatusUnauthorized, "unauthenticated"); e.Code != ledger.CodeUnauthenticated {
		t.Fatalf("unsigned: %+v", e)
	}
	for _, who := range []string{"patient-1", "rita-researcher", "lakeview-admin"} {
		status, b, e := send(t, signedReq(t, key(t, who), path))
		if status != http.StatusForbidden || e == nil || e.Code != ledger.CodeUnauthorized {
			t.Fatalf("signed by %s: %d %s", who, status, b)
		}
	}
	status, b, e := send(t, signedReq(t, key(t, "st-mary-admin"), path))
	if status != http.StatusNotFound || e == nil || e.Code != ledger.CodeNotFound {
		t.Fatalf("signed by st-mary's admin, on a node without its vault: %d %s", status, b)
	}
}

// GET /v1/devices lists registered devices, filtered by organisation.
func TestDevicesList(t *testing.T) {
	l := getOK[api.DeviceList](t, "/v1/devices?org=no-such-org")
	if l.Devices == nil || len(l.Devices) != 0 {
		t.Fatalf("devices of an unknown org: %+v", l)
	}
	pub, _, _ := ed25519.GenerateKey(nil)
	do(t, "st-mary-admin", &ledger.RegisterDevice{ID: "api-cuff-1", PubKey: pub, Kind: "bp_cuff",
		Measurements: []ledger.Measurement{{System: "loinc", Code: "8480-6", Unit: "mm[Hg]"}}})
	l = getOK[api.DeviceList](t, "/v1/devices?org=st-mary")
	if !slices.ContainsFunc(l.Devices, func(d ledger.Device) bool {
		return d.ID == "api-cuff-1" && d.Org == "st-mary" && d.Status == ledger.DeviceActive && d.Kind == "bp_cuff"
	}) {
		t.Fatalf("st-mary's devices: %+v", l)
	}
	if l := getOK[api.DeviceList](t, "/v1/devices?org=lakeview"); slices.ContainsFunc(l.Devices, func(d ledger.Device) bool { return d.ID == "api-cuff-1" }) {
		t.Fatalf("lakeview's devices: %+v", l)
	}
}
