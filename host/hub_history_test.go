package host_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/imscript/imscript/script/scripttest"
)

// History, recovery and presence events, as a WebSocket client sees them:
// seqs in the messages it gets, what a reconnect with since/epoch brings,
// what a uid finds at its next login.

var historyScripts = map[string]string{
	"lua": `
local srv = imscript.server{ host = "127.0.0.1", port = 0, type = "websocket", worker_num = 2,
  history_size = 700, recovery_max = 600, presence_events = true }
local function num(s) if s and s ~= "" then return tonumber(s) end end
srv:on("open", function(s, req)
  local q = req.query
  local rec = nil
  if q.since then rec = { since = num(q.since), epoch = q.epoch } end
  if q.uid then
    local r = s:bind(req.fd, q.uid, rec or {})
    if rec then s:push(req.fd, "bound " .. r.seq .. " " .. r.epoch .. " " .. tostring(r.recovered)) end
  end
  if q.room then
    local r = s:join(req.fd, q.room, rec)
    s:push(req.fd, "joined " .. r.seq .. " " .. r.epoch .. " " .. tostring(r.recovered))
  end
  s:push(req.fd, "ready")
end)
srv:on("presence", function(s, room, uid, what)
  if room ~= "events" then s:publish("events", "presence " .. room .. " " .. uid .. " " .. what) end
end)
srv:on("message", function(s, f)
  local cmd, a, b = f.data:match("^(%S+) ?(%S*) ?(.*)$")
  if cmd == "pub" then
    local n, seq = s:publish(a, b)
    s:push(f.fd, "pubd " .. n .. " " .. seq)
  elseif cmd == "pubn" then
    s:publish(a, b, { history = false })
  elseif cmd == "pubt" then
    s:publish(a, { text = b, seq = "ignored" })
  elseif cmd == "dmt" then
    local n, seq = s:sendToUid(a, { text = b })
    s:push(f.fd, "dmd " .. n .. " " .. seq)
  elseif cmd == "hist" then
    local since, before, limit = b:match("^(%d+) (%d+) (%d+)$")
    local l, pos = s:history(a, { since = tonumber(since), before = tonumber(before), limit = tonumber(limit) })
    local seqs = {}
    for i, p in ipairs(l) do seqs[i] = p.seq .. (p.ts > 0 and "" or "?") end
    s:push(f.fd, "hist " .. table.concat(seqs, ",") .. " " .. pos.seq .. " " .. pos.epoch)
  elseif cmd == "pos" then
    local pos = s:position(a)
    s:push(f.fd, "pos " .. pos.seq .. " " .. pos.epoch)
  end
end)
`,
	"js": `
const srv = imscript.server({ host: "127.0.0.1", port: 0, type: "websocket", worker_num: 2,
  history_size: 700, recovery_max: 600, presence_events: true });
srv.on("open", (s, req) => {
  const q = req.query;
  const rec = q.since !== undefined ? { since: Number(q.since), epoch: q.epoch } : undefined;
  if (q.uid !== undefined) {
    const r = s.bind(req.fd, q.uid, rec || {});
    if (rec) s.push(req.fd, "bound " + r.seq + " " + r.epoch + " " + r.recovered);
  }
  if (q.room !== undefined) {
    const r = s.join(req.fd, q.room, rec);
    s.push(req.fd, "joined " + r.seq + " " + r.epoch + " " + (r.recovered === undefined ? "nil" : r.recovered));
  }
  s.push(req.fd, "ready");
});
srv.on("presence", (s, room, uid, what) => {
  if (room !== "events") s.publish("events", "presence " + room + " " + uid + " " + what);
});
srv.on("message", (s, f) => {
  const m = /^(\S+) ?(\S*) ?(.*)$/.exec(f.data);
  const [cmd, a, b] = [m[1], m[2], m[3]];
  if (cmd === "pub") {
    const n = s.publish(a, b);
    s.push(f.fd, "pubd " + n + " " + s.position(a).seq);
  } else if (cmd === "pubn") {
    s.publish(a, b, { history: false });
  } else if (cmd === "pubt") {
    s.publish(a, { text: b, seq: "ignored" });
  } else if (cmd === "dmt") {
    const n = s.sendToUid(a, { text: b });
    s.push(f.fd, "dmd " + n + " 0");
  } else if (cmd === "hist") {
    const [since, before, limit] = b.split(" ").map(Number);
    const l = s.history(a, { since, before, limit });
    const pos = s.position(a);
    s.push(f.fd, "hist " + l.map((p) => p.seq + (p.ts > 0 ? "" : "?")).join(",") + " " + pos.seq + " " + pos.epoch);
  } else if (cmd === "pos") {
    const pos = s.position(a);
    s.push(f.fd, "pos " + pos.seq + " " + pos.epoch);
  }
});
`,
}

