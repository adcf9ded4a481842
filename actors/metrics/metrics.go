// Package metrics exposes a node in the Prometheus format on GET /metrics.
//
// Two kinds of metric live here. Request metrics (per API and version, bytes per topic,
// errors by code, connections) are counted as traffic flows: Metrics implements the
// wire package's Observer and DataObserver. Everything the node already keeps as state
// (partition offsets, Raft, actor mailboxes, consumer lag) is read at scrape time by a
// collector over the node's snapshots, so it costs nothing on the hot path.
//
// Every Metrics has its own prometheus.Registry: there is no process-global registry.
package metrics

import (
	"fmt"
	"net/http"
	"runtime"
	"strconv"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/rs/zerolog"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/chronik/chronik-node/actors"
	"github.com/chronik/chronik-node/metastore"
)

// Source is what the collector reads at scrape time. *actors.Node implements it.
type Source interface {
	RaftStatus() actors.RaftStatus
	CommitLatency() actors.LatencySnapshot
	ActorKinds() []actors.KindStat
	Partitions() []actors.PartitionInfo
	ReplicationHealth() (underReplicated, offline int)
	GroupsView() []actors.GroupView
	CompressionStats() actors.CompressionStats
	CleanerStats() actors.CleanerStats
}

// latencyBuckets span sub-millisecond metadata requests to long-polling fetches.
func latencyBuckets() []float64 {
	return []float64{.0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30}
}

// maxVersionLabel bounds the version label: a client sending garbage versions must not
// create unbounded series.
const maxVersionLabel = 31

// Metrics is one node's Prometheus registry and the request counters fed by the wire
// server. Its observer methods are safe for concurrent use.
type Metrics struct {
	reg *prometheus.Registry
	log zerolog.Logger

	requests        *prometheus.CounterVec
	latency         *prometheus.HistogramVec
	requestBytes    *prometheus.CounterVec
	responseBytes   *prometheus.CounterVec
	requestErrors   *prometheus.CounterVec
	partitionErrors *prometheus.CounterVec
	topicBytesIn    *prometheus.CounterVec
	topicBytesOut   *prometheus.CounterVec
	connections     prometheus.Gauge
	connsOpened     prometheus.Counter

	// perRequest caches the label-resolved metrics of each (key, version), so the
	// per-request path is a map load and a few atomic adds.
	perRequest sync.Map // int32(key<<16|version) -> *requestMetrics
}

type requestMetrics struct {
	count               prometheus.Counter
	latency             prometheus.Observer
	reqBytes, respBytes prometheus.Counter
	api                 string
}

// New builds the registry for a node: request metrics, the node collector over src, the
// Go runtime and process collectors, and chronik_build_info.
func New(src Source, version string, log zerolog.Logger) *Metrics {
	m := &Metrics{
		reg: prometheus.NewRegistry(),
		log: log,
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "chronik_requests_total", Help: "Kafka requests answered, by API and version.",
		}, []string{"api", "version"}),
		latency: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "chronik_request_duration_seconds",
			Help:    "Time from a request being read to its response being handed to the socket, by API and version.",
			Buckets: latencyBuckets(),
		}, []string{"api", "version"}),
		requestBytes: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "chronik_request_bytes_total", Help: "Bytes of Kafka requests received (with their size prefixes), by API.",
		}, []string{"api"}),
		responseBytes: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "chronik_response_bytes_total", Help: "Bytes of Kafka responses sent (with their size prefixes), by API.",
		}, []string{"api"}),
		requestErrors: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "chronik_request_errors_total",
			Help: "Responses with a top-level error code, by API and Kafka error; UNKNOWN_SERVER_ERROR also counts handler failures that closed the connection.",
		}, []string{"api", "error"}),
		partitionErrors: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "chronik_partition_errors_total", Help: "Partitions of Produce and Fetch responses answered with an error, by API and Kafka error.",
		}, []string{"api", "error"}),
		topicBytesIn: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "chronik_topic_bytes_in_total", Help: "Record batch bytes received in Produce requests, by topic.",
		}, []string{"topic"}),
		topicBytesOut: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "chronik_topic_bytes_out_total", Help: "Record batch bytes returned in Fetch responses, by topic.",
		}, []string{"topic"}),
		connections: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "chronik_connections", Help: "Open Kafka client connections.",
		}),
		connsOpened: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "chronik_connections_opened_total", Help: "Kafka client connections accepted.",
		}),
	}
	buildInfo := prometheus.NewGauge(prometheus.GaugeOpts{
		Name: "chronik_build_info", Help: "Always 1; the labels say which build is running.",
		ConstLabels: prometheus.Labels{"version": version, "goversion": runtime.Version()},
	})
	buildInfo.Set(1)
	m.reg.MustRegister(
		m.requests, m.latency, m.requestBytes, m.responseBytes, m.requestErrors, m.partitionErrors,
		m.topicBytesIn, m.topicBytesOut, m.connections, m.connsOpened, buildInfo,
		newNodeCollector(src),
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
	)
	return m
}

