package bench

import (
	"context"
	"fmt"
	"sync"
	"time"

	abci "github.com/cometbft/cometbft/abci/types"
)

// timed wraps an application and accumulates time spent per ABCI method,
// so the benchmark can say where a block's time goes.
type timed struct {
	abci.Application
	mu    sync.Mutex
	spent map[string]time.Duration
	calls map[string]int
}

func newTimed(a abci.Application) *timed {
	return &timed{Application: a, spent: map[string]time.Duration{}, calls: map[string]int{}}
}

func (t *timed) note(name string, start time.Time) {
	t.mu.Lock()
	t.spent[name] += time.Since(start)
	t.calls[name]++
	t.mu.Unlock()
}

func (t *timed) String() string {
	t.mu.Lock()
	defer t.mu.Unlock()
	s := ""
	for _, k := range []string{"CheckTx", "PrepareProposal", "ProcessProposal", "FinalizeBlock", "Commit"} {
		s += fmt.Sprintf("%s: %d calls %v; ", k, t.calls[k], t.spent[k].Round(time.Millisecond))
	}
	return s
}

func (t *timed) CheckTx(ctx context.Context, r *abci.CheckTxRequest) (*abci.CheckTxResponse, error) {
	defer t.note("CheckTx", time.Now())
	return t.Application.CheckTx(ctx, r)
}

func (t *timed) PrepareProposal(ctx context.Context, r *abci.PrepareProposalRequest) (*abci.PrepareProposalResponse, error) {
	defer t.note("PrepareProposal", time.Now())
	return t.Application.PrepareProposal(ctx, r)
}

func (t *timed) ProcessProposal(ctx context.Context, r *abci.ProcessProposalRequest) (*abci.ProcessProposalResponse, error) {
	defer t.note("ProcessProposal", time.Now())
	return t.Application.ProcessProposal(ctx, r)
}

func (t *timed) FinalizeBlock(ctx context.Context, r *abci.FinalizeBlockRequest) (*abci.FinalizeBlockResponse, error) {
	defer t.note("FinalizeBlock", time.Now())
	return t.Application.FinalizeBlock(ctx, r)
}

func (t *timed) Commit(ctx context.Context, r *abci.CommitRequest) (*abci.CommitResponse, error) {
	defer t.note("Commit", time.Now())
	return t.Application.Commit(ctx, r)
}
