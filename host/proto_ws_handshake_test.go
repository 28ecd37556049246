package host_test

import (
	"bufio"
	"errors"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/imscript/imscript/host"
	"github.com/imscript/imscript/host/internal/wire/wsframe"
	"github.com/imscript/imscript/script/scripttest"
)

// The handshake event: a websocket server's handshake(req, res) runs
// before the upgrade and may refuse it with an HTTP answer; it may suspend
// (Lua) or return a promise (JS).

var handshakeScripts = map[string]string{
	"lua": `
local function serve(srv)
srv:on("handshake", function(req, res)
  local p = req.path
  if p == "/deny" then return false end
  if p == "/401" then
    res:status(401):header("WWW-Authenticate", "Bearer")
    res:send("token required")
    return
  end
  if p == "/429" then res:status(429):header("Retry-After", "1") return end
  if p == "/token" then
    if req.query.token == "q-secret" or req.cookie.session == "c-secret" then
      res:cookie("seen", "yes", { path = "/" }):header("X-Hello", "hi " .. req.header["x-who"])
      return
    end
    return false
  end
  if p == "/sleep" then imscript.sleep(0.05) return true end
  if p == "/sleepdeny" then imscript.sleep(0.05) res:status(401) return false end
  if p == "/error" then local t = nil; return t.field end -- the sync error
  if p == "/asyncerror" then imscript.sleep(0.01) error("after the nap") end -- the async error
end)
srv:on("open", function(s, req)
  s:push(req.fd, "open " .. req.path .. " " .. tostring(s:isEstablished(req.fd)))
end)
srv:on("message", function(s, f)
  print("message " .. f.data)
  s:push(f.fd, "echo " .. f.data)
end)
end
serve(imscript.server{ host = "127.0.0.1", port = 0, type = "websocket" })
serve(imscript.server{ host = "127.0.0.1", port = 0, type = "websocket", ordered = false })
`,
	"js": `
function serve(srv) {
srv.on("handshake", (req, res) => {
  const p = req.path;
  if (p === "/deny") return false;
  if (p === "/401") {
    res.status(401).header("WWW-Authenticate", "Bearer");
    res.send("token required");
    return;
  }
  if (p === "/429") { res.status(429).header("Retry-After", "1"); return; }
  if (p === "/token") {
    if (req.query.token === "q-secret" || req.cookie.session === "c-secret") {
      res.cookie("seen", "yes", { path: "/" }).header("X-Hello", "hi " + req.header["x-who"]);
      return;
    }
    return false;
  }
  if (p === "/sleep") return imscript.sleep(0.05).then(() => true);
  if (p === "/sleepdeny") return (async () => { await imscript.sleep(0.05); res.status(401); return false; })();
  if (p === "/error") { const t = null; return t.field; } // the sync error
  if (p === "/asyncerror") return (async () => { await imscript.sleep(0.01); throw new Error("after the nap"); })(); // the async error
});
srv.on("open", (s, req) => {
  s.push(req.fd, "open " + req.path + " " + s.isEstablished(req.fd));
});
srv.on("message", (s, f) => {
  console.log("message " + f.data);
  s.push(f.fd, "echo " + f.data);
});
}
serve(imscript.server({ host: "127.0.0.1", port: 0, type: "websocket" }));
serve(imscript.server({ host: "127.0.0.1", port: 0, type: "websocket", ordered: false }));
`,
}

// refused dials path and expects the upgrade refused with status and body;
// it returns the response.
func refused(t *testing.T, port int, path string, h http.Header, status int, body string) *http.Response {
	t.Helper()
	url := "ws://127.0.0.1:" + strconv.Itoa(port) + path
	c, resp, err := websocket.DefaultDialer.Dial(url, h)
	if err == nil {
		c.Close()
		t.Fatalf("%s: the upgrade happened, want HTTP %d", path, status)
	}
	if !errors.Is(err, websocket.ErrBadHandshake) || resp == nil {
		t.Fatalf("%s: %v, want a refused handshake (HTTP %d)", path, err, status)
	}
	got, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != status || string(got) != body {
		t.Fatalf("%s: HTTP %d %q, want %d %q", path, resp.StatusCode, got, status, body)
	}
	return resp
}

// accepted dials path and expects the upgrade, then the open message.
func accepted(t *testing.T, port int, path string, h http.Header) (*hubClient, *http.Response) {
	t.Helper()
	url := "ws://127.0.0.1:" + strconv.Itoa(port) + path
	c, resp, err := websocket.DefaultDialer.Dial(url, h)
	if err != nil {
		status := ""
		if resp != nil {
			status = resp.Status
		}
		t.Fatalf("%s: %v (%s), want the upgrade", path, err, status)
	}
	t.Cleanup(func() { c.Close() })
	hc := &hubClient{t: t, c: c}
	p := path
	if i := strings.IndexByte(p, '?'); i >= 0 {
		p = p[:i]
	}
	hc.expect("open " + p + " true")
	return hc, resp
}

