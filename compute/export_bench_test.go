package compute

import (
	"context"

	"github.com/medchain/medchain/ledger"
	"github.com/medchain/medchain/vault"
)

// Compute exposes the worker's local job path (compute) to the benchmarks.
func (w *Worker) Compute(ctx context.Context, reg *ledger.Worker, j *ledger.Job, site ledger.JobSite, consents map[string][]ledger.Consent) ([]byte, error) {
	return w.compute(ctx, reg, j, site, consents)
}

// ConsentMask exposes consentMask to the benchmarks.
func (w *Worker) ConsentMask(ctx context.Context, v *vault.Version, j *ledger.Job, site ledger.JobSite, consents map[string][]ledger.Consent) ([]bool, error) {
	return w.consentMask(ctx, v, j, site, consents)
}
