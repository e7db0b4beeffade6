package node

import (
	"maps"
	"sync"

	"github.com/medchain/medchain/api"
	"github.com/medchain/medchain/app"
	"github.com/medchain/medchain/ledger"
	"github.com/medchain/medchain/metrics"
	"github.com/medchain/medchain/store"
)

// jobStatuses are the states a job can be in: the closed set of the jobs
// gauge's label (a state the ledger adds later shows as "other").
var jobStatuses = []string{ledger.JobAdmitted, ledger.JobCompleted, ledger.JobFailed, ledger.JobExpired}

// labelSets are the closed sets every metric label comes from: the
// ledger's registry and code list, its refusal reasons, the API's routes.
func labelSets() metrics.Sets {
	s := metrics.Sets{JobStatuses: jobStatuses, Refusals: ledger.FailReasons, Routes: api.RoutePatterns()}
	for _, t := range ledger.TxTypes {
		s.TxTypes = append(s.TxTypes, string(t))
	}
	for _, c := range ledger.Codes() {
		s.Codes = append(s.Codes, c.String())
	}
	return s
}

// newMetrics builds the node's metrics and hooks them to the app (before
// CometBFT starts, so no block is missed) and to the node's sources.
func (n *Node) newMetrics() *metrics.Metrics {
	m := metrics.New(labelSets(), metrics.Sources{
		Mempool: func() int {
			if n.cmt == nil {
				return 0
			}
			return n.cmt.Mempool().Size()
		},
		Jobs: n.jobCounts,
		Connections: func() int {
			if n.apiConns == nil {
				return 0
			}
			return n.apiConns.Open()
		},
	})
	n.app.SetObserver(blockMetrics{m, &n.blocks})
	return m
}

// blockMetrics turns the app's committed blocks into metrics, and tells
// whoever waits for the ledger to change (the device gateway's followers).
type blockMetrics struct {
	m      *metrics.Metrics
	blocks *blockSignal
}

// blockSignal closes a channel at each committed block.
type blockSignal struct {
	mu sync.Mutex
	ch chan struct{}
}

// next returns a channel closed at the next committed block.
func (s *blockSignal) next() <-chan struct{} {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.ch == nil {
		s.ch = make(chan struct{})
	}
	return s.ch
}

func (s *blockSignal) fire() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.ch != nil {
		close(s.ch)
		s.ch = nil
	}
}

func (b blockMetrics) ObserveBlock(blk app.Block) {
	defer b.blocks.fire()
	out := metrics.Block{Height: blk.Height, Time: blk.Time, Txs: make([]metrics.Tx, len(blk.Txs))}
	for i, t := range blk.Txs {
		tx := metrics.Tx{Type: string(t.Type), Code: t.Result.Code.String()}
		if t.Result.Code == ledger.CodeOK {
			switch t.Type {
			case ledger.TxPostResult:
				tx.Outcome = metrics.OutcomeResult
			case ledger.TxPostContribution:
				tx.Outcome = metrics.OutcomeContribution
			case ledger.TxFailJob:
				tx.Outcome, tx.Reason = metrics.OutcomeRefusal, eventAttr(t.Result.Events, "fail_job", "reason")
			}
		}
		out.Txs[i] = tx
	}
	b.m.ObserveBlock(out)
}

func eventAttr(es []ledger.Event, typ, key string) string {
	for _, e := range es {
		if e.Type != typ {
			continue
		}
		for _, a := range e.Attrs {
			if a.Key == key {
				return a.Value
			}
		}
	}
	return ""
}

// jobCache holds the job counts of one height: counting reads every job,
// so a scrape pays for it at most once a block.
type jobCache struct {
	mu     sync.Mutex
	height int64
	counts map[string]int
}

func (n *Node) jobCounts() (map[string]int, error) {
	c := &n.jobs
	c.mu.Lock()
	defer c.mu.Unlock()
	var h int64
	if err := n.app.View(func(_ store.ReadWriter, cm ledger.Commitment) error { h = cm.Height; return nil }); err != nil {
		return nil, err
	}
	if c.counts != nil && c.height == h {
		return maps.Clone(c.counts), nil
	}
	counts := map[string]int{}
	_, err := ledger.ListJobs(n.app, func(j *ledger.Job) bool {
		counts[j.Status]++
		return false
	})
	if err != nil {
		return nil, err
	}
	c.height, c.counts = h, counts
	return maps.Clone(counts), nil
}
