package host_test

import (
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/imscript/imscript"
	"github.com/imscript/imscript/broker/memory"
	"github.com/imscript/imscript/script/scripttest"
)

// The hub behind the broker seam: two hosts in one process share an
// in-process bus (broker/memory), as nodes of a cluster share NATS. What a
// script publishes to a room or sends to a uid on one reaches the members
// on the other, and presence counts both.

var hubScripts = map[string]string{
	"lua": `
local srv = imscript.server{ host = "127.0.0.1", port = 0, type = "websocket" }
srv:on("open", function(s, req)
  s:bind(req.fd, req.query.uid)
  s:join(req.fd, "lobby")
  s:push(req.fd, "ready")
end)
srv:on("message", function(s, f)
  local cmd, a, b = f.data:match("^(%S+) ?(%S*) ?(.*)$")
  if cmd == "pub" then s:publish("lobby", a)
  elseif cmd == "touid" then s:sendToUid(a, b)
  elseif cmd == "presence" then s:push(f.fd, "presence " .. table.concat(s:presence("lobby"), ","))
  elseif cmd == "stats" then local st = s:stats(); s:push(f.fd, "stats " .. st.node .. " " .. st.cluster_nodes)
  end
end)
`,
	"js": `
const srv = imscript.server({ host: "127.0.0.1", port: 0, type: "websocket" });
srv.on("open", (s, req) => {
  s.bind(req.fd, req.query.uid);
  s.join(req.fd, "lobby");
  s.push(req.fd, "ready");
});
srv.on("message", (s, f) => {
  const [cmd, a, ...rest] = f.data.split(" ");
  if (cmd === "pub") s.publish("lobby", a);
  else if (cmd === "touid") s.sendToUid(a, rest.join(" "));
  else if (cmd === "presence") s.push(f.fd, "presence " + s.presence("lobby").join(","));
  else if (cmd === "stats") { const st = s.stats(); s.push(f.fd, "stats " + st.node + " " + st.cluster_nodes); }
});
`,
}

type hubClient struct {
	t *testing.T
	c *websocket.Conn
}

func hubDial(t *testing.T, port int, uid string) *hubClient {
	t.Helper()
	url := "ws://127.0.0.1:" + strconv.Itoa(port) + "/?uid=" + uid
	c, resp, err := websocket.DefaultDialer.Dial(url, http.Header{})
	if err != nil {
		t.Fatalf("dial %s: %v (%v)", url, err, resp)
	}
	t.Cleanup(func() { c.Close() })
	h := &hubClient{t: t, c: c}
	h.expect("ready")
	return h
}

func (h *hubClient) send(s string) {
	h.t.Helper()
	if err := h.c.WriteMessage(websocket.TextMessage, []byte(s)); err != nil {
		h.t.Fatal(err)
	}
}

func (h *hubClient) expect(want string) {
	h.t.Helper()
	_ = h.c.SetReadDeadline(time.Now().Add(waitLimit))
	_, msg, err := h.c.ReadMessage()
	if err != nil || string(msg) != want {
		h.t.Fatalf("read %q (%v), want %q", msg, err, want)
	}
}

// ask sends a command and returns the first message that starts with the
// answer's prefix.
func (h *hubClient) ask(cmd, prefix string) string {
	h.t.Helper()
	h.send(cmd)
	for {
		_ = h.c.SetReadDeadline(time.Now().Add(waitLimit))
		_, msg, err := h.c.ReadMessage()
		if err != nil {
			h.t.Fatalf("waiting for %q: %v", prefix, err)
		}
		if strings.HasPrefix(string(msg), prefix) {
			return string(msg)
		}
	}
}

func TestHubAcrossNodesOfOneBus(t *testing.T) {
	for _, lang := range scripttest.Langs {
		t.Run(lang, func(t *testing.T) {
			t.Parallel()
			bus := memory.NewBus()
			node := func(name string) *scripttest.Host {
				return scripttest.Start(t, scripttest.Options{Lang: lang, Src: hubScripts[lang], Workers: 2,
					Config: func(c *imscript.Config) { c.Broker, c.Node = bus.Node(name), name }})
			}
			n1, n2 := node("n1"), node("n2")
			ann := hubDial(t, n1.Port(0), "ann")
			bob := hubDial(t, n2.Port(0), "bob")
			carl := hubDial(t, n2.Port(0), "carl")

			ann.send("pub hello")
			ann.expect("hello") // the publisher's own node, the sender too
			bob.expect("hello") // the other node's members
			carl.expect("hello")

			bob.send("touid ann from bob")
			ann.expect("from bob")

			if got := ann.ask("stats", "stats "); got != "stats n1 2" {
				t.Fatalf("stats on n1: %q, want node n1 of 2", got)
			}
			if got := ann.ask("presence", "presence "); got != "presence ann,bob,carl" {
				t.Fatalf("presence on n1: %q, want ann,bob,carl", got)
			}
			bob.c.Close()
			n1.Eventually("bob's presence to end", func() bool {
				return ann.ask("presence", "presence ") == "presence ann,carl"
			})
			n2.H.Shutdown()
			if err := n2.Wait(); err != nil {
				t.Fatal(err)
			}
			if got := ann.ask("presence", "presence "); got != "presence ann" {
				t.Fatalf("presence after n2 stopped: %q, want ann", got)
			}
			if got := ann.ask("stats", "stats "); got != "stats n1 1" {
				t.Fatalf("stats on n1 after n2 stopped: %q, want node n1 of 1", got)
			}
		})
	}
}
