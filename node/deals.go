package node

import (
	"context"
	"errors"
	"log/slog"
	"strings"
	"time"

	"github.com/medchain/medchain/client"
	"github.com/medchain/medchain/compute"
	"github.com/medchain/medchain/deal"
	"github.com/medchain/medchain/keys"
	"github.com/medchain/medchain/vault"
)

// runDealWorkers is the data-deal delivery beside the compute workers of a
// dev or demo node: every interval until ctx ends, each `<org>-worker` key
// in keysDir that is a registered worker of <org> delivers the accepted
// records of open deals in <org>'s datasets (deal.Deliverer), into the
// node's results store, which the API serves rows from.
func runDealWorkers(ctx context.Context, keysDir string, v *vault.Vault, results *compute.ResultStore, c *client.Client, every time.Duration, log *slog.Logger) {
	if every <= 0 {
		every = time.Second
	}
	t := time.NewTicker(every)
	defer t.Stop()
	warned := map[string]bool{}
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		names, err := keys.List(keysDir)
		if err != nil {
			log.Warn("list worker keys", "err", err)
			continue
		}
		for _, name := range names {
			org, ok := strings.CutSuffix(name, "-worker")
			if !ok || org == "" {
				continue
			}
			k, err := keys.Load(keysDir, name)
			if err != nil {
				continue
			}
			d := &deal.Deliverer{Key: k, Org: org, Vault: v, Ledger: c, Store: results, Log: log.With("deal worker", name)}
			_, err = d.RunOnce(ctx)
			switch {
			case err == nil, client.IsNotFound(err), ctx.Err() != nil:
			case errors.Is(err, deal.ErrNotRegistered):
				if !warned[name] {
					warned[name] = true
					log.Info("deal worker key not run", "worker", name, "why", err)
				}
			default:
				log.Warn("deal delivery", "worker", name, "err", err)
			}
		}
	}
}
