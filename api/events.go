package api

import (
	"bytes"
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/medchain/medchain/ledger"
	"github.com/medchain/medchain/store"
)

// GET /v1/events is a Server-Sent Events stream (the W3C EventSource
// protocol) of what a page would otherwise poll for:
//
//	event: block   data: {"height":…,"app_hash":"…","audit_size":…}
//	event: job     data: {"id":…,"status":"…","height":…}   (with ?job=ID)
//
// A block event is sent when the stream opens (the latest committed block)
// and then for each newly committed height; a job event when the stream
// opens and then each time the job's ledger record changes (admission,
// study rounds and iterations, results, refusals, exclusions, settlement).
// Events say that something changed and where; the page reads the details
// from the ordinary routes. They carry only public ledger metadata.
//
// The stream watches committed state in the node's own process every
// EventPoll — reading a height is a lock and a few loads — and pushes to the
// client; the client never polls. Each open stream holds a connection and a
// goroutine, so at most Config.EventStreams are open at once: one more is
// refused with 429 (the page then falls back to polling). Opening a stream
// is rate-limited per client like a scan, but an open stream holds none of
// the scan class's concurrent slots. Streams end when
// the client leaves or when the server's base context ends (the node
// stopping: see node.Stop and http.Server.BaseContext).

// DefaultEventStreams bounds open event streams when Config.EventStreams is 0.
const DefaultEventStreams = 64

// EventPoll is how often a stream looks at committed state.
const EventPoll = 100 * time.Millisecond

// eventKeepAlive is how often an idle stream sends a comment, so proxies
// and the client see the connection is alive.
const eventKeepAlive = 15 * time.Second

// eventWrite bounds the writing of one event: a client that stops reading
// is cut off rather than holding the stream.
const eventWrite = 10 * time.Second

// BlockEvent is the data of an SSE "block" event.
type BlockEvent struct {
	Height    int64           `json:"height"`
	AppHash   ledger.HexBytes `json:"app_hash"`
	AuditSize uint64          `json:"audit_size"`
}

// JobEvent is the data of an SSE "job" event.
type JobEvent struct {
	ID     uint64 `json:"id"`
	Status string `json:"status"`
	Height int64  `json:"height"` // the committed height at which the change was seen
}

// eventStreams counts open streams against a bound.
type eventStreams struct {
	open atomic.Int64
	max  int64
}

func (e *eventStreams) acquire() bool {
	if e.open.Add(1) > e.max {
		e.open.Add(-1)
		return false
	}
	return true
}

func (e *eventStreams) release() { e.open.Add(-1) }

// OpenEventStreams is how many event streams are open now (for tests and
// metrics).
func (s *Server) OpenEventStreams() int { return int(s.streams.open.Load()) }

// events serves GET /v1/events.
func (s *Server) events(w http.ResponseWriter, r *http.Request) {
	var job uint64
	watchJob := false
	if v := r.URL.Query().Get("job"); v != "" {
		id, err := strconv.ParseUint(v, 10, 64)
		if err != nil {
			writeErr(w, badParam("job", "%q is not a job id (a whole number)", v))
			return
		}
		job, watchJob = id, true
		j, err := lookup(s, func(rd store.ReadWriter) (*ledger.Job, error) { return ledger.GetJob(rd, id) })
		if err == nil && j == nil {
			err = notFound("no job %d", id)
		}
		if err != nil {
			writeErr(w, err)
			return
		}
	}
	if !s.streams.acquire() {
		writeErr(w, rateLimited("%d event streams are open, the most this node serves; poll GET /v1/status instead", s.streams.max))
		return
	}
	defer s.streams.release()
	rc := http.NewResponseController(w)
	h := w.Header()
	h.Set("Content-Type", "text/event-stream")
	h.Set("Cache-Control", "no-store")
	h.Set("X-Accel-Buffering", "no")
	w.WriteHeader(http.StatusOK)
	send := func(b []byte) bool {
		// Each write gets its own deadline, replacing the server's write
		// timeout (which bounds whole answers, and a stream has no end).
		_ = rc.SetWriteDeadline(time.Now().Add(eventWrite))
		if _, err := w.Write(b); err != nil {
			return false
		}
		return rc.Flush() == nil
	}
	// retry: how long EventSource waits before reconnecting.
	if !send([]byte("retry: 2000\n\n")) {
		return
	}
	var lastHeight int64 = -1
	var lastJob [32]byte
	jobSeen := false
	tick := time.NewTicker(EventPoll)
	defer tick.Stop()
	idle := time.Now()
	for {
		var c ledger.Commitment
		var j *ledger.Job
		err := s.b.View(func(rd store.ReadWriter, cm ledger.Commitment) error {
			c = cm
			if !watchJob || cm.Height == lastHeight {
				return nil
			}
			var err error
			j, err = ledger.GetJob(rd, job)
			return err
		})
		if err != nil {
			send(sseEvent("error", 0, map[string]string{"message": "reading committed state failed"}))
			return
		}
		if c.Height != lastHeight {
			lastHeight = c.Height
			if !send(sseEvent("block", c.Height, BlockEvent{Height: c.Height, AppHash: c.AppHash, AuditSize: c.AuditSize})) {
				return
			}
			idle = time.Now()
			if j != nil {
				b, _ := json.Marshal(j)
				if sum := sha256.Sum256(b); !jobSeen || sum != lastJob {
					lastJob, jobSeen = sum, true
					if !send(sseEvent("job", 0, JobEvent{ID: j.ID, Status: j.Status, Height: c.Height})) {
						return
					}
				}
			}
		} else if time.Since(idle) >= eventKeepAlive {
			if !send([]byte(": keep-alive\n\n")) {
				return
			}
			idle = time.Now()
		}
		select {
		case <-r.Context().Done():
			return
		case <-tick.C:
		}
	}
}

// sseEvent frames one event; id (the block height) lets a reconnecting
// client say where it was, and is left out when 0.
func sseEvent(name string, id int64, data any) []byte {
	var b bytes.Buffer
	fmt.Fprintf(&b, "event: %s\n", name)
	if id > 0 {
		fmt.Fprintf(&b, "id: %d\n", id)
	}
	d, _ := json.Marshal(data)
	b.WriteString("data: ")
	b.Write(d)
	b.WriteString("\n\n")
	return b.Bytes()
}
