package main

import (
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/gorilla/websocket"
)

// The recovery storm (section storm): -storm-clients clients are members
// of a room with history, all go away, -storm-missed messages are
// published, and all come back at once. Measured in turns on one server:
// the time until every client has reconnected and joined without recovery
// (plain), and the time until every client has reconnected, joined with
// since/epoch and received exactly the messages it missed, in order
// (recover). Every recovering client is checked whole.

var stormKinds = []serverKind{
	historyKind("lua-hmem", "imscript Lua (history in memory)", "ws_storm.lua", false),
	historyKind("lua-hdisk", "imscript Lua (history on disk)", "ws_storm.lua", true),
	historyKind("js-hmem", "imscript JS (history in memory)", "ws_storm.js", false),
	historyKind("js-hdisk", "imscript JS (history on disk)", "ws_storm.js", true),
}

// stormResult is one server's storm: the times of each turn.
type stormResult struct {
	plain, recover []time.Duration
	exact, clients int // recovering clients that got exactly what they missed, of clients per turn (all turns)
}

func medianDur(ds []time.Duration) time.Duration {
	if len(ds) == 0 {
		return 0
	}
	s := slices.Clone(ds)
	slices.Sort(s)
	return s[len(s)/2]
}

// stormRun runs the storm against a fresh server of kind k.
func stormRun(o *options, b *builds, k serverKind, res *results) {
	s, err := startServer(k, b, "")
	if err != nil {
		logf("storm %s: %v", k.key, err)
		res.fail(secStorm, k.key, err.Error())
		return
	}
	defer s.stop()
	r, err := storm(o, "ws://"+s.addr.String()+"/")
	if err != nil {
		logf("storm %s: %v", k.key, err)
		res.fail(secStorm, k.key, err.Error()+"\n"+s.log.String())
		return
	}
	res.storm[k.key] = r
}

func storm(o *options, base string) (*stormResult, error) {
	n, missed := o.stormClients, o.stormMissed
	// Everyone is a member once: the position they all saw last.
	seq, epoch, err := stormTurn(base+"?ack=1", n, 0, nil, nil)
	if err != nil {
		return nil, fmt.Errorf("first join: %w", err)
	}
	// They are gone; a sender publishes what they will miss and waits for
	// its own copy of the last one.
	sender, _, err := websocket.DefaultDialer.Dial(base+"?ack=1", http.Header{})
	if err != nil {
		return nil, err
	}
	defer sender.Close()
	if _, _, err := sender.ReadMessage(); err != nil {
		return nil, err
	}
	want := make([]string, missed)
	for i := range want {
		want[i] = "storm-" + strconv.Itoa(i+1)
		if err := sender.WriteMessage(websocket.TextMessage, []byte(want[i])); err != nil {
			return nil, err
		}
	}
	_ = sender.SetReadDeadline(time.Now().Add(30 * time.Second))
	for got := 0; got < missed; {
		_, m, err := sender.ReadMessage()
		if err != nil {
			return nil, fmt.Errorf("the sender's own copies: %w", err)
		}
		if strings.HasPrefix(string(m), "storm-") {
			got++
		}
	}
	r := &stormResult{clients: n}
	recoverURL := fmt.Sprintf("%s?ack=1&since=%d&epoch=%s", base, seq, epoch)
	for turn := range o.stormTurns {
		d, _, err := stormTurnTimed(base+"?ack=1", n, 0, nil)
		if err != nil {
			return nil, fmt.Errorf("turn %d, plain: %w", turn+1, err)
		}
		r.plain = append(r.plain, d)
		var exact int
		d, exact, err = stormTurnTimed(recoverURL, n, missed, want)
		if err != nil {
			return nil, fmt.Errorf("turn %d, recover: %w", turn+1, err)
		}
		r.recover = append(r.recover, d)
		r.exact += exact
		logf("storm turn %d: %s clients, plain reconnect+join %s, reconnect+recover %d each %s (%d exact)",
			turn+1, fmtInt(n), r.plain[turn].Round(time.Millisecond), missed, d.Round(time.Millisecond), exact)
	}
	r.clients = n * o.stormTurns
	return r, nil
}

