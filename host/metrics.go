package host

import (
	"fmt"
	"net/http"
	"strconv"

	"github.com/imscript/imscript/broker"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	dto "github.com/prometheus/client_model/go"
)

// The host's Prometheus metrics (`imscript run --metrics ADDR`). Nothing
// here runs per message: the engine keeps its counters where they are
// cheapest to bump (per server atomics, per worker handler histograms in
// metrics_handler.go), and hostCollector turns them into metrics when
// Prometheus scrapes. Labels are bounded by the configuration: a server's
// address and type, an event name, a worker id, a cluster peer's name.

func desc(name, help string, labels ...string) *prometheus.Desc {
	return prometheus.NewDesc("imscript_"+name, help, labels, nil)
}

var (
	srvLabels = []string{"server", "type"}

	mConnections = desc("connections", "Connections open now.", srvLabels...)
	mAccepts     = desc("accepted_connections_total", "Connections accepted.", srvLabels...)
	mCloses      = desc("closed_connections_total", "Connections closed.", srvLabels...)
	mRejects     = desc("rejected_connections_total", "Connections refused at accept (max_connection, stopping).", srvLabels...)
	mBytesIn     = desc("received_bytes_total", "Bytes received in messages (TCP packages, HTTP requests, WebSocket messages, datagrams).", srvLabels...)
	mBytesOut    = desc("sent_bytes_total", "Bytes queued for sending.", srvLabels...)
	mMsgsIn      = desc("received_messages_total", "Messages received: TCP packages, HTTP requests, WebSocket messages, datagrams.", srvLabels...)
	mMsgsOut     = desc("sent_messages_total", "Sends queued: TCP writes, WebSocket frames, datagrams, HTTP responses and chunks.", srvLabels...)

	mHandlerDur    = desc("handler_duration_seconds", "Time a script handler ran, by event (sampled under load; the count is exact).", "event")
	mHandlerErrors = desc("handler_errors_total", "Script handlers that raised an error or were interrupted, by event.", "event")
	mInterrupts    = desc("watchdog_interrupts_total", "Handlers the watchdog interrupted after max_exec_ms.")
	mReloads       = desc("reloads_total", "Reloads that switched to a new version of the script.")
	mReloadFails   = desc("reload_failures_total", "Reloads that failed and kept the running version.")
	mInfo          = desc("info", "The host: version, node, language (always 1).", "version", "node", "language")
	mStartTime     = desc("start_time_seconds", "When the host started, in seconds since the Unix epoch.")

	mWorkers       = desc("workers", "Script workers (VMs), by kind.", "kind")
	mWorkerQueue   = desc("worker_queue_length", "Events waiting in a worker's inbox.", "worker")
	mWorkerBusy    = desc("worker_busy", "1 while the worker runs a handler.", "worker")
	mSuspended     = desc("suspended_handlers", "Lua handlers suspended in an asynchronous call.")
	mTaskQueue     = desc("task_queue_length", "Tasks waiting for a task worker.")
	mTaskQueueCap  = desc("task_queue_capacity", "The task queue's bound (task_max_queue).")
	mPublishes     = desc("publishes_total", "Publications made on this node (srv:publish, srv:sendToUid).")
	mDeliveries    = desc("deliveries_total", "Publications of other nodes delivered to this node's members.")
	mHistAppends   = desc("history_appends_total", "Publications kept in history (given a seq).")
	mRecovered     = desc("history_recovered_messages_total", "Messages given to connections by join/bind recoveries.")
	mBrokerErrors  = desc("broker_errors_total", "Calls to the broker (NATS in a cluster) that failed: timeouts, no quorum, a lost connection.")
	mBrokerWaiting = desc("broker_calls_waiting", "Script calls waiting for a remote broker (NATS) off their workers.")
	mRooms         = desc("rooms", "Rooms with members on this node.")
	mClusterNodes  = desc("cluster_nodes", "Nodes the broker sees up, this one included.")
	mPeerUp        = desc("cluster_peer_up", "1 while the link to the cluster peer is open.", "peer")
	mPeerRTT       = desc("cluster_peer_rtt_seconds", "Round trip time of the link to the cluster peer.", "peer")
	allHostMetrics = []*prometheus.Desc{
		mConnections, mAccepts, mCloses, mRejects, mBytesIn, mBytesOut, mMsgsIn, mMsgsOut,
		mHandlerDur, mHandlerErrors, mInterrupts, mReloads, mReloadFails, mInfo, mStartTime,
		mWorkers, mWorkerQueue, mWorkerBusy, mSuspended, mTaskQueue, mTaskQueueCap,
		mPublishes, mDeliveries, mHistAppends, mRecovered, mBrokerErrors, mBrokerWaiting, mRooms, mClusterNodes, mPeerUp, mPeerRTT,
	}
)

// hostCollector is the host as a prometheus.Collector.
type hostCollector struct{ h *Host }

func (c hostCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range allHostMetrics {
		ch <- d
	}
}

