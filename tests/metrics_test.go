package tests

import (
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
)

// --metrics and --admin of the built binary: /metrics scraped after real
// traffic (tests/testdata/<lang>/metrics.*), the status page's JSON and
// token, and the page itself in headless Chromium.

// scrape is one read of /metrics.
type scrape map[string]*dto.MetricFamily

func getMetrics(t *testing.T, url string) scrape {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("GET %s: %s", url, resp.Status)
	}
	if ct := resp.Header.Get("Content-Type"); !strings.HasPrefix(ct, "text/plain") {
		t.Fatalf("GET %s: Content-Type %q, want the text format", url, ct)
	}
	p := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := p.TextToMetricFamilies(resp.Body)
	if err != nil {
		t.Fatalf("GET %s: not the Prometheus text format: %v", url, err)
	}
	return fams
}

// value is the value of the series of name whose labels include want
// (a histogram's count); ok is false when there is none.
func (s scrape) value(name string, want ...string) (float64, bool) {
	f := s[name]
	if f == nil {
		return 0, false
	}
next:
	for _, m := range f.Metric {
		have := map[string]string{}
		for _, l := range m.Label {
			have[l.GetName()] = l.GetValue()
		}
		for i := 0; i+1 < len(want); i += 2 {
			if have[want[i]] != want[i+1] {
				continue next
			}
		}
		switch {
		case m.Counter != nil:
			return m.Counter.GetValue(), true
		case m.Gauge != nil:
			return m.Gauge.GetValue(), true
		case m.Histogram != nil:
			return float64(m.Histogram.GetSampleCount()), true
		case m.Untyped != nil:
			return m.Untyped.GetValue(), true
		}
	}
	return 0, false
}

// mexp is one series and the value it must reach.
type mexp struct {
	name   string
	labels []string
	want   float64
}

