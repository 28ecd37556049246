package metrics_test

import (
	"bufio"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/imscript/imscript"
	"github.com/imscript/imscript/script/scripttest"
)

// TestScrapeUnderTraffic: /metrics and /api/stats read while two workers
// echo on many connections (run with -race: the counters are read while
// they are written).
func TestScrapeUnderTraffic(t *testing.T) {
	ports := make([]string, 2)
	for i := range ports {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		ports[i] = ln.Addr().String()
		ln.Close()
	}
	src := map[string]string{
		"lua": `local srv = imscript.server{ host = "127.0.0.1", port = 0, open_eof_split = true, package_eof = "\n" }
local n = imscript.metrics.counter("echo_total", "Echoes.")
srv:on("receive", function(s, fd, data) n:inc(); s:send(fd, data) end)`,
		"js": `const srv = imscript.server({ host: "127.0.0.1", port: 0, open_eof_split: true, package_eof: "\n" });
const n = imscript.metrics.counter("echo_total", "Echoes.");
srv.on("receive", (s, fd, data) => { n.inc(); s.send(fd, data); });`,
	}
	for _, lang := range []string{"lua", "js"} {
		t.Run(lang, func(t *testing.T) {
			r := scripttest.Start(t, scripttest.Options{Lang: lang, Src: src[lang], Workers: 2, Config: func(c *imscript.Config) {
				c.MetricsAddr, c.AdminAddr = ports[0], ports[1]
			}})
			addr := "127.0.0.1:" + strconv.Itoa(r.Port(0))
			const conns, lines = 8, 200
			stop := make(chan struct{})
			var scrapes sync.WaitGroup
			for _, u := range []string{"http://" + ports[0] + "/metrics", "http://" + ports[1] + "/api/stats"} {
				scrapes.Add(1)
				go func() {
					defer scrapes.Done()
					for {
						select {
						case <-stop:
							return
						default:
						}
						resp, err := http.Get(u)
						if err != nil {
							t.Errorf("GET %s: %v", u, err)
							return
						}
						io.Copy(io.Discard, resp.Body)
						resp.Body.Close()
						if resp.StatusCode != 200 {
							t.Errorf("GET %s: %s", u, resp.Status)
							return
						}
					}
				}()
			}
			var wg sync.WaitGroup
			for c := range conns {
				wg.Add(1)
				go func() {
					defer wg.Done()
					cn, err := net.DialTimeout("tcp", addr, 10*time.Second)
					if err != nil {
						t.Error(err)
						return
					}
					defer cn.Close()
					cn.SetDeadline(time.Now().Add(30 * time.Second))
					rd := bufio.NewReader(cn)
					for j := range lines {
						line := "c" + strconv.Itoa(c) + " " + strconv.Itoa(j) + "\n"
						if _, err := io.WriteString(cn, line); err != nil {
							t.Error(err)
							return
						}
						got, err := rd.ReadString('\n')
						if err != nil || got != line {
							t.Errorf("echo: %q, %v", got, err)
							return
						}
					}
				}()
			}
			wg.Wait()
			close(stop)
			scrapes.Wait()
			want := "echo_total " + strconv.Itoa(conns*lines)
			wantCount := `imscript_handler_duration_seconds_count{event="receive"} ` + strconv.Itoa(conns*lines)
			r.Eventually("the counts in /metrics", func() bool {
				resp, err := http.Get("http://" + ports[0] + "/metrics")
				if err != nil {
					return false
				}
				b, _ := io.ReadAll(resp.Body)
				resp.Body.Close()
				return strings.Contains(string(b), want+"\n") && strings.Contains(string(b), wantCount+"\n")
			})
		})
	}
}
