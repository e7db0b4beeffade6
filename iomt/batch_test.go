package iomt

import (
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// Every request gets its own answer, however requests and batches
// interleave; no more than max batches run at once; requests that arrive
// while batches run are batched together.
func TestBatcher(t *testing.T) {
	var running, most, batches atomic.Int32
	b := newBatcher(2, func(qs []int) []int {
		if n := running.Add(1); n > most.Load() {
			most.Store(n)
		}
		batches.Add(1)
		time.Sleep(time.Millisecond)
		out := make([]int, len(qs))
		for i, q := range qs {
			out[i] = q * 2
		}
		running.Add(-1)
		return out
	})
	var wg sync.WaitGroup
	const n = 2000
	for i := range n {
		wg.Go(func() {
			if got := b.do(i); got != 2*i {
				t.Errorf("request %d answered %d", i, got)
			}
		})
	}
	wg.Wait()
	if most.Load() > 2 {
		t.Errorf("%d batches ran at once, max 2", most.Load())
	}
	if batches.Load() >= n {
		t.Errorf("%d batches for %d requests: nothing was batched", batches.Load(), n)
	}
	if b.running != 0 || len(b.queue) != 0 {
		t.Errorf("left %d running, %d queued", b.running, len(b.queue))
	}
	t.Logf("%d requests in %d batches", n, batches.Load())
}
