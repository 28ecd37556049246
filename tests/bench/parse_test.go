package main

import (
	"flag"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

func TestLogHistQuantiles(t *testing.T) {
	var h logHist
	for i := 1; i <= 1000; i++ {
		h.record(int64(i) * int64(time.Microsecond))
	}
	for _, c := range []struct {
		q    float64
		want time.Duration
	}{{0.5, 500 * time.Microsecond}, {0.99, 990 * time.Microsecond}} {
		got := h.quantile(c.q)
		if got < c.want || float64(got) > float64(c.want)*1.04 {
			t.Errorf("quantile(%v) = %v, want %v within 4%%", c.q, got, c.want)
		}
	}
	if got := h.quantile(1); got != time.Millisecond {
		t.Errorf("quantile(1) = %v, want the largest sample, 1ms", got)
	}
	for _, v := range []int64{0, 1, 31, 32, 33, 63, 64, 1 << 40, 1 << 62} {
		if i := logBucket(v); v >= logUpper(i) || (i > 0 && v < logUpper(i-1)) {
			t.Errorf("value %d in bucket %d: [%d, %d)", v, i, logUpper(i-1), logUpper(i))
		}
	}
}

func TestServerFrames(t *testing.T) {
	p := []byte("hello")
	f, n, err := parseServerFrame(append([]byte{0x81, 5}, p...))
	if err != nil || n != 7 || !f.fin || f.opcode != opText || string(f.payload) != "hello" {
		t.Fatalf("short frame: %+v %d %v", f, n, err)
	}
	long := make([]byte, 300)
	b := append([]byte{0x82, 126, 1, 44}, long...)
	if _, n, err := parseServerFrame(b[:100]); n != 0 || err != nil {
		t.Fatalf("partial frame: n=%d err=%v", n, err)
	}
	if f, n, err := parseServerFrame(b); n != 304 || err != nil || len(f.payload) != 300 || f.opcode != opBinary {
		t.Fatalf("126-length frame: n=%d err=%v", n, err)
	}
	if _, _, err := parseServerFrame([]byte{0x81, 0x85, 1, 2, 3, 4, 0}); err == nil {
		t.Fatal("masked server frame accepted")
	}
	if _, _, err := parseServerFrame([]byte{0xC1, 0}); err == nil {
		t.Fatal("reserved bit accepted")
	}
	// A client frame unmasks to its payload.
	key := [4]byte{9, 8, 7, 6}
	m := maskedFrame(opText, p, key)
	if m[0] != 0x81 || m[1] != 0x85 {
		t.Fatalf("masked frame header % x", m[:2])
	}
	for i, c := range m[6:] {
		if c^key[i&3] != p[i] {
			t.Fatalf("masked payload byte %d", i)
		}
	}
	if a := appendMasked(nil, opText, p, key); string(a) != string(m) {
		t.Fatal("appendMasked and maskedFrame differ")
	}
}

func TestHTTPReply(t *testing.T) {
	c := &rrConn{want: []byte("hello world")}
	resp := "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\ncontent-length: 11\r\n\r\nhello world"
	for i := 0; i < len(resp); i++ {
		if n, err := parseHTTPReply(c, []byte(resp[:i])); n != 0 || err != nil {
			t.Fatalf("prefix of %d bytes: n=%d err=%v", i, n, err)
		}
	}
	if n, err := parseHTTPReply(c, []byte(resp)); n != len(resp) || err != nil {
		t.Fatalf("whole response: n=%d err=%v", n, err)
	}
	for _, bad := range []string{
		"HTTP/1.1 500 Oops\r\nContent-Length: 0\r\n\r\n",
		"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n",
		"HTTP/1.1 200 OK\r\nContent-Length: 11\r\nConnection: close\r\n\r\nhello world",
		"HTTP/1.1 200 OK\r\nContent-Length: 11\r\n\r\nhello there",
	} {
		if _, err := parseHTTPReply(c, []byte(bad)); err == nil {
			t.Errorf("accepted %q", bad)
		}
	}
}

func TestRoomPayload(t *testing.T) {
	s := &roomSender{size: 64}
	s.pay = make([]byte, 64)
	p := s.pay
	p[0] = 'M'
	hex8(p[1:9], 0xBEEF)
	hex16(p[9:25], 1234567890123)
	seq, ok1 := unhex(p[1:9])
	ts, ok2 := unhex(p[9:25])
	if !ok1 || !ok2 || seq != 0xBEEF || ts != 1234567890123 {
		t.Fatalf("seq %d ts %d (%v %v)", seq, ts, ok1, ok2)
	}
}

// Output of wrk 4.1.0 (Debian 4.1.0-3+b2) captured on the bench machine:
// a clean run against node_http.js (wrk prints no error line then), a
// warm-up-style run without --latency, and a run against a server that
// answered every 1,000th request with 500 and closed every 5,000th
// connection without answering.
const (
	wrkClean = `Running 2s test @ http://127.0.0.1:19501/
  2 threads and 100 connections
  Thread Stats   Avg      Stdev     Max   +/- Stdev
    Latency     3.26ms    9.19ms 131.36ms   97.62%
    Req/Sec    23.50k     5.97k   39.95k    80.00%
  Latency Distribution
     50%    2.04ms
     75%    2.46ms
     90%    3.16ms
     99%   47.72ms
  93689 requests in 2.01s, 14.30MB read
Requests/sec:  46679.44
Transfer/sec:      7.12MB
`
	wrkNoLatency = `Running 1s test @ http://127.0.0.1:19501/
  2 threads and 100 connections
  Thread Stats   Avg      Stdev     Max   +/- Stdev
    Latency     1.68ms    1.55ms  37.87ms   95.50%
    Req/Sec    32.01k     7.85k   52.58k    76.19%
  67041 requests in 1.10s, 10.23MB read
Requests/sec:  60757.68
Transfer/sec:      9.27MB
`
	wrkErrors = `Running 1s test @ http://127.0.0.1:19503/
  2 threads and 100 connections
  Thread Stats   Avg      Stdev     Max   +/- Stdev
    Latency     1.48ms    1.72ms  12.15ms   85.95%
    Req/Sec    45.88k     4.98k   52.97k    65.00%
  Latency Distribution
     50%    0.88ms
     75%    1.98ms
     90%    3.85ms
     99%    7.80ms
  91514 requests in 1.01s, 11.17MB read
  Socket errors: connect 0, read 18, write 0, timeout 0
  Non-2xx or 3xx responses: 73
Requests/sec:  90975.06
Transfer/sec:     11.11MB
`
)

func TestParseWrk(t *testing.T) {
	w, err := parseWrk(wrkClean)
	if err != nil {
		t.Fatal(err)
	}
	want := wrkOutput{requests: 93689, elapsed: 2010 * time.Millisecond, reqPerSec: 46679.44,
		p50: 2040 * time.Microsecond, p99: 47720 * time.Microsecond, latency: true}
	if w != want {
		t.Errorf("clean run: got %+v, want %+v", w, want)
	}
	if s, l := w.failures(); len(s) != 0 || len(l) != 0 {
		t.Errorf("clean run: failures %q %q", s, l)
	}

	w, err = parseWrk(wrkNoLatency)
	if err != nil || w.latency || w.requests != 67041 || w.elapsed != 1100*time.Millisecond || w.reqPerSec != 60757.68 {
		t.Errorf("run without --latency: %+v, %v", w, err)
	}

	w, err = parseWrk(wrkErrors)
	if err != nil {
		t.Fatal(err)
	}
	want = wrkOutput{requests: 91514, elapsed: 1010 * time.Millisecond, reqPerSec: 90975.06,
		p50: 880 * time.Microsecond, p99: 7800 * time.Microsecond, latency: true,
		non2xx: 73, readErrs: 18}
	if w != want {
		t.Errorf("run with errors: got %+v, want %+v", w, want)
	}
	if s, l := w.failures(); len(s) != 2 || len(l) != 2 || s[0] != "73 status ≥ 400" || s[1] != "18 socket errors" {
		t.Errorf("run with errors: failures %q %q", s, l)
	}

	if _, err := parseWrk("unable to connect to 127.0.0.1:19502 Connection refused\n"); err == nil {
		t.Error("accepted wrk's connect failure")
	}

	for in, want := range map[string]time.Duration{"456.00us": 456 * time.Microsecond, "1.50ms": 1500 * time.Microsecond,
		"2.01s": 2010 * time.Millisecond, "1.00m": time.Minute, "1.00h": time.Hour} {
		if got, err := parseWrkTime(in); err != nil || got != want {
			t.Errorf("parseWrkTime(%q) = %v, %v; want %v", in, got, err, want)
		}
	}
	for _, bad := range []string{"", "12", "ms", "1.0xs"} {
		if _, err := parseWrkTime(bad); err == nil {
			t.Errorf("parseWrkTime(%q) accepted", bad)
		}
	}
}

func TestCheckHello(t *testing.T) {
	for _, c := range []struct {
		reply string
		ok    bool
	}{
		{"HTTP/1.1 200 OK\r\nContent-Length: 11\r\n\r\nhello world", true},
		{"HTTP/1.1 200 OK\r\nContent-Length: 11\r\n\r\nhello there", false},
		{"HTTP/1.1 200 OK\r\nContent-Length: 11\r\nConnection: close\r\n\r\nhello world", false},
		{"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n", false},
	} {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		go func() {
			conn, err := ln.Accept()
			if err != nil {
				return
			}
			defer conn.Close()
			buf := make([]byte, 4096)
			for got := ""; ; {
				n, err := conn.Read(buf)
				if err != nil {
					return
				}
				got += string(buf[:n])
				for strings.Contains(got, "\r\n\r\n") {
					_, got, _ = strings.Cut(got, "\r\n\r\n")
					if _, err := conn.Write([]byte(c.reply)); err != nil {
						return
					}
				}
			}
		}()
		err = checkHello(netip.MustParseAddrPort(ln.Addr().String()))
		ln.Close()
		if (err == nil) != c.ok {
			t.Errorf("reply %q: err %v", c.reply, err)
		}
	}
}

func TestRowSelection(t *testing.T) {
	dir := t.TempDir()
	old := filepath.Join(dir, "imscript-old")
	if err := os.WriteFile(old, []byte("#!/bin/sh\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	plain := filepath.Join(dir, "not-executable")
	if err := os.WriteFile(plain, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		args []string
		want string // the rows, or the start of the error
	}{
		{nil, "gnet,go,lua,js,node,nginx,centrifugo"},
		{[]string{"-rows", "lua,node"}, "lua,node"},
		{[]string{"-rows", "lua-base"}, "error: -rows: lua-base is a baseline row: it needs -baseline PATH"},
		{[]string{"-baseline", old}, "gnet,go,lua,lua-base,js,js-base,node,nginx,centrifugo"},
		{[]string{"-baseline", old, "-rows", "lua,js"}, "lua,js"},
		{[]string{"-baseline", old, "-rows", "js-base,node,lua,js,lua-base"}, "node,lua,lua-base,js,js-base"},
		{[]string{"-baseline", old, "-rows", "lua-base"}, "lua-base"},
		{[]string{"-baseline", old, "-rows", "gnet-base"}, "error: -rows: unknown server \"gnet-base\""},
		{[]string{"-baseline", old, "-profile", dir}, "error: -baseline and -profile do not mix"},
		{[]string{"-baseline", plain}, "error: -baseline " + plain + ": not an executable file"},
		{[]string{"-baseline", filepath.Join(dir, "missing")}, "error: -baseline: "},
		{[]string{"-room-repeat", "0"}, "error: -repeat, -room-repeat"},
	} {
		o, err := parseArgs(c.args, flag.ContinueOnError)
		got := ""
		if err != nil {
			got = "error: " + err.Error()
		} else {
			got = strings.Join(o.rows, ",")
		}
		if !strings.HasPrefix(got, c.want) || (err == nil && got != c.want) {
			t.Errorf("%q: got %s, want %s", c.args, got, c.want)
		}
	}

	o, err := parseArgs([]string{"-baseline", old, "-rows", "lua,lua-base,js,js-base,node,gnet", "-workers", "3"}, flag.ContinueOnError)
	if err != nil {
		t.Fatal(err)
	}
	b := &builds{root: "/repo", imscript: "/tmp/new/imscript", baseline: o.baseline, workers: o.workers}
	for sec, want := range map[string][]string{
		secTCP:  {"lua", "lua-metrics", "lua-base", "js", "js-metrics", "js-base", "node", "gnet"},
		secHTTP: {"lua", "lua-base", "js", "js-base", "node", "gnet"},
		secWS:   {"lua", "lua-base", "js", "js-base", "node"},
		secRoom: {"lua", "lua-hmem", "lua-hdisk", "lua-base", "js", "js-hmem", "js-hdisk", "js-base", "node"},
	} {
		var keys []string
		for _, k := range o.selected(sec) {
			keys = append(keys, k.key)
		}
		if !slices.Equal(keys, want) {
			t.Errorf("%s: rows %v, want %v", sec, keys, want)
		}
		pairs := basePairs(o, sec)
		if len(pairs) != 2 || pairs[0][0].key != "lua" || pairs[0][1].key != "lua-base" || pairs[1][0].key != "js" || pairs[1][1].key != "js-base" {
			t.Errorf("%s: pairs %v", sec, pairs)
		}
		// A baseline row starts the other binary with exactly the
		// imscript row's arguments.
		for _, pr := range pairs {
			n, bs := pr[0].cmd(b, 1, ""), pr[1].cmd(b, 1, "")
			if n.Path != b.imscript || bs.Path != old || !slices.Equal(n.Args[1:], bs.Args[1:]) {
				t.Errorf("%s %s: new %s %q, baseline %s %q", sec, pr[1].key, n.Path, n.Args[1:], bs.Path, bs.Args[1:])
			}
		}
	}
	// The --metrics rows: the imscript row's arguments and --metrics.
	for _, key := range []string{"lua", "js"} {
		plain, _ := findKind(o.selected(secTCP), key)
		with, _ := findKind(o.selected(secTCP), key+"-metrics")
		p, m := plain.cmd(b, 1, "").Args, with.cmd(b, 1, "").Args
		if len(m) != len(p)+2 || m[1] != p[1] || m[2] != "--metrics" || !strings.HasPrefix(m[3], "127.0.0.1:") || !slices.Equal(m[4:], p[2:]) {
			t.Errorf("%s-metrics: %q, want %q with --metrics", key, m, p)
		}
	}
	for sec, want := range map[string]string{secTCP: "imscript Lua echo (baseline imscript-old)", secRoom: "imscript Lua (publish; baseline imscript-old)"} {
		if k, _ := findKind(o.selected(sec), "lua-base"); k.label != want {
			t.Errorf("%s: label %q, want %q", sec, k.label, want)
		}
	}
}

func TestRatioCell(t *testing.T) {
	for _, c := range []struct {
		nw, base     float64
		higherBetter bool
		want         string
		bad          bool
	}{
		{100, 100, true, "1.000", false},
		{95, 100, true, "0.950", false},
		{94, 100, true, "**0.940 ⚠**", true},
		{105, 100, false, "1.050", false},
		{106, 100, false, "**1.060 ⚠**", true},
		{50, 100, false, "0.500", false},
		{0, 100, true, "—", false},
	} {
		got, bad, _ := ratioCell(c.nw, c.base, c.higherBetter)
		if got != c.want || bad != c.bad {
			t.Errorf("ratioCell(%v, %v, %v) = %q, %v; want %q, %v", c.nw, c.base, c.higherBetter, got, bad, c.want, c.bad)
		}
	}
	// Repeats pair by number; a repeat one side lacks (it failed) is left out.
	nr := []runResult{{rep: 1, rate: 90}, {rep: 2, rate: 100, disturbed: true}, {rep: 3, rate: 50}}
	br := []runResult{{rep: 1, rate: 100}, {rep: 2, rate: 100}}
	if got := eachRepeatRatio(nr, br); got != "0.90, 1.00*" {
		t.Errorf("eachRepeatRatio = %q", got)
	}
}

func TestSummarizeRoom(t *testing.T) {
	run := func(lost uint64, p99 time.Duration, srv float64, disturbed bool) *roomResult {
		h := &logHist{}
		for i := 0; i < 100; i++ {
			h.record(int64(p99))
		}
		return &roomResult{roomLoad: &roomLoad{sent: 10, expected: 100, received: 100 - lost, lost: lost, inWindow: 1000, window: time.Second, hist: h},
			cpu: cpuUse{srv: srv}, disturbed: disturbed}
	}
	s, ok := summarizeRoom([]*roomResult{run(0, time.Millisecond, 1, false), run(7, 3*time.Millisecond, 3, false), run(2, 2*time.Millisecond, 2, false), run(0, time.Second, 9, true)})
	if !ok || s.lost != 7 || s.received != 93 || s.srv != 2 || s.rate != 1000 || s.disturbed {
		t.Errorf("summary %+v", s)
	}
	if s.p99 < 2*time.Millisecond || s.p99 > 2100*time.Microsecond || s.maxLat < time.Second {
		t.Errorf("p99 %v (want the median of the undisturbed runs, 2ms), max %v", s.p99, s.maxLat)
	}
}
