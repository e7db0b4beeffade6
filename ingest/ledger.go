package ingest

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/medchain/medchain/client"
	"github.com/medchain/medchain/keys"
	"github.com/medchain/medchain/ledger"
)

// ClientLedger is the Ledger of a node's HTTP API, publishing as Key (an
// institution account of the dataset's organisation).
type ClientLedger struct {
	Client *client.Client
	Key    *keys.Key
	// Timeout bounds each call (an ingest as a whole may take long); 0
	// means only the caller's context does.
	Timeout time.Duration
}

func (c ClientLedger) ctx(ctx context.Context) (context.Context, context.CancelFunc) {
	if c.Timeout > 0 {
		return context.WithTimeout(ctx, c.Timeout)
	}
	return context.WithCancel(ctx)
}

var _ Ledger = ClientLedger{}

// LatestVersion asks the node for the dataset.
func (c ClientLedger) LatestVersion(ctx context.Context, dataset string) (uint64, error) {
	ctx, cancel := c.ctx(ctx)
	defer cancel()
	d, err := c.Client.Dataset(ctx, dataset)
	if client.IsNotFound(err) {
		return 0, nil
	}
	if err != nil {
		return 0, err
	}
	return d.LatestVersion, nil
}

// WorkerKeys asks the node for the publishing key's account, its
// organisation's registered workers, and each worker account's encryption
// key. A key without an organisation has no workers (and may not publish:
// the ledger will refuse it).
func (c ClientLedger) WorkerKeys(ctx context.Context) ([][]byte, error) {
	ctx, cancel := c.ctx(ctx)
	defer cancel()
	a, err := c.Client.Account(ctx, c.Key.Address())
	if client.IsNotFound(err) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	if a.Org == "" {
		return nil, nil
	}
	ws, err := c.Client.Workers(ctx, a.Org)
	if err != nil {
		return nil, err
	}
	out := make([][]byte, 0, len(ws))
	for _, w := range ws {
		wa, err := c.Client.Account(ctx, w.Address)
		if err != nil {
			return nil, fmt.Errorf("worker %s: %w", w.Address, err)
		}
		out = append(out, wa.EncKey)
	}
	return out, nil
}

// Publish signs and submits register_dataset and waits for its commit. A
// refusal by the node or a committed failure is a plain error; losing the
// node after the transaction may have reached it wraps ErrUncertain.
func (c ClientLedger) Publish(ctx context.Context, m *ledger.RegisterDataset) (*Published, error) {
	ctx, cancel := c.ctx(ctx)
	defer cancel()
	tx, err := c.Client.Sign(ctx, c.Key, m)
	if err != nil {
		return nil, err // nothing was sent
	}
	res, err := c.Client.Submit(ctx, tx, true)
	var apiErr *client.Error
	switch {
	case errors.As(err, &apiErr) && apiErr.Status != 0:
		return nil, err // the node answered: refused
	case err != nil:
		return nil, fmt.Errorf("%w: %w", ErrUncertain, err)
	}
	for res.Result == nil { // accepted, not committed within the node's wait
		rec, err := c.Client.Tx(ctx, res.Hash)
		switch {
		case err == nil:
			res.Result = rec
		case client.IsNotFound(err):
			select {
			case <-ctx.Done():
				return nil, fmt.Errorf("%w: transaction %s accepted but not committed: %w", ErrUncertain, res.Hash, ctx.Err())
			case <-time.After(200 * time.Millisecond):
			}
		default:
			return nil, fmt.Errorf("%w: transaction %s: %w", ErrUncertain, res.Hash, err)
		}
	}
	if err := client.ResultError(res); err != nil {
		return nil, err
	}
	return &Published{TxHash: res.Hash, Height: res.Result.Height}, nil
}