// WatchFetchSessions exports the Kafka listener's incremental fetch sessions, read from
// stats at every scrape: how many sessions it keeps and how many partitions they hold.
func (m *Metrics) WatchFetchSessions(stats func() (sessions, partitions int)) {
	m.reg.MustRegister(
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "chronik_fetch_sessions", Help: "Incremental fetch sessions (KIP-227) the node keeps.",
		}, func() float64 { s, _ := stats(); return float64(s) }),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "chronik_fetch_session_partitions", Help: "Partitions held in incremental fetch sessions.",
		}, func() float64 { _, p := stats(); return float64(p) }),
	)
}

// WatchSegmentCaches exports how many sealed segments' data files the partitions hold
// open and how much memory their indexes take, with the bounds on both; filesOpen and
// indexBytes are read at every scrape.
func (m *Metrics) WatchSegmentCaches(filesOpen func() int, filesLimit int, indexBytes func() int64, indexLimit int64) {
	m.reg.MustRegister(
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "chronik_sealed_segment_files_open", Help: "Sealed segments' data files held open (active segments' files are always open and not counted).",
		}, func() float64 { return float64(filesOpen()) }),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "chronik_sealed_segment_files_open_limit", Help: "The bound on sealed segments' open data files; idle ones beyond it are closed (0: no bound).",
		}, func() float64 { return float64(filesLimit) }),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "chronik_sealed_segment_index_bytes", Help: "Memory held by sealed segments' offset and time indexes (active segments' are not counted).",
		}, func() float64 { return float64(indexBytes()) }),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "chronik_sealed_segment_index_bytes_limit", Help: "The bound on that memory; beyond it the least recently used indexes are read back from their files when needed (0: no bound).",
		}, func() float64 { return float64(indexLimit) }),
	)
}

// BudgetStats is what the Kafka listener's request and fetch budgets hold and allow, and
// how many wait for room in each.
type BudgetStats struct {
	RequestHeld, RequestCapacity, FetchHeld, FetchCapacity int64
	RequestWaiting, FetchWaiting                           int
}

// WatchBudgets exports the Kafka listener's memory budgets, read from stats at every
// scrape: client data the node holds (requests read and not yet handled, records read for
// Fetch answers not yet written), the bounds (queued.max.request.bytes,
// queued.max.fetch.bytes, which may have been fitted to a memory limit) and the waiters.
func (m *Metrics) WatchBudgets(stats func() BudgetStats) {
	gauge := func(name, help string, v func(BudgetStats) float64) prometheus.Collector {
		return prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: name, Help: help}, func() float64 { return v(stats()) })
	}
	m.reg.MustRegister(
		gauge("chronik_queued_request_bytes", "Request bytes read and not yet handled (a large Fetch counts 24 times its size).",
			func(s BudgetStats) float64 { return float64(s.RequestHeld) }),
		gauge("chronik_queued_request_bytes_limit", "queued.max.request.bytes in force.",
			func(s BudgetStats) float64 { return float64(s.RequestCapacity) }),
		gauge("chronik_queued_request_waiters", "Connections waiting for room in the request budget before reading a request.",
			func(s BudgetStats) float64 { return float64(s.RequestWaiting) }),
		gauge("chronik_queued_fetch_bytes", "Record bytes read for Fetch answers not yet written.",
			func(s BudgetStats) float64 { return float64(s.FetchHeld) }),
		gauge("chronik_queued_fetch_bytes_limit", "queued.max.fetch.bytes in force.",
			func(s BudgetStats) float64 { return float64(s.FetchCapacity) }),
		gauge("chronik_queued_fetch_waiters", "Fetches waiting for room in the fetch budget.",
			func(s BudgetStats) float64 { return float64(s.FetchWaiting) }),
	)
}

