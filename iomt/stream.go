package iomt

import (
	"context"
	"crypto/ed25519"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/coder/websocket"
	"github.com/coder/websocket/wsjson"

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
// gets the device's readings from now on — as server-sent events
// ("event: reading", data: the reading as JSON, without signature), or,
// if the request asks to upgrade to a WebSocket, as text messages
// ({"event":"reading","reading":{…}}). A request without a valid
// signature is 401, one not allowed 403; neither says anything about the
// device. The follower is decided again at every change of the ledger;
// once no longer allowed, its stream ends ("revoked").
func StreamHandler(g *Ingest, auth Authorizer, chainID func() string) http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc(RouteStream, func(w http.ResponseWriter, r *http.Request) {
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
		if !fresh(ms) {
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
		// A stream outlives the server's request timeouts: each write
		// gets its own deadline instead (the connection keeps these after
		// a WebSocket takes it over).
		rc := http.NewResponseController(w)
		rc.SetReadDeadline(time.Time{})
		rc.SetWriteDeadline(time.Time{})
		f := &follow{g: g, auth: auth, changed: changed, account: account, dev: dev}
		if strings.EqualFold(r.Header.Get("Upgrade"), "websocket") {
			f.websocket(w, r)
			return
		}
		f.sse(w, r)
	})
	return mux
}

// writeWait is how long one write to a follower may take: a follower
// that reads nothing for that long is cut off.
const writeWait = 10 * time.Second

// follow is one allowed follower's stream.
type follow struct {
	g       *Ingest
	auth    Authorizer
	changed <-chan struct{} // taken before the decision that allowed it
	account string
	dev     string
}

// Why a stream ends, as its last event.
const (
	endRevoked = "revoked" // no longer allowed to follow
	endLagging = "lagging" // more than subBuffer readings behind
)

// run hands each reading stored from now on to send, and keep-alives to
// beat, until ctx ends (""), the follower is no longer allowed
// (endRevoked) or lags (endLagging); an error from send or beat ends it
// too (""). A reading queued when the permission ends is not sent.
func (f *follow) run(ctx context.Context, send func(device.Reading) error, beat func() error) string {
	ch, stop := f.g.Subscribe(f.dev)
	defer stop()
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	revoked := make(chan struct{})
	go func() {
		defer close(revoked)
		stillAllowed(ctx, f.auth, f.changed, f.account, f.dev)
	}()
	tick := time.NewTicker(15 * time.Second)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return ""
		case <-revoked:
			if ctx.Err() != nil {
				return ""
			}
			return endRevoked
		case <-tick.C:
			if beat() != nil {
				return ""
			}
		case rd, open := <-ch:
			switch {
			case isClosed(revoked) && ctx.Err() == nil:
				return endRevoked
			case !open:
				return endLagging
			}
			if send(rd) != nil {
				return ""
			}
		}
	}
}

func (f *follow) sse(w http.ResponseWriter, r *http.Request) {
	rc := http.NewResponseController(w)
	write := func(format string, args ...any) error {
		rc.SetWriteDeadline(time.Now().Add(writeWait))
		_, err := fmt.Fprintf(w, format, args...)
		if err == nil {
			err = rc.Flush()
		}
		return err
	}
	w.Header().Set("Content-Type", "text/event-stream")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(http.StatusOK)
	if write(": following\n\n") != nil {
		return
	}
	end := f.run(r.Context(), func(rd device.Reading) error {
		b, _ := json.Marshal(rd)
		return write("event: reading\ndata: %s\n\n", b)
	}, func() error {
		return write(": keep-alive\n\n")
	})
	if end != "" {
		write("event: %s\ndata: {}\n\n", end)
	}
}

// StreamMessage is a message of a stream over a WebSocket.
type StreamMessage struct {
	Event   string          `json:"event"` // "reading", "revoked" or "lagging"
	Reading *device.Reading `json:"reading,omitempty"`
}

// websocket serves the stream over a WebSocket (coder/websocket): the
// follower sends nothing; the stream ends with a "revoked" or "lagging"
// message and a close (1008 policy violation, 1013 try again later).
func (f *follow) websocket(w http.ResponseWriter, r *http.Request) {
	// The request is authenticated by its own signature, not by cookies,
	// so a page of any origin gains nothing a signer could not do anyway.
	c, err := websocket.Accept(w, r, &websocket.AcceptOptions{InsecureSkipVerify: true})
	if err != nil {
		return // Accept has answered
	}
	defer c.CloseNow()
	ctx := c.CloseRead(r.Context()) // a follower sends nothing; its close ends ctx
	write := func(m StreamMessage) error {
		wctx, cancel := context.WithTimeout(ctx, writeWait)
		defer cancel()
		return wsjson.Write(wctx, c, m)
	}
	end := f.run(ctx, func(rd device.Reading) error {
		return write(StreamMessage{Event: "reading", Reading: &rd})
	}, func() error {
		pctx, cancel := context.WithTimeout(ctx, writeWait)
		defer cancel()
		return c.Ping(pctx)
	})
	switch end {
	case endRevoked:
		write(StreamMessage{Event: end})
		c.Close(websocket.StatusPolicyViolation, "no longer allowed to follow")
	case endLagging:
		write(StreamMessage{Event: end})
		c.Close(websocket.StatusTryAgainLater, "too far behind")
	}
}
