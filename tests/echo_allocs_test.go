package tests

import (
	"bytes"
	"path/filepath"
	"strconv"
	"testing"
)

// TestTCPEchoAllocations: the server's Go heap allocations per message of
// the bench's TCP echo (tests/bench/echo.*; go_memstats_mallocs_total
// around 5,000 round trips of one 64-byte message, each its own receive
// event), as the bench's allocs/op column counts them at depth 1. What is
// left: the copy of the bytes off the loop and its box, the data's
// script value (Lua: a string; JS: a Buffer, in one allocation since
// bindings/js/internal/goja's NewUint8Array; through goja_nodejs's
// WrapBytes it was seven, and the JS total 12).
func TestTCPEchoAllocations(t *testing.T) {
	t.Parallel()
	limit := map[string]float64{"lua": 6, "js": 6}
	eachLang(t, func(t *testing.T, lang string) {
		mport := freePort(t)
		script := filepath.Join(repoRoot, "tests", "bench", "echo."+lang)
		s := start(t, script, runOpts{args: []string{"--metrics", "127.0.0.1:" + strconv.Itoa(mport)}})
		murl := "http://127.0.0.1:" + strconv.Itoa(mport) + "/metrics"
		rc := dialRaw(t, s.addr())
		msg := bytes.Repeat([]byte("0123456789abcdef"), 4)
		round := func() {
			rc.send(t, string(msg))
			if got := rc.readFull(t, len(msg)); !bytes.Equal(got, msg) {
				t.Fatalf("echo %q, want %q", got, msg)
			}
		}
		for range 500 { // warm-up: buffers, the VMs' stacks
			round()
		}
		const rounds = 5000
		before := mallocsTotal(t, murl)
		for range rounds {
			round()
		}
		per := (mallocsTotal(t, murl) - before) / rounds
		t.Logf("%s: %.2f heap allocations per message", lang, per)
		if per > limit[lang] {
			t.Errorf("%s: %.2f heap allocations per echoed message, want at most %v", lang, per, limit[lang])
		}
	})
}

// mallocsTotal reads the server's go_memstats_mallocs_total from its
// /metrics (murl).
func mallocsTotal(t *testing.T, murl string) float64 {
	t.Helper()
	v, ok := getMetrics(t, murl).value("go_memstats_mallocs_total")
	if !ok {
		t.Fatal("no go_memstats_mallocs_total in /metrics")
	}
	return v
}