// histClient is a WebSocket client that keeps what it reads.
type histClient struct {
	t *testing.T
	c *websocket.Conn
}

func histDial(t *testing.T, port int, q url.Values) *histClient {
	t.Helper()
	u := "ws://127.0.0.1:" + strconv.Itoa(port) + "/?" + q.Encode()
	c, resp, err := websocket.DefaultDialer.Dial(u, http.Header{})
	if err != nil {
		t.Fatalf("dial %s: %v (%v)", u, err, resp)
	}
	t.Cleanup(func() { c.Close() })
	return &histClient{t: t, c: c}
}

func (h *histClient) send(s string) {
	h.t.Helper()
	if err := h.c.WriteMessage(websocket.TextMessage, []byte(s)); err != nil {
		h.t.Fatal(err)
	}
}

func (h *histClient) read() string {
	h.t.Helper()
	_ = h.c.SetReadDeadline(time.Now().Add(waitLimit))
	_, msg, err := h.c.ReadMessage()
	if err != nil {
		h.t.Fatalf("read: %v", err)
	}
	return string(msg)
}

// until reads up to the first message starting with prefix and returns
// it and what came before.
func (h *histClient) until(prefix string) (string, []string) {
	h.t.Helper()
	var before []string
	for {
		m := h.read()
		if strings.HasPrefix(m, prefix) {
			return m, before
		}
		before = append(before, m)
	}
}

// stamped is a table payload as delivered: the JSON with seq and ts.
type stamped struct {
	Seq  uint64 `json:"seq"`
	TS   int64  `json:"ts"`
	Text string `json:"text"`
}

func decodeStamped(t *testing.T, m string) stamped {
	t.Helper()
	var s stamped
	if err := json.Unmarshal([]byte(m), &s); err != nil || s.Seq == 0 || s.TS == 0 {
		t.Fatalf("not a stamped message: %q (%v)", m, err)
	}
	return s
}

func TestHistorySeqAndPaging(t *testing.T) {
	for _, lang := range scripttest.Langs {
		t.Run(lang, func(t *testing.T) {
			t.Parallel()
			h := scripttest.Start(t, scripttest.Options{Lang: lang, Src: historyScripts[lang], Workers: 2})
			a := histDial(t, h.Port(0), url.Values{"room": {"r"}})
			joined, _ := a.until("joined ")
			f := strings.Fields(joined)
			if len(f) != 4 || f[1] != "0" || f[2] == "" || f[3] != "nil" {
				t.Fatalf("join of a new room: %q, want joined 0 <epoch> nil", joined)
			}
			epoch := f[2]
			a.until("ready")
			for i := 1; i <= 3; i++ {
				a.send("pubt r hello" + strconv.Itoa(i))
				s := decodeStamped(t, a.read())
				if s.Seq != uint64(i) || s.Text != "hello"+strconv.Itoa(i) {
					t.Fatalf("publication %d arrived as %+v", i, s)
				}
			}
			a.send("pub r raw")
			if got := a.read(); got != "raw" {
				t.Fatalf("a string payload arrived as %q, want it unchanged", got)
			}
			if got := a.read(); got != "pubd 1 4" {
				t.Fatalf("publish returned %q, want 1 connection, seq 4", got)
			}
			a.send("pubn r typing") // not kept: the history below ends at 4
			if got := a.read(); got != "typing" {
				t.Fatalf("a publication without history arrived as %q", got)
			}
			for _, tc := range []struct{ q, want string }{
				{"0 0 2", "hist 3,4 4 " + epoch},   // the newest 2
				{"1 0 0", "hist 2,3,4 4 " + epoch}, // after 1 (limit 0: the default 50)
				{"0 4 2", "hist 2,3 4 " + epoch},   // 2 before 4: paging back
				{"4 0 0", "hist  4 " + epoch},      // nothing after the last
			} {
				a.send("hist r " + tc.q)
				if got, _ := a.until("hist "); got != tc.want {
					t.Errorf("history %s: %q, want %q", tc.q, got, tc.want)
				}
			}
			a.send("pos nowhere")
			if got, _ := a.until("pos "); got != "pos 0 "+epoch {
				t.Errorf("position of a room that never published: %q, want seq 0 and the same epoch", got)
			}
		})
	}
}

