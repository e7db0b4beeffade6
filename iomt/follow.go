package iomt

import (
	"context"
	"sync"
)

// Authorizer decides whether the account (address) may follow a device's
// readings. Its answers hold until the ledger changes: Changed returns a
// channel closed when it next does (a block committed), after which every
// open stream and subscription is decided again — a revoked consent or a
// suspended account stops them within a block.
type Authorizer interface {
	MayFollow(ctx context.Context, account, dev string) (bool, error)
	Changed() <-chan struct{}
}

// stillAllowed waits for the ledger to change and decides again, until
// the account may no longer follow the device (or the decision cannot be
// made: fail closed) — then it returns — or ctx ends. Call it with the
// Changed channel taken before the decision that let the stream start, so
// that no block falls between the two.
func stillAllowed(ctx context.Context, auth Authorizer, changed <-chan struct{}, account, dev string) {
	for {
		select {
		case <-ctx.Done():
			return
		case <-changed:
		}
		changed = auth.Changed()
		if ok, err := auth.MayFollow(ctx, account, dev); err != nil || !ok {
			return
		}
	}
}

// decisions caches an Authorizer's answers until the ledger changes: the
// broker checks a follower at every reading it delivers, and an answer
// costs ledger and vault reads.
type decisions struct {
	auth    Authorizer
	mu      sync.Mutex
	changed <-chan struct{}
	known   map[[2]string]bool
}

// maxDecisions bounds the cache; past it, it starts again.
const maxDecisions = 10_000

func (d *decisions) may(ctx context.Context, account, dev string) bool {
	k := [2]string{account, dev}
	d.mu.Lock()
	if d.known == nil || isClosed(d.changed) {
		d.changed, d.known = d.auth.Changed(), make(map[[2]string]bool)
	}
	changed := d.changed
	ok, cached := d.known[k]
	d.mu.Unlock()
	if cached {
		return ok
	}
	ok, err := d.auth.MayFollow(ctx, account, dev)
	if err != nil {
		return false // not cached: asked again next time
	}
	d.mu.Lock()
	// An answer given as of an older ledger is not kept.
	if d.changed == changed && !isClosed(changed) {
		if len(d.known) >= maxDecisions {
			clear(d.known)
		}
		d.known[k] = ok
	}
	d.mu.Unlock()
	return ok
}

func isClosed(ch <-chan struct{}) bool {
	if ch == nil {
		return false
	}
	select {
	case <-ch:
		return true
	default:
		return false
	}
}
