// Package seed publishes synthetic institutions on a running network: an
// institution's compute worker registered, a synthetic cohort (package
// synth) written as CSV, ingested into the node's vault (normalised,
// de-identified, encrypted, published with its Merkle root) with the
// worker as a recipient of the data key, and the dataset's policy set.
// Demo publishes the embedded demo's three institutions and has its
// patients decide; `medchain up` and `medchain demo` seed their demo data
// with it, and the end-to-end tests their sites with Publish.
package seed

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"

	"github.com/medchain/medchain/client"
	"github.com/medchain/medchain/csvsrc"
	"github.com/medchain/medchain/ingest"
	"github.com/medchain/medchain/keys"
	"github.com/medchain/medchain/ledger"
	"github.com/medchain/medchain/normalize"
	"github.com/medchain/medchain/synth"
	"github.com/medchain/medchain/vault"
)

// Site is one institution and the synthetic cohort it publishes.
type Site struct {
	Admin  *keys.Key // an admin of Org: signs the registrations, the ingest and the policy
	Worker *keys.Key // the institution's compute worker (registered here)
	// Measurement is what the worker runs (its registration; software
	// attestation).
	Measurement string
	Org         string
	Dataset     string
	Title       string
	Description string
	People      []synth.Person // with identifiers: the pipeline strips them
	RefDate     time.Time      // ages and latest observations are as of this date
	Policy      ledger.Policy
}

// Publish registers the site's worker, ingests its cohort and sets its
// policy, on the network c talks to and in vault v (secret is the vault's
// pseudonymisation secret). It returns the ingest report.
//
// It can be run again after it stopped part way (a node killed while
// seeding): a step the ledger already has — the worker's account, its
// registration, a published version of the dataset, the dataset's policy
// — is skipped. The report is nil when the dataset was published already.
func Publish(ctx context.Context, c *client.Client, v *vault.Vault, secret []byte, s Site) (*ingest.Report, error) {
	submit := func(m ledger.Msg) error {
		r, err := c.SignAndSubmit(ctx, s.Admin, m, true)
		if err != nil {
			return fmt.Errorf("%s by %s: %w", m.Type(), s.Admin.Name, err)
		}
		if err := client.ResultError(r); err != nil {
			return fmt.Errorf("%s by %s: %w", m.Type(), s.Admin.Name, err)
		}
		return nil
	}
	wk := s.Worker
	if _, err := c.Account(ctx, wk.Address()); client.IsNotFound(err) {
		poss, err := c.Possession(ctx, wk, s.Org)
		if err != nil {
			return nil, err
		}
		if err := submit(&ledger.RegisterAccount{PubKey: wk.PubKey(), EncKey: wk.EncPub(), Kind: ledger.KindWorker, Org: s.Org, Possession: poss}); err != nil {
			return nil, err
		}
	} else if err != nil {
		return nil, err
	}
	if _, err := c.Worker(ctx, wk.Address()); client.IsNotFound(err) {
		if err := submit(&ledger.RegisterWorker{Address: wk.Address(), Attestation: ledger.AttestTypeSoftware, Measurement: s.Measurement}); err != nil {
			return nil, err
		}
	} else if err != nil {
		return nil, err
	}
	d, err := c.Dataset(ctx, s.Dataset)
	switch {
	case client.IsNotFound(err):
	case err != nil:
		return nil, err
	case d.LatestVersion > 0:
		if d.Policy == nil {
			if err := submit(&ledger.SetPolicy{Dataset: s.Dataset, Policy: s.Policy}); err != nil {
				return nil, err
			}
		}
		return nil, nil
	}
	tmp, err := os.MkdirTemp("", "medchain-seed-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(tmp)
	src := filepath.Join(tmp, s.Dataset+".csv")
	if err := synth.WriteFile(src, func(w io.Writer) error { return synth.WriteCSV(w, s.People, synth.WithOutcome()) }); err != nil {
		return nil, err
	}
	var mb bytes.Buffer
	if err := synth.WriteCSVMapping(&mb, synth.WithOutcome()); err != nil {
		return nil, err
	}
	mapping, err := csvsrc.ParseMapping("synth mapping", &mb)
	if err != nil {
		return nil, err
	}
	nodeID, err := vault.NodeIdentity(s.Admin.Enc)
	if err != nil {
		return nil, err
	}
	workerRecipient, err := vault.NewRecipient(wk.EncPub())
	if err != nil {
		return nil, err
	}
	oid, err := vault.OriginalsIdentity(s.Admin.Enc)
	if err != nil {
		return nil, err
	}
	orig := oid.Recipient()
	cfg := normalize.DefaultConfig()
	cfg.RefDate = s.RefDate
	rep, err := ingest.Run(ctx, v, nodeID, secret, ingest.ClientLedger{Client: c, Key: s.Admin}, ingest.Options{
		Source: src, Format: ingest.CSV, Mapping: &mapping, Normalize: cfg,
		Dataset: s.Dataset, Title: s.Title, Description: s.Description,
		Recipients: []vault.Recipient{workerRecipient}, Originals: &orig, OriginalsOrg: s.Org,
	})
	if err != nil {
		return nil, err
	}
	if err := submit(&ledger.SetPolicy{Dataset: s.Dataset, Policy: s.Policy}); err != nil {
		return nil, err
	}
	return rep, nil
}