// A client drops, 500 messages are published by four others at once, and
// it comes back with since while they are still publishing: it gets every
// one of the 500, in seq order, none twice, and then the live ones.
func TestHistoryRecoveryExactlyOnce(t *testing.T) {
	for _, lang := range scripttest.Langs {
		t.Run(lang, func(t *testing.T) {
			t.Parallel()
			h := scripttest.Start(t, scripttest.Options{Lang: lang, Src: historyScripts[lang], Workers: 2})
			c := histDial(t, h.Port(0), url.Values{"room": {"r"}})
			joined, _ := c.until("joined ")
			epoch := strings.Fields(joined)[2]
			c.until("ready")
			c.send("pubt r first")
			first := decodeStamped(t, c.read())
			c.c.Close()

			const pubs, each = 4, 125
			var wg sync.WaitGroup
			halfway := make(chan struct{})
			for p := range pubs {
				pc := histDial(t, h.Port(0), url.Values{})
				pc.until("ready")
				wg.Add(1)
				go func() {
					defer wg.Done()
					for i := range each {
						if p == 0 && i == each/2 {
							close(halfway)
						}
						pc.send(fmt.Sprintf("pubt r p%d-%d", p, i))
					}
				}()
			}
			<-halfway
			back := histDial(t, h.Port(0), url.Values{"room": {"r"}, "since": {strconv.FormatUint(first.Seq, 10)}, "epoch": {epoch}})
			seen := map[string]bool{}
			next := first.Seq + 1
			recovered := ""
			for len(seen) < pubs*each {
				m := back.read()
				if strings.HasPrefix(m, "joined ") {
					recovered = m
					continue
				}
				if m == "ready" {
					continue
				}
				s := decodeStamped(t, m)
				if s.Seq != next {
					t.Fatalf("got seq %d (%q), want %d: a gap or a message twice", s.Seq, s.Text, next)
				}
				if seen[s.Text] {
					t.Fatalf("%q twice", s.Text)
				}
				seen[s.Text] = true
				next++
			}
			wg.Wait()
			if recovered == "" { // live messages may come before the join's answer
				recovered, _ = back.until("joined ")
			}
			if f := strings.Fields(recovered); len(f) != 4 || f[2] != epoch || f[3] != "true" {
				t.Fatalf("the join said %q, want recovered true with epoch %s", recovered, epoch)
			}
			back.send("pubt r after")
			last := back.read()
			for last == "ready" {
				last = back.read()
			}
			if s := decodeStamped(t, last); s.Text != "after" || s.Seq != next {
				t.Fatalf("the live message after the recovery: %+v, want seq %d", s, next)
			}
		})
	}
}

