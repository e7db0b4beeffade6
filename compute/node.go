package compute

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"io"
	"log/slog"
	"os"
	"strings"
	"time"

	"github.com/medchain/medchain/client"
	"github.com/medchain/medchain/keys"
	"github.com/medchain/medchain/vault"
)

// NodeWorkers configures the workers a dev or demo node runs for the
// `<org>-worker` keys in its keys directory.
type NodeWorkers struct {
	KeysDir     string
	Vault       *vault.Vault
	Results     *ResultStore
	Ledger      Backend
	Measurement string        // the node's own measurement (SHA-256 of its binary)
	Every       time.Duration // default 1 s
	Log         *slog.Logger
}

// RunNodeWorkers runs, every interval until ctx ends, one RunOnce for each
// `<org>-worker` key in KeysDir whose account is a registered worker of
// <org> with the node's measurement. Keys are re-listed each time, so a
// worker registered after the node started (the demo seed) is picked up.
// Production runs one Worker per institution node instead.
func RunNodeWorkers(ctx context.Context, cfg NodeWorkers) {
	every := cfg.Every
	if every <= 0 {
		// Well under a block interval, so a job waits at most about one
		// block for its worker (a poll is one cheap API call per worker).
		every = 250 * time.Millisecond
	}
	log := cfg.Log
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	warned := map[string]bool{}
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		names, err := keys.List(cfg.KeysDir)
		if err != nil {
			log.Warn("list worker keys", "err", err)
			continue
		}
		for _, name := range names {
			org, ok := strings.CutSuffix(name, "-worker")
			if !ok || org == "" {
				continue
			}
			k, err := keys.Load(cfg.KeysDir, name)
			if err != nil {
				continue
			}
			w := &Worker{Key: k, Org: org, Measurement: cfg.Measurement, Vault: cfg.Vault, Ledger: cfg.Ledger, Results: cfg.Results, Log: log.With("worker", name)}
			_, err = w.RunOnce(ctx)
			switch {
			case err == nil:
			case errors.Is(err, ErrNotRegistered), errors.Is(err, ErrMeasurement):
				if !warned[name+err.Error()] {
					warned[name+err.Error()] = true
					log.Info("worker key not run", "worker", name, "why", err)
				}
			case client.IsNotFound(err):
			default:
				log.Warn("worker run", "worker", name, "err", err)
			}
		}
	}
}

// ExecutableMeasurement is the SHA-256 of the running binary: what a
// software-attested worker declares it runs.
func ExecutableMeasurement() (string, error) {
	exe, err := os.Executable()
	if err != nil {
		return "", err
	}
	f, err := os.Open(exe)
	if err != nil {
		return "", err
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return "", err
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}
