package iomt

import (
	"context"
	"crypto/ed25519"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/medchain/medchain/device"
	"github.com/medchain/medchain/vocab"
)

// Live streams. Whoever may follow a device — decided by an Authorizer
// from the ledger and the institution's links — receives its readings as
// server-sent events once they are stored. Nobody else receives anything:
// no event, and no word on whether the device streams at all.

// subBuffer is how many readings a follower may lag behind before it is
// cut off: a slow follower never slows ingestion.
const subBuffer = 256

type subscriber struct {
	ch     chan device.Reading
	closed bool
}

type subscribers struct {
	mu   sync.Mutex
	byID map[string]map[*subscriber]struct{}
}

// Subscribe returns a channel of the device's readings stored from now on,
// and a function to stop. The channel is closed if the follower falls
// more than subBuffer readings behind, or when stop is called.
func (g *Ingest) Subscribe(dev string) (<-chan device.Reading, func()) {
	s := &subscriber{ch: make(chan device.Reading, subBuffer)}
	g.subs.mu.Lock()
	if g.subs.byID == nil {
		g.subs.byID = map[string]map[*subscriber]struct{}{}
	}
	if g.subs.byID[dev] == nil {
		g.subs.byID[dev] = map[*subscriber]struct{}{}
	}
	g.subs.byID[dev][s] = struct{}{}
	g.subs.mu.Unlock()
	return s.ch, func() {
		g.subs.mu.Lock()
		defer g.subs.mu.Unlock()
		g.drop(dev, s)
	}
}

// drop (under subs.mu) removes a subscriber and closes its channel.
func (g *Ingest) drop(dev string, s *subscriber) {
	if !s.closed {
		s.closed = true
		close(s.ch)
	}
	delete(g.subs.byID[dev], s)
	if len(g.subs.byID[dev]) == 0 {
		delete(g.subs.byID, dev)
	}
}

// setLive sets a function every stored reading is also handed to (the
// broker's live topics).
func (g *Ingest) setLive(fn func(*device.Reading)) { g.live.Store(&fn) }

// publish hands a stored reading to the device's followers.
func (g *Ingest) publish(r *device.Reading) {
	if fn := g.live.Load(); fn != nil {
		(*fn)(r)
	}
	g.subs.mu.Lock()
	defer g.subs.mu.Unlock()
	for s := range g.subs.byID[r.Device] {
		select {
		case s.ch <- *r:
		default:
			g.drop(r.Device, s)
		}
	}
}

// StreamRequest is the signed part of a stream request: the follower
// signs "medchain/device/stream/v1", the chain id, the device and the
// time (Unix milliseconds), NUL-separated, with its account key.
func StreamRequest(chainID, dev string, ms int64) []byte {
	return fmt.Appendf(nil, "medchain/device/stream/v1\x00%s\x00%s\x00%d", chainID, dev, ms)
}

// streamSkew is how far a stream request's time may be from the node's.
const streamSkew = 60 * time.Second

// StreamHandler serves GET /v1/devices/{id}/stream?key=HEX&ts=MS&sig=HEX:
// a request signed by an account key (StreamRequest) within a minute of
// the node's clock, by an account the Authorizer lets follow the device,
// gets the device's readings as server-sent events ("event: reading",
// data: the reading as JSON, without signature) from now on. A request
// without a valid signature is 401, one not allowed 403; neither says
// anything about the device.
func StreamHandler(g *Ingest, auth Authorizer, chainID func() string) http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /v1/devices/{id}/stream", func(w http.ResponseWriter, r *http.Request) {
		dev := r.PathValue("id")
		q := r.URL.Query()
		pub, err1 := hex.DecodeString(q.Get("key"))
		sig, err2 := hex.DecodeString(q.Get("sig"))
		ms, err3 := strconv.ParseInt(q.Get("ts"), 10, 64)
		switch {
		case err1 != nil || len(pub) != ed25519.PublicKeySize:
			httpError(w, http.StatusUnauthorized, "key: want the account's ed25519 public key, 64 hex digits")
			return
		case err2 != nil || len(sig) != ed25519.SignatureSize:
			httpError(w, http.StatusUnauthorized, "sig: want an ed25519 signature, 128 hex digits")
			return
		case err3 != nil:
			httpError(w, http.StatusUnauthorized, "ts: want Unix milliseconds")
			return
		case !vocab.IsID(dev):
			httpError(w, http.StatusBadRequest, "id: not a device id")
			return
		}
		if d := time.Since(time.UnixMilli(ms)); d > streamSkew || d < -streamSkew {
			httpError(w, http.StatusUnauthorized, "ts: more than a minute from the node's clock")
			return
		}
		if !ed25519.Verify(pub, StreamRequest(chainID(), dev, ms), sig) {
			httpError(w, http.StatusUnauthorized, "sig: does not verify for this chain, device and time")
			return
		}
		account := vocab.Address(pub)
		changed := auth.Changed()
		ok, err := auth.MayFollow(r.Context(), account, dev)
		if err != nil {
			httpError(w, http.StatusServiceUnavailable, "cannot read the ledger now")
			return
		}
		if !ok {
			httpError(w, http.StatusForbidden, "this account may not follow this device")
			return
		}
		fl, canFlush := w.(http.Flusher)
		if !canFlush {
			httpError(w, http.StatusInternalServerError, "streaming unsupported")
			return
		}
		ch, stop := g.Subscribe(dev)
		defer stop()
		ctx, cancel := context.WithCancel(r.Context())
		defer cancel()
		revoked := make(chan struct{})
		go func() {
			defer close(revoked)
			stillAllowed(ctx, auth, changed, account, dev)
		}()
		w.Header().Set("Content-Type", "text/event-stream")
		w.Header().Set("Cache-Control", "no-store")
		w.WriteHeader(http.StatusOK)
		fmt.Fprint(w, ": following\n\n")
		fl.Flush()
		beat := time.NewTicker(15 * time.Second)
		defer beat.Stop()
		for {
			select {
			case <-r.Context().Done():
				return
			case <-revoked:
				// No longer allowed (or no longer decidable): nothing
				// more is sent, whatever is queued.
				fmt.Fprint(w, "event: revoked\ndata: {}\n\n")
				fl.Flush()
				return
			case <-beat.C:
				fmt.Fprint(w, ": keep-alive\n\n")
			case rd, open := <-ch:
				if isClosed(revoked) {
					fmt.Fprint(w, "event: revoked\ndata: {}\n\n")
					fl.Flush()
					return
				}
				if !open {
					fmt.Fprint(w, "event: lagging\ndata: {}\n\n")
					fl.Flush()
					return
				}
				b, _ := json.Marshal(rd)
				fmt.Fprintf(w, "event: reading\ndata: %s\n\n", b)
			}
			fl.Flush()
		}
	})
	return mux
}
