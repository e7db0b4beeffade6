package node_test

import (
	"github.com/medchain/medchain/node"
	"github.com/medchain/medchain/vault"
	"github.com/medchain/medchain/vault/series"
	"path/filepath"
)

// openSeries opens a home's device readings as `medchain device verify`
// does, from the vault directory.
func openSeries(home string) (*series.Store, error) {
	v, err := vault.Open(filepath.Join(home, "vault"))
	if err != nil {
		return nil, err
	}
	secret, err := v.Secret()
	if err != nil {
		return nil, err
	}
	return series.Open(node.SeriesDir(home), secret, series.Options{ReadOnly: true})
}
