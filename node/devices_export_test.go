package node_test

import (
	"path/filepath"

	"github.com/medchain/medchain/keys"
	"github.com/medchain/medchain/node"
	"github.com/medchain/medchain/vault"
	"github.com/medchain/medchain/vault/series"
)

// openSeries opens a home's device readings as `medchain device verify`
// does: read-only, with the gateway's node key.
func openSeries(home string) (*series.Store, error) {
	v, err := vault.Open(filepath.Join(home, "vault"))
	if err != nil {
		return nil, err
	}
	gw, err := keys.Load(node.KeysDir(home), "st-mary-admin")
	if err != nil {
		return nil, err
	}
	id, err := vault.NodeIdentity(gw.Enc)
	if err != nil {
		return nil, err
	}
	skey, err := v.SeriesKey(id)
	if err != nil {
		return nil, err
	}
	return series.Open(node.SeriesDir(home), skey, series.Options{ReadOnly: true})
}
