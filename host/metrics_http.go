package host

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/imscript/imscript/host/internal/admin"
)

// The observer serves --metrics and --admin. The status page's charts come
// from a ring the host keeps (one sample a second, the last ringSize), not
// from the page: a page opened now shows the last minutes at once, every
// viewer sees the same numbers, and rooms' messages/s need the counts of
// the seconds before anyway. Sampling reads the counters the engine keeps
// for the metrics; it runs only with --admin.

const (
	ringSize     = 300 // samples: five minutes
	roomWindow   = 5   // seconds a room's messages/s is averaged over
	topRooms     = 10
	samplePeriod = time.Second
)

type observer struct {
	h       *Host
	servers []*http.Server
	lns     []net.Listener
	quit    chan struct{}
	done    chan struct{} // closed when the sampler has ended
	admin   bool          // the status page is on: sample, count rooms

	rooms roomCounter

	mu   sync.Mutex
	ring []sample
	prev struct {
		at      time.Time
		in, out int64
		errors  int64
		buckets [numBuckets]uint64
	}
	roomRate []roomRate // the last window's top rooms by messages/s
}

// sample is one second of the status page's charts.
type sample struct {
	T           int64    `json:"t"` // ms since the Unix epoch
	Connections int64    `json:"connections"`
	InRate      float64  `json:"in_rate"`
	OutRate     float64  `json:"out_rate"`
	P50         *float64 `json:"p50_ms"` // null: no handler ran that second
	P99         *float64 `json:"p99_ms"`
	ErrorRate   float64  `json:"error_rate"`
	Reloads     int64    `json:"reloads"`
}

// roomCounter counts publications per room while the admin page is on
// (hub_history.go, hub_fanout.go); the sampler takes the counts each
// second.
type roomCounter struct {
	mu     sync.Mutex
	cur    map[string]int64
	window []map[string]int64 // the last roomWindow seconds, oldest first
}

func (r *roomCounter) count(room string) {
	r.mu.Lock()
	if r.cur == nil {
		r.cur = map[string]int64{}
	}
	r.cur[room]++
	r.mu.Unlock()
}

// turn ends a second and returns the top rooms by messages/s over the
// window.
func (r *roomCounter) turn() []roomRate {
	r.mu.Lock()
	r.window = append(r.window, r.cur)
	if len(r.window) > roomWindow {
		r.window = r.window[1:]
	}
	r.cur = nil
	sum := map[string]int64{}
	for _, m := range r.window {
		for k, v := range m {
			sum[k] += v
		}
	}
	n := float64(len(r.window))
	r.mu.Unlock()
	out := make([]roomRate, 0, len(sum))
	for k, v := range sum {
		out = append(out, roomRate{Room: k, PerSecond: float64(v) / n})
	}
	slices.SortFunc(out, func(a, b roomRate) int {
		if a.PerSecond != b.PerSecond {
			if a.PerSecond > b.PerSecond {
				return -1
			}
			return 1
		}
		return strings.Compare(a.Room, b.Room)
	})
	return out[:min(len(out), topRooms)]
}

type roomRate struct {
	Room      string  `json:"room"`
	PerSecond float64 `json:"per_second"`
}

// adminAddr is the address the status page listens on: a missing host
// means loopback (":8081" and "8081" are 127.0.0.1:8081).
func adminAddr(a string) string {
	if !strings.Contains(a, ":") {
		return net.JoinHostPort("127.0.0.1", a)
	}
	if strings.HasPrefix(a, ":") {
		return "127.0.0.1" + a
	}
	return a
}

// openObserver binds --metrics and --admin and serves them; nil when
// neither is set. A port that cannot be bound is Run's error.
func (h *Host) openObserver() error {
	if h.cfg.MetricsAddr == "" && h.cfg.AdminAddr == "" {
		return nil
	}
	o := &observer{h: h, quit: make(chan struct{}), done: make(chan struct{})}
	serve := func(what, addr string, hd http.Handler) error {
		ln, err := net.Listen("tcp", addr)
		if err != nil {
			return fmt.Errorf("%s: %w", what, err)
		}
		srv := &http.Server{Handler: hd, ReadHeaderTimeout: 10 * time.Second, ErrorLog: nil}
		o.lns = append(o.lns, ln)
		o.servers = append(o.servers, srv)
		go func() {
			if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
				h.log.Error(what+" stopped", "err", err)
			}
		}()
		return nil
	}
	var err error
	if h.cfg.MetricsAddr != "" {
		mux := http.NewServeMux()
		mux.Handle("GET /metrics", h.metricsHandler())
		mux.HandleFunc("GET /{$}", func(w http.ResponseWriter, r *http.Request) {
			fmt.Fprintln(w, "imscript: Prometheus metrics at /metrics")
		})
		if err = serve("metrics", h.cfg.MetricsAddr, mux); err == nil {
			h.log.Info("metrics", "url", "http://"+o.lns[len(o.lns)-1].Addr().String()+"/metrics")
		}
	}
	if err == nil && h.cfg.AdminAddr != "" {
		if err = serve("admin page", adminAddr(h.cfg.AdminAddr), admin.Handler(h.cfg.AdminToken, func() any { return o.stats() })); err == nil {
			h.log.Info("admin page", "url", "http://"+o.lns[len(o.lns)-1].Addr().String()+"/", "token", h.cfg.AdminToken != "")
			o.admin = true
		}
	}
	if err != nil {
		close(o.done)
		o.close()
		return err
	}
	if o.admin {
		go o.sampler()
	} else {
		close(o.done)
	}
	h.obs = o
	return nil
}

