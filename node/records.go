package node

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"time"

	"github.com/medchain/medchain/api"
	"github.com/medchain/medchain/client"
	"github.com/medchain/medchain/keys"
	"github.com/medchain/medchain/ledger"
	"github.com/medchain/medchain/recordserver"
	"github.com/medchain/medchain/recordshare"
	"github.com/medchain/medchain/store"
	"github.com/medchain/medchain/vault"
	"github.com/medchain/medchain/vault/vaultcfg"
)

// RecordOptions turn on serving patients their own records and the shares
// they make of them (package recordserver, docs/patients.md).
type RecordOptions struct {
	// Account is the name of the key in <home>/keys the node serves
	// records as: an institution account. Its originals identity opens
	// the vault's original records, its node key the link table, and it
	// signs close_share.
	Account string
	// MaxAttempts is how many wrong passcodes lock a link share (0: the
	// default, recordserver.DefaultMaxAttempts).
	MaxAttempts int
}

// RecordsDir is where a home keeps served shares and request nonces.
func RecordsDir(home string) string { return filepath.Join(home, "records") }

var _ api.RecordService = (*Node)(nil)

func (n *Node) startRecords(o RecordOptions) error {
	k, err := keys.Load(KeysDir(n.home), o.Account)
	if err != nil {
		return fmt.Errorf("records account key: %w", err)
	}
	acct, err := n.waitRecordsAccount(k.Address())
	if err != nil {
		return err
	}
	if acct == nil || acct.Kind != ledger.KindInstitution {
		return fmt.Errorf("records account key %s: not a registered institution account", o.Account)
	}
	v, err := vaultcfg.Open(filepath.Join(n.home, "vault"))
	if err != nil {
		return err
	}
	nodeID, err := vault.NodeIdentity(k.Enc)
	if err != nil {
		return err
	}
	origID, err := vault.OriginalsIdentity(k.Enc)
	if err != nil {
		return err
	}
	n.instVault = &institutionVault{v: v, org: acct.Org, node: nodeID}
	n.records, err = recordserver.New(recordserver.Config{
		Chain: n.ChainID(), Server: acct.Address, Org: acct.Org,
		Ledger:      &recordLedger{n: n, key: k, c: client.New("http://" + n.APIAddr())},
		Vault:       &recordVault{v: v, org: acct.Org, node: nodeID, originals: origID},
		Dir:         RecordsDir(n.home),
		MaxAttempts: o.MaxAttempts,
	})
	return err
}

// waitRecordsAccount reads an account from committed state; genesis accounts
// become readable with the first block, so on a new network it waits for
// that block (up to 30 s).
func (n *Node) waitRecordsAccount(addr string) (*ledger.Account, error) {
	for try := 0; ; try++ {
		var height int64
		var acct *ledger.Account
		err := n.app.View(func(r store.ReadWriter, c ledger.Commitment) error {
			var err error
			height = c.Height
			acct, err = ledger.GetAccount(r, addr)
			return err
		})
		if err != nil || acct != nil || height > 0 || try == 300 {
			return acct, err
		}
		time.Sleep(100 * time.Millisecond)
	}
}

var errNoRecords = &ledger.Error{Code: ledger.CodeNotFound, Msg: "this node serves no records (start it with a records account)"}

// RecordServer implements api.RecordService.
func (n *Node) RecordServer() (string, string, bool) {
	if n.records == nil {
		return "", "", false
	}
	return n.records.ServerAccount(), n.records.Org(), true
}

// Record implements api.RecordService.
func (n *Node) Record(ctx context.Context, req *recordshare.Signed) ([]byte, error) {
	if n.records == nil {
		return nil, errNoRecords
	}
	return n.records.Record(ctx, req)
}

// PutShare implements api.RecordService.
func (n *Node) PutShare(ctx context.Context, sh *recordshare.Share) (string, error) {
	if n.records == nil {
		return "", errNoRecords
	}
	return n.records.PutShare(ctx, sh)
}

// OpenLink implements api.RecordService.
func (n *Node) OpenLink(ctx context.Context, hash, id, passcode string) ([]byte, error) {
	if n.records == nil {
		return nil, errNoRecords
	}
	return n.records.OpenLink(ctx, hash, id, passcode)
}

// OpenAccount implements api.RecordService.
func (n *Node) OpenAccount(ctx context.Context, req *recordshare.Signed) ([]byte, error) {
	if n.records == nil {
		return nil, errNoRecords
	}
	return n.records.OpenAccount(ctx, req)
}

// recordLedger reads committed state in process and submits close_share
// through the node's own API, signed by the records account.
type recordLedger struct {
	n   *Node
	key *keys.Key
	c   *client.Client
}

func (l *recordLedger) Account(addr string) (*ledger.Account, error) {
	var a *ledger.Account
	err := l.n.app.View(func(r store.ReadWriter, _ ledger.Commitment) error {
		var err error
		a, err = ledger.GetAccount(r, addr)
		return err
	})
	return a, err
}

func (l *recordLedger) Share(hash string) (*ledger.Share, error) {
	var s *ledger.Share
	err := l.n.app.View(func(r store.ReadWriter, _ ledger.Commitment) error {
		var err error
		s, err = ledger.GetShare(r, hash)
		return err
	})
	return s, err
}

// CloseShare submits close_share and waits for its commit. The records
// account may sign other transactions too (on a demo network it is also
// the device gateway, which anchors every second): a nonce taken by one of
// those in the meantime is retried with the next, for a few blocks.
func (l *recordLedger) CloseShare(ctx context.Context, hash, outcome string) error {
	for try := 0; ; try++ {
		res, err := l.c.SignAndSubmit(ctx, l.key, &ledger.CloseShare{Hash: hash, Outcome: outcome}, true)
		if err == nil {
			err = client.ResultError(res)
			if err == nil && res.Result == nil {
				err = fmt.Errorf("close_share %s: not committed in time", hash)
			}
		}
		var ce *client.Error
		if !errors.As(err, &ce) || ce.Code == 0 {
			return err
		}
		if ledger.Code(ce.Code) == ledger.CodeBadNonce && try < 10 {
			select {
			case <-ctx.Done():
				return ctx.Err()
			case <-time.After(200 * time.Millisecond):
			}
			continue
		}
		// The ledger's own refusal (revoked, opened, expired meanwhile)
		// goes back to the caller with its code.
		return &ledger.Error{Code: ledger.Code(ce.Code), Msg: ce.Message}
	}
}

// recordVault reads the organisation's link table and the originals.
type recordVault struct {
	v         *vault.Vault
	org       string
	node      *vault.Identity
	originals *vault.Identity
}

func (rv *recordVault) Links() (*vault.Links, error) { return rv.v.Links(rv.org, rv.node) }

func (rv *recordVault) Originals(ps []string) ([]vault.Original, error) {
	return rv.v.Originals(rv.originals, ps)
}