// waitMetrics scrapes until every series has its value (counters are
// bumped on other goroutines a moment after the bytes went out).
func waitMetrics(t *testing.T, url string, exps ...mexp) scrape {
	t.Helper()
	deadline := time.Now().Add(waitTimeout)
	for {
		s := getMetrics(t, url)
		var bad []string
		for _, e := range exps {
			got, ok := s.value(e.name, e.labels...)
			if !ok || got != e.want {
				bad = append(bad, fmt.Sprintf("%s%v = %v (present %v), want %v", e.name, e.labels, got, ok, e.want))
			}
		}
		if len(bad) == 0 {
			return s
		}
		if time.Now().After(deadline) {
			t.Fatalf("after %v:\n%s", waitTimeout, strings.Join(bad, "\n"))
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// echoLines sends n lines on c and reads them back.
func echoLines(t *testing.T, c net.Conn, tag string, n int) {
	t.Helper()
	var all strings.Builder
	for i := range n {
		fmt.Fprintf(&all, "%s line %d\n", tag, i)
	}
	write(t, c, []byte(all.String()))
	if got := string(readN(t, c, all.Len())); got != all.String() {
		t.Fatalf("echo: got %q, want %q", got, all.String())
	}
}

func TestMetrics(t *testing.T) {
	eachLang(t, func(t *testing.T, lang string) {
		mport := freePort(t)
		srv := start(t, testScript(lang, "metrics"), runOpts{args: []string{"--metrics", "127.0.0.1:" + strconv.Itoa(mport)}})
		url := "http://127.0.0.1:" + strconv.Itoa(mport) + "/metrics"
		server := []string{"server", "tcp://" + srv.addr(), "type", "tcp"}

		const conns, lines = 3, 20
		var cs []net.Conn
		for i := range conns {
			c := dial(t, srv.addr())
			defer c.Close()
			cs = append(cs, c)
			echoLines(t, c, "c"+strconv.Itoa(i), lines)
		}
		n := float64(conns * lines)
		var bytes float64
		for i := range conns {
			for j := range lines {
				bytes += float64(len(fmt.Sprintf("c%d line %d\n", i, j)))
			}
		}
		s := waitMetrics(t, url,
			mexp{"imscript_connections", server, conns},
			mexp{"imscript_accepted_connections_total", server, conns},
			mexp{"imscript_closed_connections_total", server, 0},
			mexp{"imscript_received_messages_total", server, n},
			mexp{"imscript_sent_messages_total", server, n},
			mexp{"imscript_received_bytes_total", server, bytes},
			mexp{"imscript_sent_bytes_total", server, bytes},
			// Every handler call is counted, on whichever worker ran it.
			mexp{"imscript_handler_duration_seconds", []string{"event", "receive"}, n},
			mexp{"imscript_handler_duration_seconds", []string{"event", "connect"}, conns},
			mexp{"imscript_handler_errors_total", []string{"event", "receive"}, 0},
			mexp{"imscript_workers", []string{"kind", "event"}, 2},
			mexp{"imscript_workers", []string{"kind", "task"}, 1},
			mexp{"imscript_task_queue_length", nil, 0},
			mexp{"imscript_task_queue_capacity", nil, 4096},
			mexp{"imscript_suspended_handlers", nil, 0},
			mexp{"imscript_watchdog_interrupts_total", nil, 0},
			mexp{"imscript_reloads_total", nil, 0},
			// The script's own.
			mexp{"test_lines_total", []string{"kind", "echo"}, n},
			mexp{"test_open", nil, conns},
			mexp{"test_line_bytes", nil, n},
		)
		for _, name := range []string{"go_goroutines", "go_memstats_heap_alloc_bytes", "process_resident_memory_bytes", "process_open_fds"} {
			if _, ok := s.value(name); !ok {
				t.Errorf("no %s in /metrics (Go runtime and process collectors)", name)
			}
		}
		// The histogram is well formed: cumulative buckets ending at the count,
		// a positive sum.
		for _, m := range s["imscript_handler_duration_seconds"].Metric {
			h := m.Histogram
			bs := h.Bucket
			for i := 1; i < len(bs); i++ {
				if bs[i].GetCumulativeCount() < bs[i-1].GetCumulativeCount() {
					t.Errorf("buckets not cumulative: %v", bs)
				}
			}
			if last := bs[len(bs)-1].GetCumulativeCount(); last > h.GetSampleCount() {
				t.Errorf("last bucket %d above the count %d", last, h.GetSampleCount())
			}
			if h.GetSampleSum() <= 0 {
				t.Errorf("handler duration sum %v, want > 0", h.GetSampleSum())
			}
		}
		// Line sizes went into the script's buckets {4, 16, 64}: every
		// line here is 10-12 bytes.
		for _, m := range s["test_line_bytes"].Metric {
			for _, b := range m.Histogram.Bucket {
				want := uint64(0)
				if b.GetUpperBound() >= 16 {
					want = uint64(n)
				}
				if b.GetCumulativeCount() != want {
					t.Errorf("test_line_bytes bucket le=%v: %d, want %d", b.GetUpperBound(), b.GetCumulativeCount(), want)
				}
			}
		}

		// A handler that raises: counted as an error and as a call.
		write(t, cs[0], []byte("boom\n"))
		srv.waitStderr("boom asked")
		waitMetrics(t, url,
			mexp{"imscript_handler_errors_total", []string{"event", "receive"}, 1},
			mexp{"imscript_handler_duration_seconds", []string{"event", "receive"}, n + 1},
			mexp{"imscript_received_messages_total", server, n + 1},
			mexp{"imscript_sent_messages_total", server, n},
		)

		// A handler that runs away: the watchdog interrupts it after
		// max_exec_ms (500).
		write(t, cs[2], []byte("spin\n"))
		waitMetrics(t, url,
			mexp{"imscript_watchdog_interrupts_total", nil, 1},
			mexp{"imscript_handler_errors_total", []string{"event", "receive"}, 2},
			mexp{"imscript_handler_duration_seconds", []string{"event", "receive"}, n + 2},
		)
		// Its duration is in a bucket at or above 0.5 s.
		s = getMetrics(t, url)
		for _, m := range s["imscript_handler_duration_seconds"].Metric {
			if m.Label[0].GetValue() != "receive" {
				continue
			}
			for _, b := range m.Histogram.Bucket {
				if b.GetUpperBound() == 0.25 && b.GetCumulativeCount() != uint64(n+1) {
					t.Errorf("receive calls up to 0.25 s: %d, want %v (all but the one interrupted)", b.GetCumulativeCount(), n+1)
				}
			}
		}

		// A task: its handler on the task worker, the finish event back.
		write(t, cs[1], []byte("task t1\n"))
		if got := string(readN(t, cs[1], len("done t1\n"))); got != "done t1\n" {
			t.Fatalf("task: got %q", got)
		}
		waitMetrics(t, url,
			mexp{"imscript_handler_duration_seconds", []string{"event", "task"}, 1},
			mexp{"imscript_handler_duration_seconds", []string{"event", "finish"}, 1},
			mexp{"imscript_handler_duration_seconds", []string{"event", "receive"}, n + 3},
		)

		// A handler waiting for an HTTP answer that the test holds: Lua's
		// suspends (the gauge shows it), JS's returns a promise.
		release := make(chan struct{})
		hs := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			<-release
			w.Write([]byte("ok"))
		}))
		defer hs.Close()
		defer func() {
			select {
			case <-release:
			default:
				close(release)
			}
		}()
		f := dial(t, srv.addr())
		defer f.Close()
		write(t, f, []byte("fetch "+hs.URL+"/\n"))
		suspended := 0.0
		if lang == "lua" {
			suspended = 1
		}
		if lang == "js" {
			// The handler returned its promise: counted; nothing suspended.
			waitMetrics(t, url, mexp{"imscript_handler_duration_seconds", []string{"event", "receive"}, n + 4})
		}
		// A Lua handler is counted when it returns, after its wait.
		waitMetrics(t, url, mexp{"imscript_suspended_handlers", nil, suspended})
		close(release)
		if got := string(readN(t, f, len("fetched 200\n"))); got != "fetched 200\n" {
			t.Fatalf("fetch: got %q", got)
		}
		waitMetrics(t, url, mexp{"imscript_suspended_handlers", nil, 0},
			mexp{"imscript_handler_duration_seconds", []string{"event", "receive"}, n + 4})
		f.Close()
		waitMetrics(t, url, mexp{"imscript_connections", server, conns})

		// A publication to a room with one member.
		write(t, cs[1], []byte("pub lobby\n"))
		if got := string(readN(t, cs[1], len("pub lobby\n"))); got != "pub lobby\n" {
			t.Fatalf("publish: got %q", got)
		}
		waitMetrics(t, url,
			mexp{"imscript_publishes_total", nil, 1},
			mexp{"imscript_rooms", nil, 1},
			mexp{"imscript_sent_messages_total", server, n + 3}, // done t1, fetched 200, the publication
		)

		// Connections that close leave the gauge.
		cs[0].Close()
		cs[1].Close()
		waitMetrics(t, url,
			mexp{"imscript_connections", server, 1},
			mexp{"imscript_closed_connections_total", server, 3},
			mexp{"imscript_handler_duration_seconds", []string{"event", "close"}, 3},
			mexp{"test_open", nil, 1},
			mexp{"imscript_rooms", nil, 0},
		)
	})
}

