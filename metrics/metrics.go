// Package metrics is the node's Prometheus instrumentation, served at
// /metrics: the chain (block height and interval, transactions by type and
// result code, mempool size), jobs by state, worker outcomes, and the HTTP
// API (latency and answers by route).
//
// Privacy is the rule this package is built around: a label value never
// carries an identifier, an address, a dataset value or free text. Every
// label takes its values from a closed set given to New (the ledger's
// transaction types, result code names, job states, worker refusal reasons,
// the API's route patterns); anything outside its set is counted as
// "other", so a caller that passes the wrong string cannot leak it.
//
// The package observes; it never decides. The node feeds it committed
// blocks after Commit, so nothing here can touch consensus.
package metrics

import (
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// Other is the label value of anything outside a label's closed set.
const Other = "other"

// Sets are the closed sets label values come from.
type Sets struct {
	TxTypes     []string // transaction type names (the ledger's registry)
	Codes       []string // result code names
	JobStatuses []string // job states
	Refusals    []string // the reasons a worker may give for refusing a job
	Routes      []string // the API's route patterns ("GET /v1/jobs/{id}")
}

// Sources are read at scrape time. A nil source leaves its metric out.
type Sources struct {
	// Mempool is the number of transactions waiting in the mempool.
	Mempool func() int
	// Jobs counts the jobs on the ledger by state.
	Jobs func() (map[string]int, error)
	// Connections is the number of open API connections.
	Connections func() int
}

// Worker outcomes, as recorded on the ledger.
const (
	OutcomeResult       = "result"       // a site's result posted and accepted
	OutcomeContribution = "contribution" // a study contribution posted and accepted
	OutcomeRefusal      = "refusal"      // a job refused with a reason (fail_job)
)

var outcomes = []string{OutcomeResult, OutcomeContribution, OutcomeRefusal}

// Block is what the node reports of one committed block.
type Block struct {
	Height int64
	Time   time.Time // the block's header time
	Txs    []Tx
}

// Tx is one transaction's outcome in a committed block.
type Tx struct {
	Type string // transaction type name
	Code string // result code name
	// Outcome is the worker outcome the transaction records ("" for
	// transactions that are not a worker's), and Reason the refusal reason
	// of an OutcomeRefusal.
	Outcome, Reason string
}

// Metrics holds a node's metrics in a registry of its own (tests run
// several nodes in one process).
type Metrics struct {
	reg *prometheus.Registry

	txTypes, codes, refusals, routes, outcomes closedSet

	height   prometheus.Gauge
	interval prometheus.Histogram
	txs      *prometheus.CounterVec
	worker   *prometheus.CounterVec
	refused  *prometheus.CounterVec
	latency  *prometheus.HistogramVec
	answers  *prometheus.CounterVec

	mu       sync.Mutex // orders ObserveBlock calls' view of the last block
	last     int64
	lastTime time.Time
}

// New builds the metrics over the closed label sets and the scrape-time
// sources.
func New(s Sets, src Sources) *Metrics {
	m := &Metrics{
		reg:      prometheus.NewRegistry(),
		txTypes:  newSet(s.TxTypes),
		codes:    newSet(s.Codes),
		refusals: newSet(s.Refusals),
		routes:   newSet(s.Routes),
		outcomes: newSet(outcomes),
		height: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "medchain_block_height", Help: "Height of the latest committed block.",
		}),
		interval: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name: "medchain_block_interval_seconds", Help: "Time between consecutive committed blocks' header times.",
			Buckets: []float64{0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 30, 60},
		}),
		txs: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "medchain_txs_total", Help: "Committed transactions by type and result code.",
		}, []string{"type", "code"}),
		worker: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "medchain_worker_runs_total", Help: "Worker outcomes committed on the ledger (any worker of the network), by outcome.",
		}, []string{"outcome"}),
		refused: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "medchain_worker_refusals_total", Help: "Jobs refused by a worker (committed fail_job), by reason.",
		}, []string{"reason"}),
		latency: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "medchain_api_request_duration_seconds", Help: "Time to answer an API request, by route pattern.",
			Buckets: []float64{0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30},
		}, []string{"route"}),
		answers: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "medchain_api_requests_total", Help: "API answers by route pattern and HTTP status (429: refused by a rate limit).",
		}, []string{"route", "status"}),
	}
	m.reg.MustRegister(m.height, m.interval, m.txs, m.worker, m.refused, m.latency, m.answers,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	// Outcomes and reasons start at zero, so a rate over them is defined
	// before the first event.
	for _, o := range outcomes {
		m.worker.WithLabelValues(o)
	}
	for _, r := range s.Refusals {
		m.refused.WithLabelValues(r)
	}
	if src.Mempool != nil {
		m.reg.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "medchain_mempool_txs", Help: "Transactions waiting in this node's mempool.",
		}, func() float64 { return float64(src.Mempool()) }))
	}
	if src.Connections != nil {
		m.reg.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "medchain_api_open_connections", Help: "Open connections to the HTTP API.",
		}, func() float64 { return float64(src.Connections()) }))
	}
	if src.Jobs != nil {
		m.reg.MustRegister(&jobsCollector{
			desc:     prometheus.NewDesc("medchain_jobs", "Jobs on the ledger by state.", []string{"status"}, nil),
			statuses: s.JobStatuses, set: newSet(s.JobStatuses), count: src.Jobs,
		})
	}
	return m
}