func stormTurnTimed(url string, n, missed int, want []string) (time.Duration, int, error) {
	start := time.Now()
	exact := 0
	_, _, err := stormTurn(url, n, missed, want, func(ok bool) {
		if ok {
			exact++
		}
	})
	return time.Since(start), exact, err
}

// stormTurn connects n clients at once to url, each reading until its
// join's answer, then closes them all. With missed > 0 each must have
// received exactly want before it and "recovered true"; check is told
// whether it did (under a lock). It returns the seq and epoch of the
// first answer.
func stormTurn(url string, n, missed int, want []string, check func(ok bool)) (uint64, string, error) {
	var (
		mu    sync.Mutex
		first []string
		errs  []string
		conns = make([]*websocket.Conn, n)
		wg    sync.WaitGroup
		gate  = make(chan struct{}, 64) // dials at once
	)
	dialer := websocket.Dialer{HandshakeTimeout: 30 * time.Second}
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			gate <- struct{}{}
			c, _, err := dialer.Dial(url, http.Header{})
			<-gate
			if err != nil {
				mu.Lock()
				errs = append(errs, err.Error())
				mu.Unlock()
				return
			}
			conns[i] = c
			_ = c.SetReadDeadline(time.Now().Add(60 * time.Second))
			var got []string
			for {
				_, m, err := c.ReadMessage()
				if err != nil {
					mu.Lock()
					errs = append(errs, err.Error())
					mu.Unlock()
					return
				}
				if strings.HasPrefix(string(m), "joined ") {
					f := strings.Fields(string(m))
					mu.Lock()
					if first == nil {
						first = f
					}
					if check != nil {
						check(len(f) == 4 && f[3] == "true" && slices.Equal(got, want[:missed]))
					}
					mu.Unlock()
					return
				}
				got = append(got, string(m))
			}
		}()
	}
	wg.Wait()
	for _, c := range conns {
		if c != nil {
			c.Close()
		}
	}
	if len(errs) > 0 {
		return 0, "", fmt.Errorf("%d of %d clients failed, first: %s", len(errs), n, errs[0])
	}
	if len(first) < 3 {
		return 0, "", fmt.Errorf("no join answer")
	}
	seq, err := strconv.ParseUint(first[1], 10, 64)
	return seq, first[2], err
}

// stormReport writes the storm's table.
func stormReport(p func(string, ...any), o *options, res *results) {
	p("\n## Recovery storm\n\n")
	p("%s", busyLine(o))
	p("%s clients, members of one room with history (%s kept), go away; %d messages are published; then all reconnect at once (at most 64 dialing at a time), "+
		"%d turns on the same server process: *plain* is the time until every client has reconnected and its join is answered, *recover* until every client has reconnected, "+
		"joined with since/epoch and received exactly the %d messages it missed, in order, before its join's answer (each client checked whole). Medians of the turns.\n\n",
		fmtInt(o.stormClients), roomHistory, o.stormMissed, o.stormTurns, o.stormMissed)
	p("| server | plain | recover | recover ÷ plain | clients exact |\n|---|---:|---:|---:|---:|\n")
	for _, k := range o.selected(secStorm) {
		r, ok := res.storm[k.key]
		if !ok {
			p("| %s | — | — | failed | — |\n", k.label)
			continue
		}
		pl, rc := medianDur(r.plain), medianDur(r.recover)
		p("| %s | %s | %s | %.2f | %s of %s |\n", k.label, pl.Round(time.Millisecond), rc.Round(time.Millisecond),
			float64(rc)/float64(pl), fmtInt(r.exact), fmtInt(r.clients))
	}
}

func (r *stormResult) safeExact() int {
	if r == nil {
		return 0
	}
	return r.exact
}

func (r *stormResult) safeClients() int {
	if r == nil {
		return 0
	}
	return r.clients
}