// TestMetricsNames: every metric of the host follows the conventions
// (the imscript_ prefix; counters end in _total; no fd or uid label).
func TestMetricsNames(t *testing.T) {
	mport := freePort(t)
	srv := start(t, testScript("lua", "metrics"), runOpts{args: []string{"--metrics", "127.0.0.1:" + strconv.Itoa(mport)}})
	c := dial(t, srv.addr())
	defer c.Close()
	echoLines(t, c, "x", 2)
	s := getMetrics(t, "http://127.0.0.1:"+strconv.Itoa(mport)+"/metrics")
	var names []string
	for name, f := range s {
		if !strings.HasPrefix(name, "imscript_") {
			continue
		}
		names = append(names, name)
		if f.GetType() == dto.MetricType_COUNTER && !strings.HasSuffix(name, "_total") {
			t.Errorf("counter %s does not end in _total", name)
		}
		if f.GetHelp() == "" {
			t.Errorf("%s has no help", name)
		}
		for _, m := range f.Metric {
			for _, l := range m.Label {
				switch l.GetName() {
				case "fd", "uid", "remote_ip", "room":
					t.Errorf("%s has an unbounded label %s", name, l.GetName())
				}
			}
		}
	}
	sort.Strings(names)
	if len(names) < 25 {
		t.Errorf("only %d imscript_ metrics: %v", len(names), names)
	}
}

