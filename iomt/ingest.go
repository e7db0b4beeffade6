// Package iomt runs a node's medical-device ingestion: readings arrive
// over MQTT (an embedded broker) or HTTP batches, are checked by package
// device against the device's registration on the ledger, pseudonymised
// (device → patient pseudonym, from the vault's device link table),
// appended to the vault's sealed time series (package vault/series) and
// acknowledged only once synced to disk; once per interval the readings
// accepted since the last anchor are anchored on the ledger as a Merkle
// root with a banded count.
//
// Acknowledgement is group-committed: the readings that arrive while one
// batch is being synced go into the next, so one fsync acknowledges many
// readings from many devices.
package iomt

import (
	"context"
	"crypto/ed25519"
	"errors"
	"fmt"
	"runtime"
	"sync"
	"sync/atomic"
	"time"

	"github.com/medchain/medchain/device"
	"github.com/medchain/medchain/vault/series"
)

// Registry is what ingestion needs of the ledger: a device's registration,
// nil if the device is not registered. It is called once per reading, so
// implementations cache.
type Registry interface {
	Device(id string) *device.Info
}

// Links gives the pseudonym of the patient a device is linked to
// (*vault.DeviceLinks is one).
type Links interface {
	Pseudonym(device string) (string, bool)
}

// Unlinked is the reason given for a reading of a registered device that
// the institution has linked to no patient: it cannot be attributed, so
// it is not stored.
const Unlinked device.Reason = "device_unlinked"

// Config configures an Ingest.
type Config struct {
	Store    *series.Store
	Registry Registry
	// Links loads the device link table; it is called at start and again
	// when a reading's device has no link (a device just linked).
	Links  func() (Links, error)
	Policy device.Policy
	// Now is the clock readings' times are checked against (time.Now if
	// nil).
	Now func() time.Time
}

// Ingest accepts readings. It is safe for concurrent use.
type Ingest struct {
	cfg   Config
	links atomic.Pointer[linksBox]

	mu   sync.Mutex
	devs map[string]*devState

	// closeMu is held (read) by every Submit, so that Close waits for
	// the readings already submitted.
	closeMu sync.RWMutex
	closed  bool
	quit    chan struct{}

	// commit writes readings to the store in group-committed batches.
	commit *batcher[*pending, error]

	// storeMu is the store's one writer: a batch's frame or an anchor's
	// marker at a time, so that an anchor covers exactly the frames
	// between two markers. It guards leaves and lastMark.
	storeMu   sync.Mutex
	leaves    [][32]byte
	lastMark  uint64
	markers   []series.Anchor // every anchor marker in the store, in order
	markersMu sync.Mutex

	accepted atomic.Uint64
	verify   *batcher[sigCheck, bool] // signatures, verified in batches
	stats    stats
	subs     subscribers
	live     atomic.Pointer[func(*device.Reading)]
}

type linksBox struct{ l Links }

// devState is one device's replay window and the sequence numbers being
// stored right now (checked against, so that two copies of one reading
// arriving together cannot both pass).
type devState struct {
	mu       sync.Mutex
	w        device.Window
	inflight map[uint64]struct{}
}

type pending struct {
	rec  series.Record
	leaf [32]byte
}

