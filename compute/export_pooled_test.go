package compute

import (
	"github.com/medchain/medchain/analysis"
	"github.com/medchain/medchain/vault"
)

// LoadTable exposes loadTable to the pooled-fit test.
func LoadTable(v *vault.Version) (*analysis.Table, error) { return loadTable(v) }
