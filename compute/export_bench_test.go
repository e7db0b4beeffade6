package compute

import (
	"context"

	"github.com/medchain/medchain/ledger"
	"github.com/medchain/medchain/vault"
)

// Compute exposes the worker's local job path (compute) to the benchmarks.
// Each call is a run of its own: it reads the ledger's consents afresh.
func (w *Worker) Compute(ctx context.Context, reg *ledger.Worker, j *ledger.Job, site ledger.JobSite) ([]byte, error) {
	ct, _, err := w.compute(ctx, reg, j, site, &runConsents{})
	return ct, err
}

// ConsentMask exposes consentMask to the benchmarks.
// Each call is a run of its own: it reads the ledger's consents afresh.
func (w *Worker) ConsentMask(ctx context.Context, v *vault.Version, j *ledger.Job, site ledger.JobSite) ([]bool, error) {
	return w.consentMask(ctx, v, j, site, &runConsents{})
}
