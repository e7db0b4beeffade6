package node

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/net/netutil"

	"github.com/medchain/medchain/api"
)

// HTTPSettings bound what the API's HTTP server gives a connection: how
// long a client may take to send a request, how long its answer may take,
// how long an idle keep-alive connection stays open, how many connections
// are open at once, and the rate limits of the costly routes. They are the
// "http" object of <home>/medchain.json; what it leaves out takes the
// default (DefaultHTTP).
type HTTPSettings struct {
	// ReadHeaderTimeout bounds reading a request's headers.
	ReadHeaderTimeout Duration `json:"read_header_timeout"`
	// ReadTimeout bounds reading a whole request, body included: a client
	// that trickles a body is cut off.
	ReadTimeout Duration `json:"read_timeout"`
	// WriteTimeout bounds a request from its headers to the end of its
	// answer. POST /v1/txs?wait=commit, which waits up to 30 s for the
	// commit, has its own longer deadline.
	WriteTimeout Duration `json:"write_timeout"`
	// IdleTimeout closes a keep-alive connection that sends no next request.
	IdleTimeout Duration `json:"idle_timeout"`
	// MaxConns caps open connections; further clients wait to be accepted
	// until one closes. The timeouts above make sure one does.
	MaxConns int `json:"max_conns"`
	// Limits are the per-client rate limits and concurrency caps of the
	// costly routes (api.Limits).
	Limits api.Limits `json:"limits"`
}

// DefaultHTTP are the settings a node runs with unless told otherwise: a
// slow or silent client is cut off within 15 s, an idle one within 20 s.
func DefaultHTTP() HTTPSettings {
	return HTTPSettings{
		ReadHeaderTimeout: Duration(10 * time.Second),
		ReadTimeout:       Duration(15 * time.Second),
		WriteTimeout:      Duration(30 * time.Second),
		IdleTimeout:       Duration(20 * time.Second),
		MaxConns:          1024,
		Limits:            api.DefaultLimits(),
	}
}

// Validate names the first bad field.
func (h HTTPSettings) Validate() error {
	for _, d := range []struct {
		name string
		v    Duration
	}{{"read_header_timeout", h.ReadHeaderTimeout}, {"read_timeout", h.ReadTimeout}, {"write_timeout", h.WriteTimeout}, {"idle_timeout", h.IdleTimeout}} {
		if d.v <= 0 {
			return fmt.Errorf("%s: %s is not a timeout (it must be positive: a server without one keeps slow clients forever)", d.name, time.Duration(d.v))
		}
	}
	if h.MaxConns < 1 {
		return fmt.Errorf("max_conns: %d is not a connection count (at least 1)", h.MaxConns)
	}
	return h.Limits.Validate()
}

// parseHTTP reads the "http" object of medchain.json over the defaults.
// Unknown fields are errors, so a misspelt setting is not silently
// ignored.
func parseHTTP(raw json.RawMessage) (HTTPSettings, error) {
	h := DefaultHTTP()
	if len(raw) > 0 {
		dec := json.NewDecoder(bytes.NewReader(raw))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&h); err != nil {
			return h, err
		}
	}
	return h, h.Validate()
}

// LoadHTTP reads the HTTP settings a node in home runs with: the "http"
// object of its medchain.json over the defaults.
func LoadHTTP(home string) (HTTPSettings, error) {
	s, err := LoadSettings(home)
	if err != nil {
		return HTTPSettings{}, err
	}
	return s.httpSettings(home)
}

func (s Settings) httpSettings(home string) (HTTPSettings, error) {
	h, err := parseHTTP(s.HTTP)
	if err != nil {
		return h, fmt.Errorf("%s: \"http\": %w", settingsPath(home), err)
	}
	return h, nil
}

// SetLimit sets one class's limit from a flag value
// "CLASS=RATE[:BURST[:CONCURRENT]]", e.g. "verify=20:40:2". A missing
// burst is the rate rounded up; a missing concurrency leaves the class's
// current cap.
func (h *HTTPSettings) SetLimit(spec string) error {
	name, val, ok := strings.Cut(spec, "=")
	lims := h.Limits // changed only if the result is valid
	var l *api.Limit
	switch name {
	case "verify":
		l = &lims.Verify
	case "submit":
		l = &lims.Submit
	case "scan":
		l = &lims.Scan
	}
	if !ok || l == nil {
		return fmt.Errorf("%q: want CLASS=RATE[:BURST[:CONCURRENT]] with CLASS verify, submit or scan", spec)
	}
	parts := strings.Split(val, ":")
	if len(parts) > 3 {
		return fmt.Errorf("%q: want CLASS=RATE[:BURST[:CONCURRENT]] (at most three numbers)", spec)
	}
	next := *l
	r, err := strconv.ParseFloat(parts[0], 64)
	if err != nil {
		return fmt.Errorf("%q: rate %q is not a number of requests per second", spec, parts[0])
	}
	next.Rate, next.Burst = r, int(math.Ceil(r))
	if len(parts) > 1 {
		if next.Burst, err = strconv.Atoi(parts[1]); err != nil {
			return fmt.Errorf("%q: burst %q is not a whole number", spec, parts[1])
		}
	}
	if len(parts) > 2 {
		if next.Concurrent, err = strconv.Atoi(parts[2]); err != nil {
			return fmt.Errorf("%q: concurrent %q is not a whole number", spec, parts[2])
		}
	}
	if r == 0 && len(parts) == 1 {
		next.Burst = 0
	}
	*l = next
	if err := lims.Validate(); err != nil {
		return fmt.Errorf("%q: %w", spec, err)
	}
	h.Limits = lims
	return nil
}

// Duration is a time.Duration written as text in JSON ("15s").
type Duration time.Duration

// MarshalJSON writes the duration as Go's text ("15s").
func (d Duration) MarshalJSON() ([]byte, error) { return json.Marshal(time.Duration(d).String()) }

// UnmarshalJSON reads a duration in Go's text form ("15s", "1m30s").
func (d *Duration) UnmarshalJSON(b []byte) error {
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		return fmt.Errorf("want a duration such as \"15s\", got %s", b)
	}
	v, err := time.ParseDuration(s)
	if err != nil {
		return fmt.Errorf("%q is not a duration (such as \"15s\")", s)
	}
	*d = Duration(v)
	return nil
}

// apiServer is the HTTP server of the API with h's timeouts, and the
// listener that caps its connections (and counts them).
func apiServer(ln net.Listener, handler http.Handler, h HTTPSettings) (*http.Server, *countingListener) {
	cl := &countingListener{Listener: netutil.LimitListener(ln, h.MaxConns)}
	srv := &http.Server{
		Handler:           handler,
		ReadHeaderTimeout: time.Duration(h.ReadHeaderTimeout),
		ReadTimeout:       time.Duration(h.ReadTimeout),
		WriteTimeout:      time.Duration(h.WriteTimeout),
		IdleTimeout:       time.Duration(h.IdleTimeout),
	}
	return srv, cl
}

// countingListener counts open connections (a metric, and what the tests
// of the cap read).
type countingListener struct {
	net.Listener
	open atomic.Int64
}

func (l *countingListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	l.open.Add(1)
	return &countedConn{Conn: c, l: l}, nil
}

// Open is the number of accepted connections not yet closed.
func (l *countingListener) Open() int { return int(l.open.Load()) }

type countedConn struct {
	net.Conn
	l    *countingListener
	once sync.Once
}

func (c *countedConn) Close() error {
	err := c.Conn.Close()
	c.once.Do(func() { c.l.open.Add(-1) })
	return err
}
