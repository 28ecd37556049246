package tests

import (
	"fmt"
	"net"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
)

// askLine sends line and reads one reply line, without failing the test
// (for client goroutines).
func askLine(c net.Conn, line string) (string, error) {
	if _, err := c.Write([]byte(line + "\n")); err != nil {
		return "", err
	}
	r, err := readLine(c, ioTimeout)
	return strings.TrimSuffix(r, "\n"), err
}

// TestTableCountersExact: the table example on 2 workers and 2 task
// workers. Many clients at once make both workers and both task workers
// increment the same counter rows (each increment is one script call); the
// counters, the atomic and the per-client rows come out exact, and a
// reload (SIGHUP) keeps them all while the connections stay open.
func TestTableCountersExact(t *testing.T) {
	t.Parallel()
	eachLang(t, func(t *testing.T, lang string) {
		s := start(t, example(lang, "table"), runOpts{})
		const clients, rounds, per = 12, 20, 200
		conns := make([]net.Conn, clients)
		for i := range conns {
			conns[i] = dial(t, s.addr())
		}
		hitRe := regexp.MustCompile(`^(shared|own\d+) (\d+)$`)
		var wg sync.WaitGroup
		errs := make(chan error, clients)
		for i, c := range conns {
			wg.Add(1)
			go func() {
				defer wg.Done()
				fail := func(format string, args ...any) {
					errs <- fmt.Errorf("client %d: "+format, append([]any{i}, args...)...)
				}
				if r, err := askLine(c, fmt.Sprintf("name c%d", i)); err != nil || r != fmt.Sprintf("hello c%d", i) {
					fail("name: %q, %v", r, err)
					return
				}
				for round := range rounds {
					cmd := "hit" // on the connection's worker
					if round%2 == 1 {
						cmd = "thit" // on a task worker
					}
					counter := "shared"
					if round%4 == 3 {
						counter = fmt.Sprintf("own%d", i)
					}
					r, err := askLine(c, fmt.Sprintf("%s %s %d", cmd, counter, per))
					if err != nil || hitRe.FindStringSubmatch(r) == nil || !strings.HasPrefix(r, counter+" ") {
						fail("%s %s: %q, %v", cmd, counter, r, err)
						return
					}
				}
			}()
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			t.Error(err)
		}
		if t.Failed() {
			return
		}
		c := conns[0]
		get := func(counter string) int {
			t.Helper()
			r, err := askLine(c, "get "+counter)
			n, ok := strings.CutPrefix(r, counter+" ")
			v, convErr := strconv.Atoi(n)
			if err != nil || !ok || convErr != nil {
				t.Fatalf("get %s: %q, %v", counter, r, err)
			}
			return v
		}
		ownRounds := rounds / 4 // rounds 3, 7, 11, ...
		wantShared := clients * (rounds - ownRounds) * per
		if got := get("shared"); got != wantShared {
			t.Errorf("shared counter %d, want %d", got, wantShared)
		}
		for i := range clients {
			if got := get(fmt.Sprintf("own%d", i)); got != ownRounds*per {
				t.Errorf("own%d counter %d, want %d", i, got, ownRounds*per)
			}
		}
		// Every line so far: clients × (name + rounds) + the 1 + clients
		// gets above + this stats line.
		messages := clients*(1+rounds) + 1 + clients + 1
		wantStats := fmt.Sprintf("clients=%d messages=%d counters=%d reloads=0", clients, messages, 1+clients)
		if r, err := askLine(c, "stats"); err != nil || r != wantStats {
			t.Errorf("stats: %q, %v; want %q", r, err, wantStats)
		}
		who, err := askLine(c, "who")
		if err != nil {
			t.Fatal(err)
		}
		for i := range clients {
			msgs := 1 + rounds
			if i == 0 {
				msgs += 1 + clients + 2 // the gets, stats and who on this connection
			}
			if want := fmt.Sprintf(" name=c%d msgs=%d", i, msgs); !strings.Contains(who, want) {
				t.Errorf("who lacks %q: %s", want, who)
			}
		}

		// A reload keeps the tables and the atomic; the connections and their
		// rows stay.
		s.signal(syscall.SIGHUP)
		s.waitStderr("reloaded")
		messages += 2 // who, stats
		wantStats = fmt.Sprintf("clients=%d messages=%d counters=%d reloads=1", clients, messages, 1+clients)
		if r, err := askLine(c, "stats"); err != nil || r != wantStats {
			t.Errorf("stats after the reload: %q, %v; want %q", r, err, wantStats)
		}
		for i, c := range conns {
			if r, err := askLine(c, "hit shared 1"); err != nil || !strings.HasPrefix(r, "shared ") {
				t.Errorf("client %d after the reload: %q, %v", i, r, err)
			}
		}
		if got := get("shared"); got != wantShared+clients {
			t.Errorf("shared counter after the reload %d, want %d", got, wantShared+clients)
		}
		if who2, err := askLine(c, "who"); err != nil || !strings.Contains(who2, " name=c11 msgs=") {
			t.Errorf("who after the reload: %q, %v", who2, err)
		}
	})
}