func (c hostCollector) Collect(ch chan<- prometheus.Metric) {
	h := c.h
	counter := func(d *prometheus.Desc, v int64, lv ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.CounterValue, float64(v), lv...)
	}
	gauge := func(d *prometheus.Desc, v float64, lv ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.GaugeValue, v, lv...)
	}
	for _, s := range h.Servers() {
		lv := []string{s.proto.name + "://" + s.addr(), s.proto.name}
		gauge(mConnections, float64(s.connNum.Load()), lv...)
		counter(mAccepts, s.acceptCount.Load(), lv...)
		counter(mCloses, s.closeCount.Load(), lv...)
		counter(mRejects, s.rejectCount.Load(), lv...)
		counter(mBytesIn, s.bytesIn.Load(), lv...)
		counter(mBytesOut, s.bytesOut.Load(), lv...)
		counter(mMsgsIn, s.requestNum.Load(), lv...)
		counter(mMsgsOut, s.msgsOut.Load(), lv...)
	}
	t := h.handlerTotals()
	for slot := range numMetricSlots {
		n := t.count(slot)
		if n == 0 && t.errors[slot] == 0 {
			continue
		}
		buckets := make(map[float64]uint64, len(durationBuckets))
		var cum uint64
		for i, ub := range durationBuckets {
			cum += t.buckets[slot][i]
			buckets[float64(ub)/1e9] = cum
		}
		ch <- prometheus.MustNewConstHistogram(mHandlerDur, n, float64(t.sumNs[slot])/1e9, buckets, slotName(slot))
		counter(mHandlerErrors, int64(t.errors[slot]), slotName(slot))
	}
	counter(mInterrupts, h.interrupts.Load())
	counter(mReloads, h.reloadCount.Load())
	counter(mReloadFails, h.reloadFailures.Load())
	gauge(mInfo, 1, Version, h.cfg.Node, h.lang.Name())
	gauge(mStartTime, float64(h.epoch.UnixMilli())/1e3)

	if isClosed(h.started) {
		gauge(mWorkers, float64(len(h.workers)), "event")
		gauge(mWorkers, float64(len(h.all)-len(h.workers)), "task")
		var suspended int64
		for _, w := range h.all {
			id := strconv.Itoa(w.id)
			gauge(mWorkerQueue, float64(w.q.len()), id)
			gauge(mWorkerBusy, float64(w.busy.Load()%2), id)
			suspended += w.m.suspended.Load()
		}
		gauge(mSuspended, float64(suspended))
		if h.tasks.ch != nil && len(h.all) > len(h.workers) {
			gauge(mTaskQueue, float64(len(h.tasks.ch)))
			gauge(mTaskQueueCap, float64(cap(h.tasks.ch)))
		}
	}
	counter(mPublishes, h.publishes.Load())
	counter(mDeliveries, h.deliveries.Load())
	counter(mHistAppends, h.historyAppends.Load())
	counter(mRecovered, h.recovered.Load())
	counter(mBrokerErrors, h.brokerErrors.Load())
	ch <- prometheus.MustNewConstMetric(mBrokerWaiting, prometheus.GaugeValue, float64(h.brokerWaiting.Load()))
	h.hub.mu.RLock()
	rooms := len(h.hub.rooms)
	h.hub.mu.RUnlock()
	gauge(mRooms, float64(rooms))
	gauge(mClusterNodes, float64(h.clusterNodes()))
	for _, p := range h.peers() {
		up := 0.0
		if p.Up {
			up = 1
		}
		gauge(mPeerUp, up, p.Name)
		if p.RTT > 0 {
			gauge(mPeerRTT, p.RTT.Seconds(), p.Name)
		}
	}
}

// peers are the broker's cluster peers (none for a broker without).
func (h *Host) peers() []broker.Peer {
	if l, ok := h.hub.b.(broker.PeerLister); ok {
		return l.Peers()
	}
	return nil
}

// metricsHandler serves /metrics: the host's collector, the Go runtime's
// and the process's, and every module's registry (a Shared value that is a
// prometheus.Gatherer: imscript.metrics).
func (h *Host) metricsHandler() http.Handler {
	reg := prometheus.NewRegistry()
	reg.MustRegister(hostCollector{h},
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	gather := prometheus.GathererFunc(func() ([]*dto.MetricFamily, error) {
		gs := prometheus.Gatherers{reg}
		h.shared.Range(func(_, v any) bool {
			if g, ok := v.(prometheus.Gatherer); ok {
				gs = append(gs, g)
			}
			return true
		})
		return gs.Gather()
	})
	return promhttp.HandlerFor(gather, promhttp.HandlerOpts{ErrorLog: slogPrinter{h}, ErrorHandling: promhttp.ContinueOnError})
}

// slogPrinter takes promhttp's errors to the host's log.
type slogPrinter struct{ h *Host }

func (p slogPrinter) Println(v ...any) { p.h.log.Warn("metrics", "err", fmt.Sprint(v...)) }
