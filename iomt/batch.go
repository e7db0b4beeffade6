package iomt

import "sync"

// batcher runs work on batches of the requests that arrive together, on
// the requesters' own goroutines: a requester that finds fewer than max
// batches running leads one — takes everything queued, runs it, answers
// everyone — and the others wait for their answer, or to be asked to
// lead the next batch when a leader finishes and requests are queued. No
// goroutine of its own, so no hand-over to one (a scheduling delay a
// loaded machine makes long); up to max batches run at once, one per
// core.
type batcher[Q, A any] struct {
	run func([]Q) []A // answers[i] for requests[i]
	max int

	mu      sync.Mutex
	queue   []*call[Q, A]
	running int
}

type call[Q, A any] struct {
	q     Q
	a     A
	asked bool      // asked to lead (at most once)
	wake  chan bool // true: answered; false: lead a batch
}

func newBatcher[Q, A any](max int, run func([]Q) []A) *batcher[Q, A] {
	return &batcher[Q, A]{run: run, max: max}
}

// do returns q's answer, from a batch this goroutine or another ran.
func (b *batcher[Q, A]) do(q Q) A {
	// Room for both wakes a call can get: asked to lead, then answered.
	c := &call[Q, A]{q: q, wake: make(chan bool, 2)}
	b.mu.Lock()
	b.queue = append(b.queue, c)
	lead := b.running < b.max
	if lead {
		b.running++
	}
	b.mu.Unlock()
	for {
		if lead {
			b.lead()
		}
		if <-c.wake {
			return c.a
		}
		lead = true
	}
}

// lead runs one batch of what is queued, answers it, then passes its slot
// to a queued request or gives it up.
func (b *batcher[Q, A]) lead() {
	b.mu.Lock()
	batch := b.queue
	b.queue = nil
	b.mu.Unlock()
	if len(batch) > 0 {
		qs := make([]Q, len(batch))
		for i, c := range batch {
			qs[i] = c.q
		}
		as := b.run(qs)
		for i, c := range batch {
			c.a = as[i]
			c.wake <- true
		}
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	for _, c := range b.queue {
		if !c.asked {
			c.asked = true
			c.wake <- false
			return
		}
	}
	b.running--
}
