package tests

import (
	"bytes"
	"io"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"
)

// The http_hello and ws_echo examples (Swoole's HTTP and WebSocket server
// examples) in both languages.

var helloPage = regexp.MustCompile(`^<h1>Hello Swoole\. #\d{4}</h1>$`)

// TestHTTPHelloExample: the HTTP example answers HTML with its header and cookie,
// and prints the request's fields.
func TestHTTPHelloExample(t *testing.T) {
	t.Parallel()
	eachLang(t, func(t *testing.T, lang string) {
		s := start(t, example(lang, "http_hello"), runOpts{})
		client := &http.Client{Timeout: ioTimeout}

		req, err := http.NewRequest("GET", "http://"+s.addr()+"/hello?name=imscript&lang="+lang, nil)
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("Cookie", "flavour=oat")
		req.Header.Set("X-Test", "yes")
		resp, err := client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 || !helloPage.Match(body) {
			t.Errorf("GET /hello = %d %q, want 200 and the hello page", resp.StatusCode, body)
		}
		if ct := resp.Header.Get("Content-Type"); ct != "text/html; charset=utf-8" {
			t.Errorf("Content-Type = %q", ct)
		}
		if got := resp.Header.Get("X-Powered-By"); got != "imscript" {
			t.Errorf("X-Powered-By = %q, want imscript", got)
		}
		var visit *http.Cookie
		for _, c := range resp.Cookies() {
			if c.Name == "imscript_visit" {
				visit = c
			}
		}
		if visit == nil || visit.Value == "" || visit.Path != "/" || visit.MaxAge != 3600 || !visit.HttpOnly {
			t.Errorf("Set-Cookie = %q, want imscript_visit=<time>; Path=/; Max-Age=3600; HttpOnly", resp.Header.Values("Set-Cookie"))
		}
		s.waitStdout("request: GET /hello?name=imscript&lang=" + lang + " HTTP/1.1 from 127.0.0.1:")
		s.waitStdout(`get: {"lang":"` + lang + `","name":"imscript"}`)
		s.waitStdout(`cookie: {"flavour":"oat"}`)
		s.waitStdout(`"x-test":"yes"`)
		s.waitStdout("path: /hello\n")

		resp, err = client.PostForm("http://"+s.addr()+"/form", url.Values{"a": {"1"}, "b": {"two words"}})
		if err != nil {
			t.Fatal(err)
		}
		body, _ = io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 || !helloPage.Match(body) {
			t.Errorf("POST /form = %d %q", resp.StatusCode, body)
		}
		s.waitStdout("request: POST /form HTTP/1.1")
		s.waitStdout(`post: {"a":"1","b":"two words"}`)
		s.waitStdout("body: 15 bytes")
	})
}

// TestWSEchoExample: the WebSocket example pushes "server: " + data back, text
// and binary, prints the handshake, messages and close, and answers a plain
// GET with its page.
func TestWSEchoExample(t *testing.T) {
	t.Parallel()
	eachLang(t, func(t *testing.T, lang string) {
		s := start(t, example(lang, "ws_echo"), runOpts{})
		status, ctype, body := rawPathGet(t, "http://"+s.addr()+"/")
		if status != 200 || !strings.Contains(ctype, "text/html") || !strings.Contains(body, "imscript WebSocket echo") {
			t.Errorf("GET / = %d %q %q", status, ctype, abbrev([]byte(body)))
		}

		d := websocket.Dialer{HandshakeTimeout: ioTimeout}
		c, _, err := d.Dial("ws://"+s.addr()+"/", nil)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		s.waitStdout("server: handshake success with fd")
		exchange := func(typ int, msg []byte) {
			t.Helper()
			_ = c.SetWriteDeadline(time.Now().Add(ioTimeout))
			if err := c.WriteMessage(typ, msg); err != nil {
				t.Fatal(err)
			}
			_ = c.SetReadDeadline(time.Now().Add(ioTimeout))
			gotType, got, err := c.ReadMessage()
			if err != nil {
				t.Fatal(err)
			}
			want := append([]byte("server: "), msg...)
			if gotType != typ || !bytes.Equal(got, want) {
				t.Fatalf("reply = type %d %q, want type %d %q", gotType, abbrev(got), typ, abbrev(want))
			}
		}
		exchange(websocket.TextMessage, []byte("hello"))
		s.waitStdout(",opcode:text,fin:true")
		exchange(websocket.TextMessage, []byte("héllo ✓"))
		exchange(websocket.BinaryMessage, allBytes())
		exchange(websocket.BinaryMessage, invalidUTF8)
		s.waitStdout(":(256 bytes),opcode:binary,fin:true")
		exchange(websocket.TextMessage, []byte(strings.Repeat("x", 70000)))
		_ = c.WriteControl(websocket.CloseMessage, websocket.FormatCloseMessage(websocket.CloseNormalClosure, "bye"), time.Now().Add(ioTimeout))
		s.waitStdout(" closed\n")
		if line := lineWith(s.stdout.String(), "receive from", ":hello,"); line == "" {
			t.Errorf("no 'receive from <fd>:hello,...' line in stdout")
		}
	})
}