// New starts ingestion on cfg.Store, first reading the store back: every
// stored reading's sequence number is marked in its device's window (so
// nothing stored before a restart can be stored again), and the readings
// after the last anchor marker are the next anchor's.
func New(cfg Config) (*Ingest, error) {
	if cfg.Store == nil || cfg.Registry == nil || cfg.Links == nil {
		return nil, errors.New("iomt: Store, Registry and Links are required")
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	g := &Ingest{cfg: cfg, devs: make(map[string]*devState), quit: make(chan struct{}), stats: newStats()}
	g.verify = newBatcher(runtime.GOMAXPROCS(0), verifyBatch)
	// One batch at a time: the readings that arrive while one frame is
	// being synced form the next (group commit).
	g.commit = newBatcher(1, g.write)
	l, err := cfg.Links()
	if err != nil {
		return nil, fmt.Errorf("iomt: device links: %w", err)
	}
	g.links.Store(&linksBox{l})
	err = cfg.Store.Scan(series.All, func(f *series.Frame) error {
		if f.Anchor != nil {
			g.leaves, g.lastMark = g.leaves[:0], f.Anchor.Seq
			g.markers = append(g.markers, *f.Anchor)
			return nil
		}
		for i := range f.Readings {
			r := &f.Readings[i]
			g.dev(r.Device).w.Mark(r.Seq)
			g.leaves = append(g.leaves, r.LeafHash())
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("iomt: reading the store back: %w", err)
	}
	return g, nil
}

func (g *Ingest) dev(id string) *devState {
	g.mu.Lock()
	defer g.mu.Unlock()
	d := g.devs[id]
	if d == nil {
		d = &devState{inflight: make(map[uint64]struct{})}
		g.devs[id] = d
	}
	return d
}

// Close stops accepting readings; readings already submitted are stored
// or refused first.
func (g *Ingest) Close() {
	g.closeMu.Lock()
	defer g.closeMu.Unlock()
	if !g.closed {
		g.closed = true
		close(g.quit)
	}
}

// ErrClosed is returned for readings submitted after Close.
var ErrClosed = errors.New("iomt: ingestion is closed")

// Submit checks a signed reading and, if it passes, stores it; it returns
// once the reading is synced to disk (nil), refused (a *device.Rejection,
// nothing of it stored), or could not be stored (another error, nothing
// acknowledged: the device should send it again).
func (g *Ingest) Submit(ctx context.Context, s *device.Signed) error {
	err := g.submit(ctx, s)
	g.stats.count(err)
	return err
}

func (g *Ingest) submit(ctx context.Context, s *device.Signed) error {
	g.closeMu.RLock()
	defer g.closeMu.RUnlock()
	if g.closed {
		return ErrClosed
	}
	info := g.cfg.Registry.Device(s.Device)
	if info == nil {
		// Checked before any per-device state exists, so that unknown
		// device ids cannot grow memory.
		_, err := g.cfg.Policy.Check(s, nil, &device.Window{}, 0)
		return err
	}
	// The signature, the costly check, is verified first (in a batch with
	// the readings arriving at the same time, outside the device's lock);
	// the checks then run in their order with its outcome.
	sigOK := device.NeedsSignature(info) && g.verify.do(sigCheck{info.Key, s})
	d := g.dev(s.Device)
	d.mu.Lock()
	if _, busy := d.inflight[s.Seq]; busy {
		d.mu.Unlock()
		return &device.Rejection{Device: s.Device, Seq: s.Seq, Reason: device.Replay}
	}
	_, err := g.cfg.Policy.CheckVerified(s, info, &d.w, g.cfg.Now().UnixMilli(), sigOK)
	if err == nil {
		d.inflight[s.Seq] = struct{}{}
	}
	d.mu.Unlock()
	if err != nil {
		return err
	}
	defer func() {
		d.mu.Lock()
		delete(d.inflight, s.Seq)
		d.mu.Unlock()
	}()
	psn, ok := g.pseudonym(s.Device)
	if !ok {
		return &device.Rejection{Device: s.Device, Seq: s.Seq, Reason: Unlinked}
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	// Once handed over, the outcome is awaited whatever the context says:
	// the reading may be stored, and its window must say so.
	p := &pending{rec: series.Record{Pseudonym: psn, Signed: *s}, leaf: s.LeafHash()}
	if err := g.commit.do(p); err != nil {
		return err
	}
	d.mu.Lock()
	d.w.Mark(s.Seq)
	d.mu.Unlock()
	g.accepted.Add(1)
	g.publish(&s.Reading)
	return nil
}

// sigCheck is one reading's signature to verify against its device's key.
type sigCheck struct {
	key ed25519.PublicKey
	s   *device.Signed
}

func verifyBatch(cs []sigCheck) []bool {
	keys := make([]ed25519.PublicKey, len(cs))
	readings := make([]*device.Signed, len(cs))
	for i, c := range cs {
		keys[i], readings[i] = c.key, c.s
	}
	return device.VerifyBatch(keys, readings)
}

func (g *Ingest) pseudonym(dev string) (string, bool) {
	if p, ok := g.links.Load().l.Pseudonym(dev); ok {
		return p, true
	}
	l, err := g.cfg.Links()
	if err != nil {
		return "", false
	}
	g.links.Store(&linksBox{l})
	return l.Pseudonym(dev)
}

// write appends a batch of readings as synced frames (one unless the
// batch passes series.MaxBatch) and answers each: nil once stored.
func (g *Ingest) write(batch []*pending) []error {
	g.storeMu.Lock()
	defer g.storeMu.Unlock()
	errs := make([]error, len(batch))
	recs := make([]series.Record, 0, min(len(batch), series.MaxBatch))
	for lo := 0; lo < len(batch); lo += series.MaxBatch {
		part := batch[lo:min(lo+series.MaxBatch, len(batch))]
		recs = recs[:0]
		for _, p := range part {
			recs = append(recs, p.rec)
		}
		_, err := g.cfg.Store.Append(recs)
		for i, p := range part {
			if errs[lo+i] = err; err == nil {
				g.leaves = append(g.leaves, p.leaf)
			}
		}
	}
	return errs
}