// close stops serving (the host stops).
func (o *observer) close() {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	for _, s := range o.servers {
		s.Shutdown(ctx)
	}
	select {
	case <-o.quit:
	default:
		close(o.quit)
	}
}

// closeObserver stops --metrics and --admin.
func (h *Host) closeObserver() {
	if h.obs != nil {
		h.obs.close()
		<-h.obs.done
	}
}

// sampler takes a sample a second until the observer closes.
func (o *observer) sampler() {
	defer close(o.done)
	t := time.NewTicker(samplePeriod)
	defer t.Stop()
	o.take(time.Now())
	for {
		select {
		case <-o.quit:
			return
		case now := <-t.C:
			o.take(now)
		}
	}
}

// totals are the host's message and connection counters, all servers
// summed.
func (h *Host) totals() (conns, in, out int64) {
	for _, s := range h.Servers() {
		conns += s.connNum.Load()
		in += s.requestNum.Load()
		out += s.msgsOut.Load()
	}
	return conns, in, out
}

func (o *observer) take(now time.Time) {
	h := o.h
	conns, in, out := h.totals()
	t := h.handlerTotals()
	var all [numBuckets]uint64
	var errs int64
	for s := range numMetricSlots {
		for b := range numBuckets {
			all[b] += t.buckets[s][b]
		}
		errs += int64(t.errors[s])
	}
	rr := o.rooms.turn()
	o.mu.Lock()
	defer o.mu.Unlock()
	o.roomRate = rr
	p := sample{T: now.UnixMilli(), Connections: conns, Reloads: h.reloadCount.Load()}
	if !o.prev.at.IsZero() {
		dt := now.Sub(o.prev.at).Seconds()
		if dt > 0 {
			p.InRate = float64(in-o.prev.in) / dt
			p.OutRate = float64(out-o.prev.out) / dt
			p.ErrorRate = float64(errs-o.prev.errors) / dt
		}
		var d [numBuckets]uint64
		for b := range numBuckets {
			d[b] = all[b] - o.prev.buckets[b]
		}
		if p50, p99 := quantileMs(&d, 0.5), quantileMs(&d, 0.99); p99 > 0 {
			p.P50, p.P99 = &p50, &p99
		}
	}
	o.prev.at, o.prev.in, o.prev.out, o.prev.errors, o.prev.buckets = now, in, out, errs, all
	if len(o.ring) == ringSize {
		copy(o.ring, o.ring[1:])
		o.ring = o.ring[:ringSize-1]
	}
	o.ring = append(o.ring, p)
}

// quantileMs estimates quantile q of a histogram's counts (not cumulative)
// in milliseconds, interpolating inside the bucket; 0 when empty.
func quantileMs(b *[numBuckets]uint64, q float64) float64 {
	var n uint64
	for _, c := range b {
		n += c
	}
	if n == 0 {
		return 0
	}
	rank := q * float64(n)
	var cum float64
	for i, c := range b {
		if c == 0 {
			continue
		}
		if cum+float64(c) >= rank {
			if i == len(durationBuckets) {
				return float64(durationBuckets[i-1]) / 1e6
			}
			lo := 0.0
			if i > 0 {
				lo = float64(durationBuckets[i-1])
			}
			hi := float64(durationBuckets[i])
			return (lo + (hi-lo)*(rank-cum)/float64(c)) / 1e6
		}
		cum += float64(c)
	}
	return float64(durationBuckets[len(durationBuckets)-1]) / 1e6
}