// What recovery refuses: another epoch, a seq the room never gave, more
// than recovery_max missed, history that no longer reaches back.
func TestHistoryRecoveryRefused(t *testing.T) {
	for _, lang := range scripttest.Langs {
		t.Run(lang, func(t *testing.T) {
			t.Parallel()
			h := scripttest.Start(t, scripttest.Options{Lang: lang, Src: historyScripts[lang], Workers: 2})
			a := histDial(t, h.Port(0), url.Values{})
			a.until("ready")
			publishN := func(n int) {
				for range n {
					a.send("pub r x")
				}
				for range n {
					a.until("pubd ")
				}
			}
			publishN(10)
			a.send("pos r")
			pos, _ := a.until("pos ")
			epoch := strings.Fields(pos)[2]
			join := func(since, epoch string) (string, []string) {
				c := histDial(t, h.Port(0), url.Values{"room": {"r"}, "since": {since}, "epoch": {epoch}})
				j, got := c.until("joined ")
				c.c.Close()
				return j, got
			}
			if j, got := join("5", epoch); j != "joined 10 "+epoch+" true" || len(got) != 5 {
				t.Fatalf("since 5: %q after %d messages, want recovered and 5", j, len(got))
			}
			if j, got := join("5", "another-epoch"); j != "joined 10 "+epoch+" false" || len(got) != 0 {
				t.Fatalf("another epoch: %q after %d messages, want not recovered and none", j, len(got))
			}
			if j, got := join("11", epoch); j != "joined 10 "+epoch+" false" || len(got) != 0 {
				t.Fatalf("a seq never given: %q after %d, want not recovered", j, len(got))
			}
			if j, got := join("10", epoch); j != "joined 10 "+epoch+" true" || len(got) != 0 {
				t.Fatalf("nothing missed: %q after %d, want recovered and none", j, len(got))
			}
			publishN(600) // seq 610: 605 missed since 5, recovery_max is 600
			if j, got := join("5", epoch); j != "joined 610 "+epoch+" false" || len(got) != 0 {
				t.Fatalf("more than recovery_max missed: %q after %d, want not recovered and none", j, len(got))
			}
			if j, got := join("10", epoch); j != "joined 610 "+epoch+" true" || len(got) != 600 {
				t.Fatalf("recovery_max missed: %q after %d, want recovered and 600", j, len(got))
			}
			publishN(100) // seq 710, history_size 700: seqs 11..710 kept
			if j, got := join("9", epoch); j != "joined 710 "+epoch+" false" || len(got) != 0 {
				t.Fatalf("history no longer reaching back: %q after %d, want not recovered", j, len(got))
			}
		})
	}
}

// A message sent to a uid with no connection is there at its next login,
// and presence events tell a uid's first connection in a room and its
// last one leaving.
func TestHistoryOfflineAndPresenceEvents(t *testing.T) {
	for _, lang := range scripttest.Langs {
		t.Run(lang, func(t *testing.T) {
			t.Parallel()
			h := scripttest.Start(t, scripttest.Options{Lang: lang, Src: historyScripts[lang], Workers: 2})
			a := histDial(t, h.Port(0), url.Values{"room": {"events"}})
			a.until("ready")
			a.send("dmt zed while you were away")
			if got, _ := a.until("dmd "); !strings.HasPrefix(got, "dmd 0 ") {
				t.Fatalf("a message to an offline uid: %q, want 0 connections", got)
			}
			zed := histDial(t, h.Port(0), url.Values{"uid": {"zed"}, "since": {"0"}})
			bound, got := zed.until("bound ")
			if len(got) != 1 || decodeStamped(t, got[0]).Text != "while you were away" || !strings.HasSuffix(bound, " true") {
				t.Fatalf("zed's login: %q after %q, want the message and recovered", bound, got)
			}

			ann1 := histDial(t, h.Port(0), url.Values{"uid": {"ann"}, "room": {"r2"}})
			ann1.until("ready")
			if got := a.read(); got != "presence r2 ann join" {
				t.Fatalf("first connection of ann: %q", got)
			}
			ann2 := histDial(t, h.Port(0), url.Values{"uid": {"ann"}, "room": {"r2"}})
			ann2.until("ready")
			ann1.c.Close()
			ann2.c.Close()
			if got := a.read(); got != "presence r2 ann leave" {
				t.Fatalf("after ann's second connection and both closing: %q, want one leave", got)
			}
		})
	}
}
