package gateway

import (
	"context"
	"net/http"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/wxgate/wxgate/store"
)

// Metrics are the gateway's Prometheus metrics, on a registry of their own.
type Metrics struct {
	registry   *prometheus.Registry
	pushes     *prometheus.CounterVec
	ackLatency *prometheus.HistogramVec
	dedupHits  *prometheus.CounterVec
	deliveries *prometheus.CounterVec
	deliveryMs *prometheus.HistogramVec
}

// NewMetrics registers the gateway's metrics, the Go runtime's and the
// process's. stats, when set, is read on each scrape (at most every five
// seconds) for the pending and dead deliveries and the age of the oldest;
// the destinations named report zeros when stats has nothing for them.
func NewMetrics(stats func(context.Context) ([]store.DestinationStats, error), destinations ...string) *Metrics {
	m := &Metrics{
		registry: prometheus.NewRegistry(),
		pushes: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "wxgate_pushes_total",
			Help: "Pushes received, by app, kind (msg_type, or event:<event>) and result (ok, duplicate, bad_signature, store_error, ...).",
		}, []string{"app", "kind", "result"}),
		ackLatency: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "wxgate_ack_seconds",
			Help:    "Time from a push's arrival to WeChat's answer, stored pushes and duplicates.",
			Buckets: []float64{.001, .002, .005, .01, .02, .05, .1, .25, .5, 1, 2.5, 5},
		}, []string{"app"}),
		dedupHits: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "wxgate_dedup_hits_total",
			Help: "Pushes already stored (WeChat's retries), answered again without storing.",
		}, []string{"app"}),
		deliveries: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "wxgate_delivery_attempts_total",
			Help: "Delivery attempts, by destination and result (delivered, failed).",
		}, []string{"destination", "result"}),
		deliveryMs: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "wxgate_delivery_seconds",
			Help:    "Duration of delivery attempts, by destination.",
			Buckets: prometheus.DefBuckets,
		}, []string{"destination"}),
	}
	m.registry.MustRegister(m.pushes, m.ackLatency, m.dedupHits, m.deliveries, m.deliveryMs,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	if stats != nil {
		m.registry.MustRegister(&backlogCollector{stats: stats, known: destinations})
	}
	return m
}

// Handler serves the metrics in Prometheus's text format.
func (m *Metrics) Handler() http.Handler {
	return promhttp.HandlerFor(m.registry, promhttp.HandlerOpts{})
}

// Registry returns the registry, to add metrics of other packages.
func (m *Metrics) Registry() *prometheus.Registry { return m.registry }

func (m *Metrics) push(app, kind, result string, latency time.Duration) {
	if m == nil {
		return
	}
	if kind == "" {
		kind = "unopened"
	}
	m.pushes.WithLabelValues(app, kind, result).Inc()
	if result == "ok" || result == "duplicate" {
		m.ackLatency.WithLabelValues(app).Observe(latency.Seconds())
	}
}

func (m *Metrics) dedupHit(app string) {
	if m != nil {
		m.dedupHits.WithLabelValues(app).Inc()
	}
}

// Attempt records one delivery attempt: the delivery engine's OnAttempt.
func (m *Metrics) Attempt(destination string, a store.Attempt, delivered bool) {
	if m == nil {
		return
	}
	result := "failed"
	if delivered {
		result = "delivered"
	}
	m.deliveries.WithLabelValues(destination, result).Inc()
	m.deliveryMs.WithLabelValues(destination).Observe(a.Duration.Seconds())
}

// backlogCollector reads the deliveries' backlog from the store when
// scraped, caching it briefly so that frequent scrapes cost one query.
type backlogCollector struct {
	stats func(context.Context) ([]store.DestinationStats, error)
	known []string // destinations that report zeros when stats omits them

	mu     sync.Mutex
	at     time.Time
	cached []store.DestinationStats
}

var (
	pendingDesc = prometheus.NewDesc("wxgate_deliveries_pending", "Deliveries not yet delivered, by destination.", []string{"destination"}, nil)
	deadDesc    = prometheus.NewDesc("wxgate_deliveries_dead", "Dead letters, by destination.", []string{"destination"}, nil)
	oldestDesc  = prometheus.NewDesc("wxgate_delivery_oldest_pending_seconds", "Age of the oldest pending delivery, by destination.", []string{"destination"}, nil)
)

func (c *backlogCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- pendingDesc
	ch <- deadDesc
	ch <- oldestDesc
}

func (c *backlogCollector) Collect(ch chan<- prometheus.Metric) {
	c.mu.Lock()
	if time.Since(c.at) > 5*time.Second {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		if s, err := c.stats(ctx); err == nil {
			c.cached, c.at = s, time.Now()
		}
		cancel()
	}
	stats := c.cached
	c.mu.Unlock()
	seen := map[string]bool{}
	for _, s := range stats {
		seen[s.Destination] = true
	}
	for _, d := range c.known {
		if !seen[d] {
			stats = append(stats, store.DestinationStats{Destination: d})
		}
	}
	now := time.Now()
	for _, s := range stats {
		ch <- prometheus.MustNewConstMetric(pendingDesc, prometheus.GaugeValue, float64(s.Pending), s.Destination)
		ch <- prometheus.MustNewConstMetric(deadDesc, prometheus.GaugeValue, float64(s.Dead), s.Destination)
		age := 0.0
		if !s.OldestPending.IsZero() {
			age = now.Sub(s.OldestPending).Seconds()
		}
		ch <- prometheus.MustNewConstMetric(oldestDesc, prometheus.GaugeValue, age, s.Destination)
	}
}