// adminGet is GET url with an optional bearer token.
func adminGet(t *testing.T, url, bearer string) (int, string) {
	t.Helper()
	req, _ := http.NewRequest("GET", url, nil)
	if bearer != "" {
		req.Header.Set("Authorization", "Bearer "+bearer)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// TestAdminToken: --admin PORT listens on loopback only; with
// --admin-token, the page and /api/stats refuse a request without the
// token (or with another) and answer one with it, as a Bearer header or
// ?token=.
func TestAdminToken(t *testing.T) {
	eachLang(t, func(t *testing.T, lang string) {
		aport := freePort(t)
		srv := start(t, testScript(lang, "metrics"), runOpts{args: []string{"--admin", strconv.Itoa(aport), "--admin-token", "s3cret"}})
		base := "http://127.0.0.1:" + strconv.Itoa(aport)
		line := srv.waitStderr("admin page")
		if !strings.Contains(line, "url=http://127.0.0.1:"+strconv.Itoa(aport)+"/") {
			t.Errorf("admin page log line %q: want it on 127.0.0.1:%d", line, aport)
		}
		// Not on the machine's other addresses.
		addrs, _ := net.InterfaceAddrs()
		for _, a := range addrs {
			ipn, ok := a.(*net.IPNet)
			if !ok || ipn.IP.IsLoopback() || ipn.IP.IsLinkLocalUnicast() {
				continue
			}
			c, err := net.DialTimeout("tcp", net.JoinHostPort(ipn.IP.String(), strconv.Itoa(aport)), 2*time.Second)
			if err == nil {
				c.Close()
				t.Errorf("the admin page answers on %s: it must listen on loopback only", ipn.IP)
			}
		}
		for _, tc := range []struct {
			url, bearer string
			status      int
		}{
			{base + "/api/stats", "", 401},
			{base + "/api/stats", "wrong", 401},
			{base + "/api/stats?token=wrong", "", 401},
			{base + "/", "", 401},
			{base + "/api/stats", "s3cret", 200},
			{base + "/api/stats?token=s3cret", "", 200},
			{base + "/?token=s3cret", "", 200},
			{base + "/assets/uPlot.iife.min.js", "", 200}, // the library is public
		} {
			code, body := adminGet(t, tc.url, tc.bearer)
			if code != tc.status {
				t.Errorf("GET %s (bearer %q): %d, want %d: %.200s", tc.url, tc.bearer, code, tc.status, body)
			}
		}
		// The JSON says what the host runs.
		c := dial(t, srv.addr())
		defer c.Close()
		echoLines(t, c, "a", 5)
		var st struct {
			Connections int64 `json:"connections"`
			Script      struct {
				File     string `json:"file"`
				Language string `json:"language"`
			} `json:"script"`
			Workers []struct {
				ID   int    `json:"id"`
				Kind string `json:"kind"`
			} `json:"workers"`
			Handlers []struct {
				Event string `json:"event"`
				Calls int64  `json:"calls"`
			} `json:"handlers"`
		}
		waitFor(t, waitTimeout, "/api/stats to show the connection and its 5 lines", func() bool {
			_, body := adminGet(t, base+"/api/stats", "s3cret")
			if err := json.Unmarshal([]byte(body), &st); err != nil {
				t.Fatalf("/api/stats: %v: %.300s", err, body)
			}
			for _, h := range st.Handlers {
				if h.Event == "receive" && h.Calls == 5 {
					return st.Connections == 1
				}
			}
			return false
		})
		kinds := ""
		for _, w := range st.Workers {
			kinds += w.Kind + " "
		}
		if st.Script.File != "metrics."+lang || st.Script.Language != lang || kinds != "event event task " {
			t.Errorf("/api/stats: script %+v, workers %q; want metrics.%s in %s on workers \"event event task \"", st.Script, kinds, lang, lang)
		}
	})
}

// TestAdminBrowser: the status page in headless Chromium follows the
// connections the test opens and closes, and draws its charts.
func TestAdminBrowser(t *testing.T) {
	chrome := needChromium(t)
	for _, lang := range langs {
		t.Run(lang, func(t *testing.T) {
			aport := freePort(t)
			srv := start(t, testScript(lang, "metrics"), runOpts{args: []string{"--admin", "127.0.0.1:" + strconv.Itoa(aport), "--admin-token", "tok"}})
			ctx := startBrowser(t, t.Context(), chrome)
			var tabs []*chatTab
			tab := newTab(t, ctx, "admin", &tabs)
			tab.do("open the status page", chromedp.EmulateViewport(1280, 1560),
				chromedp.Navigate("http://127.0.0.1:"+strconv.Itoa(aport)+"/?token=tok"))
			conns := func(n int) string {
				return `document.getElementById("connections").textContent === "` + strconv.Itoa(n) + `"`
			}
			tab.until("0 connections", conns(0))
			tab.until("live", `document.getElementById("status").textContent.startsWith("live")`)
			var cs []net.Conn
			for i := range 4 {
				c := dial(t, srv.addr())
				defer c.Close()
				cs = append(cs, c)
				echoLines(t, c, "b"+strconv.Itoa(i), 50)
			}
			tab.until("4 connections", conns(4))
			// Traffic for a few seconds, so the charts have a shape: lines,
			// a handler error, publications to a room.
			write(t, cs[0], []byte("boom\n"))
			for i := range 4 {
				time.Sleep(time.Second)
				for j, c := range cs {
					echoLines(t, c, fmt.Sprintf("r%d.%d", i, j), 100*(i+1))
				}
				for range 3 {
					write(t, cs[3], []byte("pub lobby\n"))
					readN(t, cs[3], len("pub lobby\n"))
				}
			}
			tab.until("the room lobby", `document.getElementById("rooms_members").textContent.includes("lobby") && document.getElementById("rooms_rate").textContent.includes("lobby")`)
			tab.until("the handler error", `document.getElementById("errors").textContent === "1"`)
			tab.until("a messages/s point", `document.getElementById("in_rate").textContent !== "0" && document.getElementById("in_rate").textContent !== "–"`)
			tab.until("the receive handler in the table", `document.getElementById("handlers").textContent.includes("receive")`)
			tab.until("four charts", `document.querySelectorAll(".uplot canvas").length >= 4`)
			tab.until("the script's name", `document.getElementById("script").textContent.includes("metrics.`+lang+`")`)
			dir := filepath.Join(t.TempDir(), "shots")
			tab.screenshot(dir, "admin-"+lang+"-4conns")
			for _, c := range cs[:3] {
				c.Close()
			}
			tab.until("1 connection", conns(1))
			time.Sleep(2 * time.Second) // the chart's line comes down
			tab.screenshot(dir, "admin-"+lang+"-1conn")
		})
	}
}

// TestMetricsReload: a reload that fails is counted and shown on the
// status page with its file:line; one that succeeds is counted, and the
// script's metrics keep their values across it.
func TestMetricsReload(t *testing.T) {
	eachLang(t, func(t *testing.T, lang string) {
		file := copyScript(t, lang, "metrics")
		good, err := os.ReadFile(file)
		if err != nil {
			t.Fatal(err)
		}
		mport, aport := freePort(t), freePort(t)
		srv := start(t, file, runOpts{args: []string{"--metrics", "127.0.0.1:" + strconv.Itoa(mport), "--admin", strconv.Itoa(aport)}})
		url := "http://127.0.0.1:" + strconv.Itoa(mport) + "/metrics"
		c := dial(t, srv.addr())
		defer c.Close()
		echoLines(t, c, "before", 7)
		waitMetrics(t, url, mexp{"test_lines_total", []string{"kind", "echo"}, 7})

		// A syntax error on a known line.
		broken := string(good) + "\nlocal x = = 1 -- broken\n"
		if lang == "js" {
			broken = string(good) + "\nconst x = = 1; // broken\n"
		}
		if err := os.WriteFile(file, []byte(broken), 0o644); err != nil {
			t.Fatal(err)
		}
		line := markerLine(t, file, "broken")
		srv.signal(syscall.SIGHUP)
		waitMetrics(t, url, mexp{"imscript_reload_failures_total", nil, 1}, mexp{"imscript_reloads_total", nil, 0})
		var st struct {
			Script struct {
				Reloads         int64 `json:"reloads"`
				ReloadFailures  int64 `json:"reload_failures"`
				LastReloadError *struct {
					Message    string `json:"message"`
					Superseded bool   `json:"superseded"`
				} `json:"last_reload_error"`
			} `json:"script"`
		}
		stats := func() {
			_, body := adminGet(t, "http://127.0.0.1:"+strconv.Itoa(aport)+"/api/stats", "")
			if err := json.Unmarshal([]byte(body), &st); err != nil {
				t.Fatalf("/api/stats: %v", err)
			}
		}
		stats()
		where := fmt.Sprintf("metrics.%s:%d", lang, line)
		if e := st.Script.LastReloadError; e == nil || !strings.Contains(e.Message, where) || e.Superseded {
			t.Errorf("/api/stats last_reload_error %+v: want one naming %s, not superseded", e, where)
		}

		if err := os.WriteFile(file, good, 0o644); err != nil {
			t.Fatal(err)
		}
		srv.signal(syscall.SIGHUP)
		waitMetrics(t, url, mexp{"imscript_reloads_total", nil, 1}, mexp{"imscript_reload_failures_total", nil, 1})
		echoLines(t, c, "after", 3)
		waitMetrics(t, url, mexp{"test_lines_total", []string{"kind", "echo"}, 10}, mexp{"test_open", nil, 1})
		stats()
		if e := st.Script.LastReloadError; e == nil || !e.Superseded || st.Script.Reloads != 1 || st.Script.ReloadFailures != 1 {
			t.Errorf("/api/stats script %+v (error %+v): want 1 reload, 1 failure, the error superseded", st.Script, e)
		}
	})
}

// TestClusterMetrics: three nodes, each with --metrics: every node sees
// its two peers' links up, with an RTT; a publication on n1 is a publish
// and a history append there and a delivery on n2; a node killed shows
// its link down on the others. (The peers are the broker's, not the
// script's: one language is enough.)
func TestClusterMetrics(t *testing.T) {
	if testing.Short() {
		t.Skip("three processes with embedded NATS")
	}
	murl := map[string]string{}
	admin := strconv.Itoa(freePort(t))
	nodes := startCluster(t, "lua", func(n *clusterNode) {
		p := strconv.Itoa(freePort(t))
		n.extra = []string{"--metrics", "127.0.0.1:" + p}
		if n.name == "n1" {
			n.extra = append(n.extra, "--admin", admin)
		}
		murl[n.name] = "http://127.0.0.1:" + p + "/metrics"
	})
	n1, n2, n3 := nodes[0], nodes[1], nodes[2]
	// n1's status page lists the nodes and its links to the other two.
	var st struct {
		Cluster struct {
			Nodes int      `json:"nodes"`
			Names []string `json:"names"`
			Peers []struct {
				Name string  `json:"name"`
				Up   bool    `json:"up"`
				RTT  float64 `json:"rtt_ms"`
			} `json:"peers"`
		} `json:"cluster"`
	}
	waitFor(t, 30*time.Second, "n1's status page to show n2 and n3 up", func() bool {
		_, body := adminGet(t, "http://127.0.0.1:"+admin+"/api/stats", "")
		if err := json.Unmarshal([]byte(body), &st); err != nil {
			t.Fatalf("/api/stats: %v", err)
		}
		c := st.Cluster
		return c.Nodes == 3 && strings.Join(c.Names, ",") == "n1,n2,n3" && len(c.Peers) == 2 &&
			c.Peers[0].Name == "n2" && c.Peers[0].Up && c.Peers[0].RTT > 0 &&
			c.Peers[1].Name == "n3" && c.Peers[1].Up && c.Peers[1].RTT > 0
	})
	for _, n := range nodes {
		var exps []mexp
		for _, o := range nodes {
			if o != n {
				exps = append(exps, mexp{"imscript_cluster_peer_up", []string{"peer", o.name}, 1})
			}
		}
		waitMetrics(t, murl[n.name], append(exps, mexp{"imscript_cluster_nodes", nil, 3})...)
		waitFor(t, 30*time.Second, n.name+"'s peers' RTT", func() bool {
			s := getMetrics(t, murl[n.name])
			for _, o := range nodes {
				if rtt, ok := s.value("imscript_cluster_peer_rtt_seconds", "peer", o.name); o != n && (!ok || rtt <= 0 || rtt > 1) {
					return false
				}
			}
			return true
		})
	}
	b := ccDial(t, n2, url.Values{"uid": {"bob"}, "rooms": {"r"}})
	a := ccDial(t, n1, url.Values{"uid": {"ann"}, "rooms": {"r"}})
	waitFor(t, 30*time.Second, "ann's presence on n2", func() bool {
		b.send("presence r")
		return b.until("presence ") == "presence ann,bob"
	})
	a.send("pub r hello")
	if m := b.msg(); m.Text != "hello" {
		t.Fatalf("bob on n2 got %+v", m)
	}
	waitMetrics(t, murl[n1.name], mexp{"imscript_publishes_total", nil, 1}, mexp{"imscript_history_appends_total", nil, 1})
	waitMetrics(t, murl[n2.name], mexp{"imscript_deliveries_total", nil, 1}, mexp{"imscript_publishes_total", nil, 0})
	n3.s.kill()
	waitMetrics(t, murl[n1.name], mexp{"imscript_cluster_peer_up", []string{"peer", n3.name}, 0}, mexp{"imscript_cluster_peer_up", []string{"peer", n2.name}, 1})
}

// TestMetricsPortTaken: a --metrics or --admin port that is taken stops
// the start with an error that names it.
func TestMetricsPortTaken(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	taken := ln.Addr().String()
	for _, flag := range []string{"--metrics", "--admin"} {
		cmd := exec.Command(binPath, "run", "--no-watch", flag, taken, testScript("lua", "metrics"))
		cmd.Env = append(os.Environ(), "PORT="+strconv.Itoa(freePort(t)))
		out, err := cmd.CombinedOutput()
		if code := cmd.ProcessState.ExitCode(); err == nil || code != 1 {
			t.Errorf("%s %s (taken): exit %d (%v), want 1\n%s", flag, taken, code, err, out)
		}
		want := map[string]string{"--metrics": "metrics: listen tcp " + taken, "--admin": "admin page: listen tcp " + taken}[flag]
		if !strings.Contains(string(out), want) || !strings.Contains(string(out), "address already in use") {
			t.Errorf("%s %s (taken): output %q, want %q ... address already in use", flag, taken, out, want)
		}
	}
}