// Handler serves the registry in Prometheus' text format. A source that
// fails leaves its metric out of that scrape; the error is not served
// (errors can name stored keys).
func (m *Metrics) Handler() http.Handler {
	return promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{ErrorHandling: promhttp.ContinueOnError})
}

// ObserveBlock records a committed block. Blocks arrive in height order;
// the interval is measured only between consecutive heights, so a restart
// (which replays nothing into metrics) does not record the downtime.
func (m *Metrics) ObserveBlock(b Block) {
	m.mu.Lock()
	if m.last != 0 && b.Height == m.last+1 && !m.lastTime.IsZero() {
		if d := b.Time.Sub(m.lastTime); d >= 0 {
			m.interval.Observe(d.Seconds())
		}
	}
	m.last, m.lastTime = b.Height, b.Time
	m.mu.Unlock()
	m.height.Set(float64(b.Height))
	for _, t := range b.Txs {
		m.txs.WithLabelValues(m.txTypes.label(t.Type), m.codes.label(t.Code)).Inc()
		if t.Outcome == "" {
			continue
		}
		m.worker.WithLabelValues(m.outcomes.label(t.Outcome)).Inc()
		if t.Outcome == OutcomeRefusal {
			m.refused.WithLabelValues(m.refusals.label(t.Reason)).Inc()
		}
	}
}

// ObserveRequest records one API answer. route is the matched pattern,
// never the request path (paths carry ids and addresses).
func (m *Metrics) ObserveRequest(route string, status int, d time.Duration) {
	route = m.routes.label(route)
	m.latency.WithLabelValues(route).Observe(d.Seconds())
	m.answers.WithLabelValues(route, statusLabel(status)).Inc()
}

// statusLabel is an HTTP status as a label: the numbers are a closed set.
func statusLabel(s int) string {
	if s < 100 || s > 599 {
		return Other
	}
	return strconv.Itoa(s)
}

type closedSet map[string]bool

func newSet(vs []string) closedSet {
	s := make(closedSet, len(vs))
	for _, v := range vs {
		s[v] = true
	}
	return s
}

func (s closedSet) label(v string) string {
	if s[v] {
		return v
	}
	return Other
}

// jobsCollector reads the job counts at scrape time.
type jobsCollector struct {
	desc     *prometheus.Desc
	statuses []string
	set      closedSet
	count    func() (map[string]int, error)
}

func (c *jobsCollector) Describe(ch chan<- *prometheus.Desc) { ch <- c.desc }

func (c *jobsCollector) Collect(ch chan<- prometheus.Metric) {
	counts, err := c.count()
	if err != nil {
		ch <- prometheus.NewInvalidMetric(c.desc, err)
		return
	}
	other := 0
	for st, n := range counts {
		if !c.set[st] {
			other += n
		}
	}
	for _, st := range c.statuses {
		ch <- prometheus.MustNewConstMetric(c.desc, prometheus.GaugeValue, float64(counts[st]), st)
	}
	if other > 0 {
		ch <- prometheus.MustNewConstMetric(c.desc, prometheus.GaugeValue, float64(other), Other)
	}
}