// Registry is the node's registry (for tests and for registering more collectors).
func (m *Metrics) Registry() *prometheus.Registry { return m.reg }

// Handler serves the registry in the Prometheus exposition format. A collector that
// fails does not hide the others; the failure is logged.
func (m *Metrics) Handler() http.Handler {
	return promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{
		ErrorLog:      promLogger{m.log},
		ErrorHandling: promhttp.ContinueOnError,
	})
}

type promLogger struct{ log zerolog.Logger }

func (l promLogger) Println(v ...any) { l.log.Warn().Msg(fmt.Sprint(v...)) }

// RequestDone implements wire.Observer.
func (m *Metrics) RequestDone(key, version int16, d time.Duration, reqBytes, respBytes int, errCode int16) {
	r := m.forRequest(key, version)
	r.count.Inc()
	r.latency.Observe(d.Seconds())
	r.reqBytes.Add(float64(reqBytes))
	if respBytes > 0 {
		r.respBytes.Add(float64(respBytes))
	}
	if errCode != 0 {
		m.requestErrors.WithLabelValues(r.api, errorName(errCode)).Inc()
	}
}

func (m *Metrics) forRequest(key, version int16) *requestMetrics {
	// Fold what the labels fold before caching, so odd keys and versions from a
	// misbehaving client cannot grow the cache either.
	api := apiName(key)
	if api == "Unknown" {
		key = -1
	}
	v := "other"
	if version >= 0 && version <= maxVersionLabel {
		v = strconv.Itoa(int(version))
	} else {
		version = -1
	}
	id := int32(key)<<16 | int32(uint16(version))
	if r, ok := m.perRequest.Load(id); ok {
		return r.(*requestMetrics)
	}
	r := &requestMetrics{
		api:       api,
		count:     m.requests.WithLabelValues(api, v),
		latency:   m.latency.WithLabelValues(api, v),
		reqBytes:  m.requestBytes.WithLabelValues(api),
		respBytes: m.responseBytes.WithLabelValues(api),
	}
	actual, _ := m.perRequest.LoadOrStore(id, r)
	return actual.(*requestMetrics)
}

// ConnOpened implements wire.Observer.
func (m *Metrics) ConnOpened() {
	m.connections.Inc()
	m.connsOpened.Inc()
}

// ConnClosed implements wire.Observer.
func (m *Metrics) ConnClosed() { m.connections.Dec() }

// TopicBytesIn implements wire.DataObserver.
func (m *Metrics) TopicBytesIn(topic string, bytes int) {
	m.topicBytesIn.WithLabelValues(topic).Add(float64(bytes))
}

// TopicBytesOut implements wire.DataObserver.
func (m *Metrics) TopicBytesOut(topic string, bytes int) {
	m.topicBytesOut.WithLabelValues(topic).Add(float64(bytes))
}

// PartitionError implements wire.DataObserver.
func (m *Metrics) PartitionError(key, code int16) {
	m.partitionErrors.WithLabelValues(apiName(key), errorName(code)).Inc()
}

// TopicsChanged drops the per-topic series of deleted topics, so a cluster that churns
// through topics does not keep their series forever. Its signature fits
// actors.Node.OnImage.
func (m *Metrics) TopicsChanged(img *metastore.Image, changed []string) {
	for _, t := range changed {
		if _, ok := img.Topics[t]; !ok {
			m.topicBytesIn.DeleteLabelValues(t)
			m.topicBytesOut.DeleteLabelValues(t)
		}
	}
}

// apiName is Kafka's name of an API key ("Unknown" for keys Kafka does not define).
func apiName(key int16) string { return kmsg.NameForKey(key) }

// errorName is Kafka's name of an error code, e.g. NOT_LEADER_OR_FOLLOWER.
func errorName(code int16) string {
	err := kerr.ErrorForCode(code)
	if err == kerr.UnknownServerError && code != kerr.UnknownServerError.Code {
		return "CODE_" + strconv.Itoa(int(code)) // a code kerr does not know
	}
	if ke, ok := err.(*kerr.Error); ok {
		return ke.Message
	}
	return "CODE_" + strconv.Itoa(int(code))
}
