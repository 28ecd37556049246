package main

import (
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// rrRun starts one server of the http or ws section and measures its row,
// retrying a disturbed run.
func rrRun(o *options, b *builds, sec string, k serverKind, rep int, results map[rowKey][]runResult) error {
	if k.needs != nil {
		if err := k.needs(b); err != nil {
			if rep > 1 {
				return nil // the first run said why
			}
			return err
		}
	}
	prof := ""
	if o.profile != "" && k.key != "node" && k.key != nginxKind.key {
		prof = filepath.Join(o.profile, fmt.Sprintf("%s-%s-r%d", sec, k.key, rep))
	}
	s, err := startMeasured(o, b, sec, k, prof)
	if err != nil {
		return err
	}
	profSeq := 0
	defer func() {
		s.stop()
		for i := 1; prof != "" && i <= profSeq; i++ {
			_ = os.Remove(fmt.Sprintf("%s-%d.heap.pprof", prof, i))
			from := fmt.Sprintf("%s-%d.pprof", prof, i)
			if i < profSeq {
				_ = os.Remove(from)
			} else if os.Rename(from, prof+".pprof") == nil {
				logf("profile %s.pprof", prof)
			}
		}
	}()
	for attempt := 0; ; attempt++ {
		var r runResult
		var err error
		switch {
		case httpSection(sec) && o.httpLoad == loadWrk:
			r, err = measureWrk(o, s, prof, workOf(sec, filepath.Join(b.dir, wrkScriptName)))
		case dataSection(sec):
			// The Go generator checks every reply, but only cheaply (the
			// row's email, or the value), so check the first ones whole.
			if err = workOf(sec, "").check(s.addr); err != nil {
				err = fmt.Errorf("the server's replies are wrong, not measuring: %w", err)
				break
			}
			fallthrough
		default:
			r, err = measureLoad(o, s, prof, func(onMeasure, onDone func()) (*loadResult, error) {
				return runRR(rrSpecFor(o, sec, s, onMeasure, onDone))
			})
		}
		if prof != "" {
			profSeq++
		}
		if err != nil {
			return fmt.Errorf("%w\n%s", err, s.log.String())
		}
		note := ""
		if r.disturbed {
			note = "  DISTURBED by " + orDash(r.busiest)
		}
		unit := "req/s"
		if sec == secWS {
			unit = "msgs/s"
		}
		if len(r.fails) > 0 {
			note = "  FAILURES: " + strings.Join(r.fails, "; ") + note
		}
		backend := ""
		if s.backend != 0 {
			backend = fmt.Sprintf(", redis-server %.2f", r.backendCPU)
		}
		logf("run %d %-6s %-8s %9.0f %s  p50 %-8s p99 %-8s server %.2f%s, load %.2f, other %.2f, idle %.2f cores, %.2f rd/wr syscalls/msg%s%s",
			rep, sec, k.key, r.rate, unit, r.p50, r.p99, r.srvCPU, backend, r.loadCPU, r.otherCPU, r.idleCPU, r.sysPerMsg, brokenNote(r), note)
		if r.disturbed && attempt < o.retries {
			time.Sleep(o.retryPause)
			continue
		}
		r.rep = rep
		results[rowKey{sec, k.key, 1}] = append(results[rowKey{sec, k.key, 1}], r)
		return nil
	}
}

// rrSpecFor is the load of an http (hello), sqlite, redis or ws (echo)
// row.
func rrSpecFor(o *options, sec string, s *server, onMeasure, onDone func()) rrSpec {
	spec := rrSpec{conns: o.conns, threads: o.threads, warmup: o.warmup, duration: o.duration,
		dialer: 8, onMeasure: onMeasure, onDone: onDone}
	switch sec {
	case secHTTP:
		req := httpRequest(s.addr.String())
		spec.parse = parseHTTPReply
		spec.dial = func(int) (*rrConn, error) {
			fd, err := dialRaw(s.addr)
			if err != nil {
				return nil, err
			}
			return &rrConn{fd: fd, out: req, want: []byte("hello world"), in: make([]byte, 4096)}, nil
		}
	case secSQLite, secRedis:
		cyc := dataCycle(sec, s.addr.String())
		spec.parse = parseHTTPReply
		if sec == secSQLite {
			spec.parse = parseHTTPHolding
		}
		spec.dial = func(i int) (*rrConn, error) {
			fd, err := dialRaw(s.addr)
			if err != nil {
				return nil, err
			}
			c := &rrConn{fd: fd, cyc: cyc, t: i, j: -1, in: make([]byte, 4096)}
			c.advance()
			return c, nil
		}
	case secWS:
		spec.parse = parseWSEcho
		spec.dial = func(i int) (*rrConn, error) {
			fd, rest, err := wsDial(s.addr, 10*time.Second)
			if err != nil {
				return nil, err
			}
			if len(rest) > 0 {
				_ = unix.Close(fd)
				return nil, fmt.Errorf("%d bytes before the first message: %q", len(rest), clip(rest, 40))
			}
			p := wsEchoPayload(i, o.size)
			key := [4]byte{byte(i), byte(i >> 8), 0xA5, 0x3C}
			return &rrConn{fd: fd, out: maskedFrame(opText, p, key), want: p, in: make([]byte, 4096)}, nil
		}
	}
	return spec
}

// roomKey names a broadcast row: server and messages per second in.
type roomKey struct {
	key  string
	rate int
}

// roomResult is one broadcast row.
type roomResult struct {
	*roomLoad
	rate      int
	clients   int
	cpu       cpuUse // over the sending window
	pss, rss  int64  // server memory (KiB) after the drain
	disturbed bool
	run       int // which -room-repeat run
}

// deliveryRate is measured deliveries per second while sending.
func (r *roomResult) deliveryRate() float64 {
	if r.window <= 0 {
		return 0
	}
	return float64(r.inWindow) / r.window.Seconds()
}

// roomRun starts one broadcast server and runs every rate against it,
// each with fresh connections: run rep of -room-repeat.
func roomRun(o *options, b *builds, k serverKind, rep int, res *results) {
	prof := ""
	if o.profile != "" && k.key != "node" {
		prof = filepath.Join(o.profile, "room-"+k.key)
		if o.roomRepeat > 1 {
			prof += fmt.Sprintf("-r%d", rep)
		}
	}
	run := ""
	if o.roomRepeat > 1 {
		run = fmt.Sprintf("run %d ", rep)
	}
	s, err := startServer(k, b, prof)
	if err != nil {
		logf("%sroom %s: %v", run, k.key, err)
		res.fail(secRoom, k.key, run+err.Error())
		return
	}
	defer func() {
		s.stop()
		for i, rate := range o.roomRates {
			if prof == "" {
				break
			}
			_ = os.Remove(fmt.Sprintf("%s-%d.heap.pprof", prof, i+1))
			to := fmt.Sprintf("%s-%d.pprof", prof, rate)
			if os.Rename(fmt.Sprintf("%s-%d.pprof", prof, i+1), to) == nil {
				logf("profile %s", to)
			}
		}
	}()
	for i, rate := range o.roomRates {
		// The stress rows run on a server the first row has warmed up.
		d, warm := o.roomDuration, o.roomWarmup
		if i > 0 {
			d, warm = o.stressDur, 0
		}
		r := &roomResult{rate: rate, clients: o.roomClients}
		var w *cpuWindow
		spec := roomSpec{addrs: []netip.AddrPort{s.addr}, clients: o.roomClients, senders: o.roomSenders, threads: o.threads,
			size: o.size, rate: float64(rate), warmup: warm, duration: d, drain: o.roomDrain,
			onMeasure: func() { w = openWindow(s, prof != "") },
			onSent:    func() { r.cpu = w.close(false) },
			onDone: func() {
				if prof != "" {
					s.signal(syscall.SIGUSR2)
				}
				if m, err := readMem(s.pid); err == nil {
					r.pss, r.rss = m.pss, m.rss
				}
			},
		}
		load, err := runRoom(spec)
		if err == nil && !s.alive() {
			err = errServerDied
		}
		if err != nil {
			logf("%sroom %s %d msgs/s: %v", run, k.key, rate, err)
			res.fail(secRoom, k.key, fmt.Sprintf("%s%d msgs/s: %v\n%s", run, rate, err, s.log.String()))
			if !s.alive() {
				return
			}
			continue
		}
		r.roomLoad = load
		r.disturbed = r.cpu.other > o.maxOther
		r.run = rep
		res.room[roomKey{k.key, rate}] = append(res.room[roomKey{k.key, rate}], r)
		note := ""
		if r.disturbed {
			note = "  DISTURBED by " + orDash(r.cpu.busiest)
		}
		logf("%sroom %-8s %5d msgs/s in: %d sent, %.0f deliveries/s while sending, %d of %d delivered after %s drain, lost %d, dup %d, p50 %s p99 %s max %s; server %.2f, load %.2f, other %.2f cores; server PSS %s; %d broken%s%s",
			run, k.key, rate, r.sent, r.deliveryRate(), r.received, r.expected, r.drained.Round(time.Millisecond), r.lost, r.dups,
			fmtLongLatency(r.hist.quantile(0.5)), fmtLongLatency(r.hist.quantile(0.99)), fmtLongLatency(time.Duration(r.hist.max)),
			r.cpu.srv, r.cpu.load, r.cpu.other, fmtKiB(r.pss), r.broken, errNote(r.errs), note)
	}
}

func errNote(errs []string) string {
	if len(errs) == 0 {
		return ""
	}
	return " (" + firstN(errs, 3) + ")"
}