func TestWebSocketHandshake(t *testing.T) {
	for _, lang := range scripttest.Langs {
		t.Run(lang, func(t *testing.T) {
			t.Parallel()
			src := handshakeScripts[lang]
			r := startHost(t, "main."+lang, src, host.Config{Workers: 2})
			port := r.port(0)

			// Several connections of each kind, so both workers refuse
			// and accept.
			for range 2 {
				refused(t, port, "/deny", nil, 403, "403 Forbidden\n")
				resp := refused(t, port, "/401", nil, 401, "token required")
				if got := resp.Header.Get("WWW-Authenticate"); got != "Bearer" {
					t.Errorf("401: WWW-Authenticate %q", got)
				}
				resp = refused(t, port, "/429", nil, 429, "429 Too Many Requests\n")
				if got := resp.Header.Get("Retry-After"); got != "1" {
					t.Errorf("429: Retry-After %q", got)
				}
				refused(t, port, "/token?token=wrong", nil, 403, "403 Forbidden\n")
				refused(t, port, "/token", http.Header{"Cookie": {"session=wrong"}}, 403, "403 Forbidden\n")
				refused(t, port, "/sleepdeny", nil, 401, "401 Unauthorized\n")

				// Accepted: a token in the query, then in a cookie; the
				// handler's header and cookie are on the 101.
				c, resp := accepted(t, port, "/token?token=q-secret", http.Header{"X-Who": {"ann"}})
				if got := resp.Header.Get("X-Hello"); got != "hi ann" {
					t.Errorf("101: X-Hello %q, want %q", got, "hi ann")
				}
				if got := resp.Header.Get("Set-Cookie"); got != "seen=yes; Path=/" {
					t.Errorf("101: Set-Cookie %q", got)
				}
				if got := c.ask("hello", "echo"); got != "echo hello" {
					t.Errorf("message: %q", got)
				}
				c, _ = accepted(t, port, "/token", http.Header{"Cookie": {"session=c-secret"}, "X-Who": {"bob"}})
				c.ask("x", "echo x")

				// A handshake that suspends (Lua) / awaits (JS), then
				// accepts.
				c, _ = accepted(t, port, "/sleep", nil)
				c.ask("after the nap", "echo after the nap")
				// No verdict (nil / undefined): the upgrade happens.
				c, _ = accepted(t, port, "/plain", nil)
				c.ask("plain", "echo plain")
			}

			// An error in the handler: 500, logged with file:line; the
			// server goes on.
			refused(t, port, "/error", nil, 500, "500 Internal Server Error\n")
			r.waitLog("main." + lang + ":" + strconv.Itoa(lineOf(t, src, "the sync error")))
			refused(t, port, "/asyncerror", nil, 500, "500 Internal Server Error\n")
			r.waitLog("main." + lang + ":" + strconv.Itoa(lineOf(t, src, "the async error")))
			if !strings.Contains(r.logs.String(), "handler=handshake") {
				t.Errorf("the errors were not logged as the handshake handler's:\n%s", r.logs.String())
			}
			c, _ := accepted(t, port, "/token?token=q-secret", http.Header{"X-Who": {"cy"}})
			c.ask("still here", "echo still here")
		})
	}
}

// TestWebSocketHandshakeEarlyFrames: a client that sends a message (and a
// ping) in the same write as its upgrade request, to a handshake that
// suspends, gets the 101, then open, then its message handled, and no pong
// ahead of the 101; the same to a handshake that refuses gets the refusal
// alone, and its message never reaches the script. Also on a server with
// ordered = false: nothing runs on a connection before it is accepted.
func TestWebSocketHandshakeEarlyFrames(t *testing.T) {
	for _, lang := range scripttest.Langs {
		t.Run(lang, func(t *testing.T) {
			t.Parallel()
			r := startHost(t, "main."+lang, handshakeScripts[lang], host.Config{Workers: 2})
			for srv := range 2 {
				port := r.port(srv)
				for _, path := range []string{"/sleep", "/sleepdeny"} {
					nc, err := net.Dial("tcp", "127.0.0.1:"+strconv.Itoa(port))
					if err != nil {
						t.Fatal(err)
					}
					defer nc.Close()
					_ = nc.SetDeadline(time.Now().Add(waitLimit))
					req := "GET " + path + " HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n" +
						"Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n"
					msg := "early" + path + strconv.Itoa(srv)
					out := append([]byte(req), wsframe.MaskedFrame(0x81, []byte(msg), [4]byte{1, 2, 3, 4})...)
					out = append(out, wsframe.MaskedFrame(0x89, []byte("ping"), [4]byte{5, 6, 7, 8})...)
					if _, err := nc.Write(out); err != nil {
						t.Fatal(err)
					}
					rd := bufio.NewReader(nc)
					resp, err := http.ReadResponse(rd, nil)
					if err != nil {
						t.Fatalf("server %d %s: %v", srv, path, err)
					}
					if path == "/sleepdeny" {
						body, _ := io.ReadAll(rd)
						if resp.StatusCode != 401 || string(body) != "401 Unauthorized\n" {
							t.Fatalf("server %d %s: HTTP %d, then %q; want 401 and its body alone", srv, path, resp.StatusCode, body)
						}
						continue
					}
					if resp.StatusCode != 101 {
						t.Fatalf("server %d %s: HTTP %d, want 101", srv, path, resp.StatusCode)
					}
					for _, want := range []string{"open /sleep true", "echo " + msg} {
						if got := serverFrame(t, rd); got != want {
							t.Fatalf("server %d %s: frame %q, want %q", srv, path, got, want)
						}
					}
				}
			}
			if strings.Contains(r.Stdout(), "early/sleepdeny") {
				t.Errorf("a frame sent to a refused handshake reached the script:\n%s", r.Stdout())
			}
		})
	}
}

// serverFrame reads one unmasked text frame of under 126 bytes.
func serverFrame(t *testing.T, rd *bufio.Reader) string {
	t.Helper()
	var h [2]byte
	if _, err := io.ReadFull(rd, h[:]); err != nil {
		t.Fatalf("read a frame: %v", err)
	}
	if h[0] != 0x81 || h[1] >= 126 {
		t.Fatalf("frame header % x, want a short text frame", h)
	}
	b := make([]byte, h[1])
	if _, err := io.ReadFull(rd, b); err != nil {
		t.Fatalf("read a frame: %v", err)
	}
	return string(b)
}
