package host

import (
	"io"
	"log/slog"
	"net"
	"testing"

	"github.com/imscript/imscript/script"
)

// BenchmarkHTTPInput is the event loop's side of a keep-alive request: the
// bytes of a GET (a browser's 8 header fields) parsed by the connection's
// protocol into the unit posted to its worker. allocs/op is what each
// request costs the loop before the worker runs it.
func BenchmarkHTTPInput(b *testing.B) {
	for _, bc := range []struct{ name, req string }{
		{"hello", "GET / HTTP/1.1\r\nHost: 127.0.0.1:8080\r\n\r\n"},
		{"browser", "GET /index.html?q=1 HTTP/1.1\r\nHost: example.com\r\nUser-Agent: Mozilla/5.0 (X11; Linux x86_64)\r\n" +
			"Accept: text/html,application/xhtml+xml\r\nAccept-Language: en-US,en;q=0.5\r\nAccept-Encoding: gzip, deflate\r\n" +
			"Connection: keep-alive\r\nCookie: session=abc123\r\nUpgrade-Insecure-Requests: 1\r\n\r\n"},
	} {
		b.Run(bc.name, func(b *testing.B) {
			st, err := parseSettings(script.Map{"type": "http"})
			if err != nil {
				b.Fatal(err)
			}
			h := &Host{log: slog.New(slog.NewTextHandler(io.Discard, nil)), workers: []*worker{{id: 0, q: newQueue()}}}
			s := &Server{host: h, key: "http://bench", decl: st, proto: protocols["http"]}
			s.obj = &script.Object{Type: serverType, Data: s}
			s.setSettings(st)
			c := &conn{id: 1, srv: s}
			c.x.Store(&connExt{t: &fakeTransport{}, remote: &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 40000}})
			c.http = s.proto.newConn(s, c)
			req := []byte(bc.req)
			in := &netInbound{buf: make([]byte, 0, 4096)}
			var evs []event
			b.ReportAllocs()
			for b.Loop() {
				in.buf = append(in.buf[:0], req...)
				in.off = 0
				c.onData(in)
				evs = c.worker().q.take(evs[:0])
				if len(evs) != 1 || c.bad {
					b.Fatalf("%d units, bad %v", len(evs), c.bad)
				}
			}
		})
	}
}

// TestHTTPRequestOwnsItsHead: a request posted to the worker keeps its
// method, target, header fields and body after the connection's read
// buffer has moved on and been filled with the next requests.
func TestHTTPRequestOwnsItsHead(t *testing.T) {
	c := protoConn(t, script.Map{"type": "http"})
	in := &netInbound{}
	var got []*httpRequest
	for i, req := range []string{
		"POST /first?a=1 HTTP/1.1\r\nHost: one\r\nX-A: alpha\r\nContent-Length: 5\r\n\r\nhello",
		"PUT /second HTTP/1.1\r\nHost: two\r\nX-A: beta!\r\nContent-Length: 5\r\n\r\nworld",
		"GET /third-and-longer HTTP/1.1\r\nHost: three\r\nX-A: gamma\r\n\r\n",
	} {
		in.buf = append(in.buf, req...) // Discard emptied it: the same memory
		c.onData(in)
		for _, ev := range c.worker().q.take(nil) {
			p, ok := ev.u.(*httpRequest)
			if !ok {
				t.Fatalf("request %d: unit %T", i, ev.u)
			}
			got = append(got, p)
		}
	}
	want := []string{"POST /first?a=1 one alpha hello", "PUT /second two beta! world", "GET /third-and-longer three gamma "}
	if len(got) != len(want) {
		t.Fatalf("%d requests, want %d", len(got), len(want))
	}
	for i, p := range got {
		if s := p.Method() + " " + p.Target() + " " + p.Host() + " " + p.Header("x-a") + " " + string(p.Body); s != want[i] {
			t.Errorf("request %d is %q, want %q", i, s, want[i])
		}
	}
}