// stats is /api/stats.
func (o *observer) stats() any {
	h := o.h
	type server struct {
		Server      string `json:"server"`
		Type        string `json:"type"`
		Connections int64  `json:"connections"`
		Accepts     int64  `json:"accepts"`
		Closes      int64  `json:"closes"`
		Rejects     int64  `json:"rejects"`
		MessagesIn  int64  `json:"messages_in"`
		MessagesOut int64  `json:"messages_out"`
		BytesIn     int64  `json:"bytes_in"`
		BytesOut    int64  `json:"bytes_out"`
	}
	type workerInfo struct {
		ID        int    `json:"id"`
		Kind      string `json:"kind"`
		Busy      bool   `json:"busy"`
		Queue     int    `json:"queue"`
		Suspended int64  `json:"suspended"`
	}
	type handler struct {
		Event  string  `json:"event"`
		Calls  uint64  `json:"calls"`
		Errors uint64  `json:"errors"`
		P50    float64 `json:"p50_ms"`
		P99    float64 `json:"p99_ms"`
	}
	type roomMembers struct {
		Room    string `json:"room"`
		Members int    `json:"members"`
	}
	type peer struct {
		Name string  `json:"name"`
		Addr string  `json:"addr"`
		Up   bool    `json:"up"`
		RTT  float64 `json:"rtt_ms"`
	}
	type reloadErr struct {
		Message    string `json:"message"`
		At         int64  `json:"at"`
		Why        string `json:"why"`
		Superseded bool   `json:"superseded"` // a reload succeeded after it
	}
	out := map[string]any{
		"now":        time.Now().UnixMilli(),
		"node":       h.cfg.Node,
		"version":    Version,
		"start_time": h.epoch.Unix(),
	}
	var servers []server
	var conns int64
	for _, s := range h.Servers() {
		servers = append(servers, server{
			Server: s.proto.name + "://" + s.addr(), Type: s.proto.name,
			Connections: s.connNum.Load(), Accepts: s.acceptCount.Load(), Closes: s.closeCount.Load(), Rejects: s.rejectCount.Load(),
			MessagesIn: s.requestNum.Load(), MessagesOut: s.msgsOut.Load(), BytesIn: s.bytesIn.Load(), BytesOut: s.bytesOut.Load(),
		})
		conns += s.connNum.Load()
	}
	out["servers"] = nonNil(servers)
	out["connections"] = conns
	var workers []workerInfo
	if isClosed(h.started) {
		for i, w := range h.all {
			kind := "event"
			if i >= len(h.workers) {
				kind = "task"
			}
			workers = append(workers, workerInfo{ID: w.id, Kind: kind, Busy: w.busy.Load()%2 == 1, Queue: w.q.len(), Suspended: w.m.suspended.Load()})
		}
		if h.tasks.ch != nil {
			out["task_queue"] = len(h.tasks.ch)
		}
	}
	out["workers"] = nonNil(workers)
	t := h.handlerTotals()
	var handlers []handler
	var errs uint64
	for s := range numMetricSlots {
		n := t.count(s)
		errs += t.errors[s]
		if n == 0 && t.errors[s] == 0 {
			continue
		}
		handlers = append(handlers, handler{Event: slotName(s), Calls: n, Errors: t.errors[s], P50: quantileMs(&t.buckets[s], 0.5), P99: quantileMs(&t.buckets[s], 0.99)})
	}
	out["handlers"] = nonNil(handlers)
	out["handler_errors"] = errs
	sc := map[string]any{
		"file":            filepath.Base(h.cfg.Script),
		"path":            h.cfg.Script,
		"language":        h.lang.Name(),
		"reloads":         h.reloadCount.Load(),
		"reload_failures": h.reloadFailures.Load(),
	}
	if e := h.lastReloadErr.Load(); e != nil {
		sc["last_reload_error"] = reloadErr{Message: e.msg, At: e.at.UnixMilli(), Why: e.why, Superseded: h.reloadCount.Load() > e.seen}
	}
	out["script"] = sc

	var byMembers []roomMembers
	h.hub.mu.RLock()
	for name, m := range h.hub.rooms {
		byMembers = append(byMembers, roomMembers{name, len(m)})
	}
	h.hub.mu.RUnlock()
	slices.SortFunc(byMembers, func(a, b roomMembers) int {
		if a.Members != b.Members {
			return b.Members - a.Members
		}
		return strings.Compare(a.Room, b.Room)
	})
	byMembers = byMembers[:min(len(byMembers), topRooms)]
	o.mu.Lock()
	ring := slices.Clone(o.ring)
	rr := o.roomRate
	o.mu.Unlock()
	out["rooms"] = map[string]any{"count": len(byMembers), "by_members": nonNil(byMembers), "by_rate": nonNil(rr)}
	out["series"] = nonNil(ring)
	var peers []peer
	for _, p := range h.peers() {
		peers = append(peers, peer{Name: p.Name, Addr: p.Addr, Up: p.Up, RTT: float64(p.RTT.Microseconds()) / 1e3})
	}
	names := []string{h.cfg.Node}
	if l, ok := h.hub.b.(clusterLister); ok {
		if n := l.Nodes(); len(n) > 0 {
			names = n
		}
	}
	out["cluster"] = map[string]any{"nodes": len(names), "names": names, "peers": nonNil(peers)}
	return out
}

// nonNil keeps an empty list a JSON [] rather than null.
func nonNil[T any](s []T) []T {
	if s == nil {
		return []T{}
	}
	return s
}
