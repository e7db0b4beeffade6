package iomt

import (
	"cmp"
	"errors"
	"slices"
	"sync"

	"github.com/medchain/medchain/device"
	"github.com/medchain/medchain/vocab"
)

// stats counts outcomes for the console: accepted readings, refusals by
// reason, failures to store. Counts only: no device, no value.
type stats struct {
	mu      sync.Mutex
	stored  uint64
	failed  uint64
	refused map[device.Reason]uint64
}

func newStats() stats { return stats{refused: make(map[device.Reason]uint64)} }

func (s *stats) count(err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	var r *device.Rejection
	switch {
	case err == nil:
		s.stored++
	case errors.As(err, &r):
		s.refused[r.Reason]++
	default:
		s.failed++
	}
}

// Stats is a snapshot of the counts.
type Stats struct {
	Stored  uint64        `json:"stored"`
	Failed  uint64        `json:"failed"` // could not be stored (not acknowledged)
	Refused []ReasonCount `json:"refused"`
}

// ReasonCount is how many readings were refused for one reason.
type ReasonCount struct {
	Reason device.Reason `json:"reason"`
	Count  uint64        `json:"count"`
}

// Stats returns the counts since start.
func (g *Ingest) Stats() Stats {
	g.stats.mu.Lock()
	defer g.stats.mu.Unlock()
	out := Stats{Stored: g.stats.stored, Failed: g.stats.failed}
	for r, n := range g.stats.refused {
		out.Refused = append(out.Refused, ReasonCount{r, n})
	}
	slices.SortFunc(out.Refused, func(a, b ReasonCount) int { return cmp.Compare(a.Reason, b.Reason) })
	return out
}

// BandedStats are the counts as record bands ("<100", "100-999", …): what
// the node answers anyone who asks over HTTP. An exact count, asked for
// before and after a device's reading, would tell whether it was stored
// or why it was refused; a band moves only past its edges.
type BandedStats struct {
	Stored  string              `json:"stored"`
	Failed  string              `json:"failed"`
	Refused []BandedReasonCount `json:"refused"`
}

// BandedReasonCount is the band of readings refused for one reason.
type BandedReasonCount struct {
	Reason device.Reason `json:"reason"`
	Count  string        `json:"count"`
}

// Banded is s with every count as its record band.
func (s Stats) Banded() BandedStats {
	out := BandedStats{Stored: vocab.RecordBand(s.Stored), Failed: vocab.RecordBand(s.Failed), Refused: []BandedReasonCount{}}
	for _, r := range s.Refused {
		out.Refused = append(out.Refused, BandedReasonCount{r.Reason, vocab.RecordBand(r.Count)})
	}
	return out
}
