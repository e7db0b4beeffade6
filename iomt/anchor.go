package iomt

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/medchain/medchain/device"
	"github.com/medchain/medchain/vault/series"
	"github.com/medchain/medchain/vocab"
)

// AnchorLedger is what anchoring needs of the ledger.
type AnchorLedger interface {
	// LastAnchor is the number of this node's latest anchor on the
	// ledger (0: none).
	LastAnchor(ctx context.Context) (uint64, error)
	// SubmitAnchor records anchor seq with its root and banded count, and
	// returns once it is committed.
	SubmitAnchor(ctx context.Context, seq uint64, root [32]byte, band string) error
}

// Cut closes the current anchor interval: the readings stored since the
// last one become anchor number Seq, whose marker is in the store (synced)
// when Cut returns, between two frames. It returns nil if no reading was
// stored since.
func (g *Ingest) Cut() (*series.Anchor, error) {
	select {
	case <-g.quit:
		return nil, ErrClosed
	default:
	}
	g.storeMu.Lock()
	defer g.storeMu.Unlock()
	if len(g.leaves) == 0 {
		return nil, nil
	}
	t, err := device.NewTree(g.leaves)
	if err != nil {
		return nil, err
	}
	a := series.Anchor{Seq: g.lastMark + 1, Count: t.Size(), Root: t.Root()}
	if _, err := g.cfg.Store.Mark(a); err != nil {
		return nil, err
	}
	g.leaves, g.lastMark = g.leaves[:0], a.Seq
	g.markersMu.Lock()
	g.markers = append(g.markers, a)
	g.markersMu.Unlock()
	return &a, nil
}

// Band is what the ledger is told of an anchor's size: the record band of
// its count (vocab.RecordBand), never the exact count.
func Band(count uint64) string { return vocab.RecordBand(count) }

// Anchor runs until ctx ends: every interval it cuts an anchor and submits
// it, and first submits the anchors the store has marked but the ledger
// does not have (a crash between marker and transaction). A submission
// that fails is retried at the next tick, in order; readings go on being
// accepted meanwhile.
func (g *Ingest) Anchor(ctx context.Context, l AnchorLedger, interval time.Duration, log *slog.Logger) {
	t := time.NewTicker(interval)
	defer t.Stop()
	var last uint64
	known := false
	for {
		if !known {
			n, err := l.LastAnchor(ctx)
			if err == nil {
				last, known = n, true
			} else if ctx.Err() == nil {
				log.Warn("iomt: reading the last anchor from the ledger", "err", err)
			}
		}
		if known {
			if _, err := g.Cut(); err != nil && !errors.Is(err, ErrClosed) {
				log.Warn("iomt: cutting an anchor", "err", err)
			}
			for _, a := range g.markersAfter(last) {
				if err := l.SubmitAnchor(ctx, a.Seq, a.Root, Band(a.Count)); err != nil {
					if ctx.Err() == nil {
						log.Warn("iomt: submitting an anchor", "anchor", a.Seq, "err", err)
					}
					known = false // ask the ledger again: it may have committed
					break
				}
				last = a.Seq
			}
		}
		select {
		case <-ctx.Done():
			return
		case <-g.quit:
			return
		case <-t.C:
		}
	}
}

func (g *Ingest) markersAfter(seq uint64) []series.Anchor {
	g.markersMu.Lock()
	defer g.markersMu.Unlock()
	var out []series.Anchor
	for _, a := range g.markers {
		if a.Seq > seq {
			out = append(out, a)
		}
	}
	return out
}

// Inclusion is a stored reading with its proof against its anchor.
type Inclusion struct {
	Reading   device.Signed `json:"reading"`
	AnchorSeq uint64        `json:"anchor_seq"` // the anchor's number
	Root      [32]byte      `json:"-"`
	Proof     *device.Proof `json:"proof"`
}

// ErrNotStored: no stored reading has that device and sequence number.
var ErrNotStored = errors.New("no such reading in the store")

// ErrNotAnchored: the reading is stored, but its anchor is not cut yet.
var ErrNotAnchored = errors.New("the reading is not anchored yet")

// Prove finds a stored reading and builds its inclusion proof against the
// anchor that covers it, from the store alone: the readings between two
// markers are that anchor's leaves, in order. It reads the whole store.
func Prove(st *series.Store, dev string, seq uint64) (*Inclusion, error) {
	var leaves [][32]byte
	var found *Inclusion
	var index uint64
	stop := errors.New("stop")
	err := st.Scan(series.All, func(f *series.Frame) error {
		if f.Anchor != nil {
			if found != nil {
				t, err := device.NewTree(leaves)
				if err != nil {
					return err
				}
				if t.Root() != f.Anchor.Root {
					return fmt.Errorf("iomt: anchor %d: the stored readings give another root than its marker", f.Anchor.Seq)
				}
				p, err := t.Prove(index)
				if err != nil {
					return err
				}
				found.AnchorSeq, found.Root, found.Proof = f.Anchor.Seq, f.Anchor.Root, p
				return stop
			}
			leaves = leaves[:0]
			return nil
		}
		for i := range f.Readings {
			r := &f.Readings[i]
			if found == nil && r.Device == dev && r.Seq == seq {
				found, index = &Inclusion{Reading: r.Signed}, uint64(len(leaves))
			}
			leaves = append(leaves, r.LeafHash())
		}
		return nil
	})
	switch {
	case errors.Is(err, stop):
		return found, nil
	case err != nil:
		return nil, err
	case found == nil:
		return nil, fmt.Errorf("iomt: device %s seq %d: %w", dev, seq, ErrNotStored)
	}
	return nil, fmt.Errorf("iomt: device %s seq %d: %w", dev, seq, ErrNotAnchored)
}

// ProveAll calls fn with the inclusion proof of every anchored reading in
// the store, anchor by anchor, in one pass (readings after the last
// marker are not anchored yet and are skipped). It checks each anchor's
// readings give the root its marker recorded.
func ProveAll(st *series.Store, fn func(*Inclusion) error) error {
	var pending []device.Signed
	var leaves [][32]byte
	return st.Scan(series.All, func(f *series.Frame) error {
		if f.Anchor == nil {
			for i := range f.Readings {
				pending = append(pending, f.Readings[i].Signed)
				leaves = append(leaves, f.Readings[i].LeafHash())
			}
			return nil
		}
		t, err := device.NewTree(leaves)
		if err != nil {
			return err
		}
		if t.Root() != f.Anchor.Root {
			return fmt.Errorf("iomt: anchor %d: the stored readings give another root than its marker", f.Anchor.Seq)
		}
		for i := range pending {
			p, err := t.Prove(uint64(i))
			if err != nil {
				return err
			}
			if err := fn(&Inclusion{Reading: pending[i], AnchorSeq: f.Anchor.Seq, Root: f.Anchor.Root, Proof: p}); err != nil {
				return err
			}
		}
		pending, leaves = pending[:0], leaves[:0]
		return nil
	})
}
