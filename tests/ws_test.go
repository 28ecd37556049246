package tests

import (
	"bufio"
	"bytes"
	"compress/flate"
	"crypto/sha1"
	"crypto/tls"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/gorilla/websocket"
)

// ---- clients ----

// wsURL is the ws:// URL of path on s.
func (s *server) wsURL(path string) string { return "ws://" + s.addr() + path }

// wsDialer dials with generous timeouts; tlsConf is for wss.
func wsDialer(tlsConf *tls.Config) *websocket.Dialer {
	return &websocket.Dialer{HandshakeTimeout: ioTimeout, TLSClientConfig: tlsConf}
}

// wsDial opens a gorilla connection, closed when the test ends.
func wsDial(t *testing.T, d *websocket.Dialer, url string, h http.Header) (*websocket.Conn, *http.Response) {
	t.Helper()
	c, resp, err := d.Dial(url, h)
	if err != nil {
		status := ""
		if resp != nil {
			status = resp.Status
		}
		t.Fatalf("websocket dial %s: %v (%s)", url, err, status)
	}
	t.Cleanup(func() { c.Close() })
	return c, resp
}

// wsRead reads one message with a deadline.
func wsRead(t *testing.T, c *websocket.Conn) (int, []byte) {
	t.Helper()
	_ = c.SetReadDeadline(time.Now().Add(ioTimeout))
	typ, msg, err := c.ReadMessage()
	if err != nil {
		t.Fatalf("websocket read: %v", err)
	}
	return typ, msg
}

func wsWrite(t *testing.T, c *websocket.Conn, typ int, msg []byte) {
	t.Helper()
	_ = c.SetWriteDeadline(time.Now().Add(ioTimeout))
	if err := c.WriteMessage(typ, msg); err != nil {
		t.Fatalf("websocket write: %v", err)
	}
}

// wsEcho sends msg and expects it back with the same type.
func wsEcho(t *testing.T, c *websocket.Conn, typ int, msg []byte) {
	t.Helper()
	wsWrite(t, c, typ, msg)
	gt, got := wsRead(t, c)
	if gt != typ || !bytes.Equal(got, msg) {
		t.Fatalf("echo of a %d-byte message (type %d): got type %d, %d bytes %q", len(msg), typ, gt, len(got), abbrev(got))
	}
}

// wsCmd sends a command to the ws helper script and returns its reply
// ("=<cmd> <result>" without the "=<cmd> ").
func wsCmd(t *testing.T, c *websocket.Conn, line string) string {
	t.Helper()
	wsWrite(t, c, websocket.TextMessage, []byte(line))
	name, _, _ := strings.Cut(strings.TrimPrefix(line, "/"), " ")
	_, reply := wsRead(t, c)
	r, ok := strings.CutPrefix(string(reply), "="+name+" ")
	if !ok {
		t.Fatalf("reply to %q: %q", line, reply)
	}
	return r
}

// wsFd asks the ws helper for the connection's fd and worker id.
func wsFd(t *testing.T, c *websocket.Conn) (fd, worker string) {
	t.Helper()
	r := wsCmd(t, c, "/fd")
	fd, worker, ok := strings.Cut(r, " ")
	if !ok {
		t.Fatalf("/fd reply %q", r)
	}
	return fd, worker
}

// rawWS is a hand-driven WebSocket connection for protocol errors.
type rawWS struct {
	net.Conn
	br     *bufio.Reader
	header http.Header // the handshake response's
}

// wsKey is the handshake key of RFC 6455's example.
const wsKey = "dGhlIHNhbXBsZSBub25jZQ=="

func wsAccept(key string) string {
	h := sha1.Sum([]byte(key + "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"))
	return base64.StdEncoding.EncodeToString(h[:])
}

// dialRawWS opens a TCP connection and does the handshake by hand (no
// extensions offered).
func dialRawWS(t *testing.T, addr string, extra string) *rawWS {
	t.Helper()
	c := dial(t, addr)
	w := &rawWS{Conn: c, br: bufio.NewReaderSize(c, 64<<10)}
	write(t, c, []byte("GET /raw HTTP/1.1\r\nHost: "+addr+"\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"+
		"Sec-WebSocket-Key: "+wsKey+"\r\nSec-WebSocket-Version: 13\r\n"+extra+"\r\n"))
	_ = c.SetReadDeadline(time.Now().Add(ioTimeout))
	resp, err := http.ReadResponse(w.br, &http.Request{Method: "GET"})
	if err != nil {
		t.Fatalf("handshake: %v", err)
	}
	if resp.StatusCode != 101 {
		b, _ := io.ReadAll(io.LimitReader(resp.Body, 1024))
		t.Fatalf("handshake: %q %q, want 101", resp.Status, b)
	}
	if got := resp.Header.Get("Sec-WebSocket-Accept"); got != wsAccept(wsKey) {
		t.Fatalf("Sec-WebSocket-Accept %q, want %q", got, wsAccept(wsKey))
	}
	if !strings.EqualFold(resp.Header.Get("Upgrade"), "websocket") {
		t.Errorf("Upgrade header %q", resp.Header.Get("Upgrade"))
	}
	w.header = resp.Header
	return w
}

// Opcodes.
const (
	opCont   = 0x0
	opText   = 0x1
	opBinary = 0x2
	opClose  = 0x8
	opPing   = 0x9
	opPong   = 0xA
)

// wsFrame encodes one frame; rsv holds the RSV1..3 bits (0x40, 0x20, 0x10).
func wsFrame(fin bool, rsv, op byte, payload []byte, masked bool) []byte {
	var b []byte
	b0 := rsv | op
	if fin {
		b0 |= 0x80
	}
	b = append(b, b0)
	var mbit byte
	if masked {
		mbit = 0x80
	}
	switch n := len(payload); {
	case n < 126:
		b = append(b, mbit|byte(n))
	case n <= 0xffff:
		b = append(b, mbit|126)
		b = binary.BigEndian.AppendUint16(b, uint16(n))
	default:
		b = append(b, mbit|127)
		b = binary.BigEndian.AppendUint64(b, uint64(n))
	}
	if !masked {
		return append(b, payload...)
	}
	key := [4]byte{0x37, 0xfa, 0x21, 0x3d}
	b = append(b, key[:]...)
	for i, c := range payload {
		b = append(b, c^key[i%4])
	}
	return b
}

// closePayload is a close frame's body: code and reason.
func closePayload(code int, reason string) []byte {
	return append(binary.BigEndian.AppendUint16(nil, uint16(code)), reason...)
}

func (w *rawWS) send(t *testing.T, frames ...[]byte) {
	t.Helper()
	write(t, w, bytes.Join(frames, nil))
}

type wsFrameIn struct {
	fin     bool
	rsv, op byte
	payload []byte
}

// readFrame reads one server frame (which must not be masked).
func (w *rawWS) readFrame() (wsFrameIn, error) {
	_ = w.SetReadDeadline(time.Now().Add(ioTimeout))
	var f wsFrameIn
	var h [2]byte
	if _, err := io.ReadFull(w.br, h[:]); err != nil {
		return f, err
	}
	f.fin = h[0]&0x80 != 0
	f.rsv = h[0] & 0x70
	f.op = h[0] & 0x0f
	if h[1]&0x80 != 0 {
		return f, errors.New("the server masked a frame")
	}
	n := uint64(h[1] & 0x7f)
	switch n {
	case 126:
		var l [2]byte
		if _, err := io.ReadFull(w.br, l[:]); err != nil {
			return f, err
		}
		n = uint64(binary.BigEndian.Uint16(l[:]))
	case 127:
		var l [8]byte
		if _, err := io.ReadFull(w.br, l[:]); err != nil {
			return f, err
		}
		n = binary.BigEndian.Uint64(l[:])
	}
	if n > 64<<20 {
		return f, fmt.Errorf("frame of %d bytes", n)
	}
	f.payload = make([]byte, n)
	_, err := io.ReadFull(w.br, f.payload)
	return f, err
}

func (w *rawWS) mustFrame(t *testing.T) wsFrameIn {
	t.Helper()
	f, err := w.readFrame()
	if err != nil {
		t.Fatalf("reading a frame: %v", err)
	}
	return f
}

// expectCloseCode reads frames until a close frame and checks its code;
// then the server must close the TCP connection.
func (w *rawWS) expectCloseCode(t *testing.T, what string, code int) {
	t.Helper()
	for {
		f, err := w.readFrame()
		if err != nil {
			t.Fatalf("%s: want a close frame with %d, got %v", what, code, err)
		}
		if f.op != opClose {
			t.Logf("%s: frame op %#x %q before the close", what, f.op, abbrev(f.payload))
			continue
		}
		if len(f.payload) < 2 {
			t.Fatalf("%s: close frame without a code, want %d", what, code)
		}
		got := int(binary.BigEndian.Uint16(f.payload))
		if got != code {
			t.Fatalf("%s: close code %d (%q), want %d", what, got, f.payload[2:], code)
		}
		break
	}
	_ = w.SetReadDeadline(time.Now().Add(ioTimeout))
	rest, err := io.ReadAll(w.br)
	if isTimeout(err) {
		t.Fatalf("%s: the server sent close %d but kept the connection open", what, code)
	}
	if len(rest) > 0 {
		t.Errorf("%s: bytes after the close frame: %q", what, abbrev(rest))
	}
}

// deflateMsg compresses one message as permessage-deflate does (no
// context takeover): raw DEFLATE, flushed, without the 00 00 ff ff tail.
func deflateMsg(t *testing.T, msg []byte) []byte {
	t.Helper()
	var b bytes.Buffer
	fw, err := flate.NewWriter(&b, flate.BestSpeed)
	if err != nil {
		t.Fatal(err)
	}
	fw.Write(msg)
	if err := fw.Flush(); err != nil {
		t.Fatal(err)
	}
	out := b.Bytes()
	if !bytes.HasSuffix(out, []byte{0, 0, 0xff, 0xff}) {
		t.Fatalf("flate output without the sync tail")
	}
	return out[:len(out)-4]
}

// inflateMsg undoes deflateMsg.
func inflateMsg(t *testing.T, payload []byte) []byte {
	t.Helper()
	// The tail, then an empty final block so the reader ends cleanly.
	r := flate.NewReader(io.MultiReader(bytes.NewReader(payload), bytes.NewReader([]byte{0, 0, 0xff, 0xff, 1, 0, 0, 0xff, 0xff})))
	out, err := io.ReadAll(r)
	if err != nil {
		t.Fatalf("inflating a %d-byte compressed frame: %v", len(payload), err)
	}
	return out
}

// ---- tests ----

// TestWSEcho: text, 64 KiB binary (byte-exact), ping/pong, a plain HTTP
// request on the websocket port, isEstablished, push to a closed fd.
func TestWSEcho(t *testing.T) {
	t.Parallel()
	eachLang(t, func(t *testing.T, lang string) {
		s := start(t, testScript(lang, "ws"), runOpts{})
		c, resp := wsDial(t, wsDialer(nil), s.wsURL("/chat?room=1"), nil)
		if p := resp.Header.Get("Sec-WebSocket-Protocol"); p != "" {
			t.Errorf("no subprotocol offered, server chose %q", p)
		}
		fd, _ := wsFd(t, c)
		waitOutput(t, s, "open "+fd+" /chat\n")

		t.Run("frame-fields", func(t *testing.T) {
			want := "data=/frame,fd=" + fd + ",finish=true,opcode=text"
			if lang == "js" {
				want += " data,fd,finish,opcode" // JSON.stringify sees the fields
			}
			wantField(t, "/frame", wsCmd(t, c, "/frame"), want)
		})

		t.Run("text-binary", func(t *testing.T) {
			wsEcho(t, c, websocket.TextMessage, []byte("hello"))
			wsEcho(t, c, websocket.TextMessage, []byte("héllo wörld ✓ 𝄞"))
			wsEcho(t, c, websocket.TextMessage, []byte(""))
			wsEcho(t, c, websocket.TextMessage, bytes.Repeat([]byte("0123456789"), 1000))
			bin := randomBytes(64 << 10)
			wsEcho(t, c, websocket.BinaryMessage, bin)
			wsEcho(t, c, websocket.BinaryMessage, allBytes())
			wsEcho(t, c, websocket.BinaryMessage, invalidUTF8)
			wsEcho(t, c, websocket.BinaryMessage, []byte{})
			wsEcho(t, c, websocket.BinaryMessage, randomBytes(200<<10))
		})

		t.Run("ping-pong", func(t *testing.T) {
			pongs := make(chan string, 4)
			c.SetPongHandler(func(data string) error {
				pongs <- data
				return nil
			})
			defer c.SetPongHandler(nil)
			if err := c.WriteControl(websocket.PingMessage, []byte("ping-1"), time.Now().Add(ioTimeout)); err != nil {
				t.Fatal(err)
			}
			// The pong handler runs inside a read.
			wsEcho(t, c, websocket.TextMessage, []byte("after ping"))
			select {
			case p := <-pongs:
				if p != "ping-1" {
					t.Errorf("pong %q, want %q", p, "ping-1")
				}
			default:
				t.Errorf("no pong before the echo sent after the ping")
			}
			// Raw: a ping with an empty body and one with 125 bytes.
			w := dialRawWS(t, s.addr(), "")
			big := bytes.Repeat([]byte("p"), 125)
			w.send(t, wsFrame(true, 0, opPing, nil, true), wsFrame(true, 0, opPing, big, true))
			for _, want := range [][]byte{nil, big} {
				f := w.mustFrame(t)
				if f.op != opPong || !f.fin || !bytes.Equal(f.payload, want) {
					t.Errorf("answer to a ping of %d bytes: op %#x fin %v payload %q", len(want), f.op, f.fin, abbrev(f.payload))
				}
			}
		})

		t.Run("plain-http", func(t *testing.T) {
			c := hcClient(t, false)
			resp, body := hcGet(t, c, s.url("/status"))
			wantStatus(t, resp, body, 200)
			if !strings.HasPrefix(string(body), "plain http fd=") {
				t.Errorf("plain HTTP on the websocket port: %q", body)
			}
		})

		t.Run("isEstablished", func(t *testing.T) {
			if r := wsCmd(t, c, "/est "+fd); r != "true" {
				t.Errorf("isEstablished(own fd) = %s", r)
			}
			// A plain HTTP connection, kept alive, is not established.
			rc := dialRaw(t, s.addr())
			rc.send(t, "GET /plain HTTP/1.1\r\nHost: x\r\n\r\n")
			_, body := rc.readResponse(t, "GET")
			httpFd, ok := strings.CutPrefix(string(body), "plain http fd=")
			if !ok {
				t.Fatalf("plain HTTP: %q", body)
			}
			if r := wsCmd(t, c, "/est "+httpFd); r != "false" {
				t.Errorf("isEstablished(a plain HTTP connection) = %s", r)
			}
			if r := wsCmd(t, c, "/est 999999"); r != "false" {
				t.Errorf("isEstablished(unknown fd) = %s", r)
			}
			// close fires for plain HTTP connections too.
			rc.Close()
			waitOutput(t, s, "close "+httpFd+"\n")
		})

		t.Run("push-to-closed", func(t *testing.T) {
			other, _ := wsDial(t, wsDialer(nil), s.wsURL("/other"), nil)
			ofd, _ := wsFd(t, other)
			if r := wsCmd(t, c, "/pushto "+ofd+" hi there"); r != "true" {
				t.Errorf("push to an open fd = %s", r)
			}
			if _, msg := wsRead(t, other); string(msg) != "hi there" {
				t.Errorf("pushed message %q", msg)
			}
			other.Close()
			waitOutput(t, s, "close "+ofd+"\n")
			if r := wsCmd(t, c, "/pushto "+ofd+" too late"); r != "false" {
				t.Errorf("push to a closed fd = %s, want false", r)
			}
			if r := wsCmd(t, c, "/est "+ofd); r != "false" {
				t.Errorf("isEstablished(closed fd) = %s", r)
			}
		})

		wsEcho(t, c, websocket.TextMessage, []byte("still here"))
	})
}

// TestWSClose: the close handshake both ways, with codes and reasons.
func TestWSClose(t *testing.T) {
	t.Parallel()
	eachLang(t, func(t *testing.T, lang string) {
		s := start(t, testScript(lang, "ws"), runOpts{})

		t.Run("server-disconnect", func(t *testing.T) {
			c, _ := wsDial(t, wsDialer(nil), s.wsURL("/"), nil)
			fd, _ := wsFd(t, c)
			wsWrite(t, c, websocket.TextMessage, []byte("/bye"))
			_ = c.SetReadDeadline(time.Now().Add(ioTimeout))
			_, msg, err := c.ReadMessage()
			var ce *websocket.CloseError
			if !errors.As(err, &ce) {
				t.Fatalf("after disconnect(fd, 4000, \"bye\"): message %q, error %v; want a close frame", msg, err)
			}
			if ce.Code != 4000 || ce.Text != "bye" {
				t.Errorf("close frame %d %q, want 4000 \"bye\"", ce.Code, ce.Text)
			}
			waitOutput(t, s, "close "+fd+"\n")

			// Raw: the close frame, our answer, then the server closes TCP.
			w := dialRawWS(t, s.addr(), "")
			w.send(t, wsFrame(true, 0, opText, []byte("/bye"), true))
			f := w.mustFrame(t)
			if f.op != opClose || !bytes.Equal(f.payload, closePayload(4000, "bye")) {
				t.Fatalf("raw: op %#x payload %q, want close 4000 \"bye\"", f.op, f.payload)
			}
			w.send(t, wsFrame(true, 0, opClose, closePayload(4000, "bye"), true))
			// The handshake is complete: the server closes TCP and sends
			// nothing more (no second close frame).
			_ = w.SetReadDeadline(time.Now().Add(ioTimeout))
			if rest, err := io.ReadAll(w.br); isTimeout(err) || len(rest) > 0 {
				t.Errorf("raw: after the server's close and our answer: read %q (%v), want the connection closed with nothing more", rest, err)
			}
		})

		t.Run("client-close", func(t *testing.T) {
			w := dialRawWS(t, s.addr(), "")
			w.send(t, wsFrame(true, 0, opText, []byte("/fd"), true))
			r := w.mustFrame(t)
			fd, _, _ := strings.Cut(strings.TrimPrefix(string(r.payload), "=fd "), " ")
			w.send(t, wsFrame(true, 0, opClose, closePayload(4001, "client bye"), true))
			f := w.mustFrame(t)
			if f.op != opClose {
				t.Fatalf("answer to a close: op %#x %q", f.op, f.payload)
			}
			if len(f.payload) >= 2 {
				code := int(binary.BigEndian.Uint16(f.payload))
				t.Logf("server answered close with %d %q", code, f.payload[2:])
				if code != 4001 && code != 1000 {
					t.Errorf("server answered close 4001 with %d", code)
				}
			}
			_ = w.SetReadDeadline(time.Now().Add(ioTimeout))
			if rest, err := io.ReadAll(w.br); isTimeout(err) || len(rest) > 0 {
				t.Errorf("after the close handshake: %q %v, want the connection closed", rest, err)
			}
			waitOutput(t, s, "close "+fd+"\n")

			// gorilla: a normal close.
			c, _ := wsDial(t, wsDialer(nil), s.wsURL("/"), nil)
			gfd, _ := wsFd(t, c)
			if err := c.WriteControl(websocket.CloseMessage, websocket.FormatCloseMessage(1000, "done"), time.Now().Add(ioTimeout)); err != nil {
				t.Fatal(err)
			}
			_ = c.SetReadDeadline(time.Now().Add(ioTimeout))
			_, _, err := c.ReadMessage()
			if !websocket.IsCloseError(err, 1000) {
				t.Errorf("gorilla close 1000: the server answered %v", err)
			}
			waitOutput(t, s, "close "+gfd+"\n")
		})
	})
}

// TestWSGoingAwayOnSIGTERM: a host that stops says goodbye to its
// WebSocket clients with a close frame 1001 (going away), lets their close
// handshakes finish (the script's close handlers run), and still exits
// promptly when a client never answers.
func TestWSGoingAwayOnSIGTERM(t *testing.T) {
	t.Parallel()
	eachLang(t, func(t *testing.T, lang string) {
		s := start(t, testScript(lang, "ws"), runOpts{})
		c, _ := wsDial(t, wsDialer(nil), s.wsURL("/"), nil)
		gfd, _ := wsFd(t, c)
		w := dialRawWS(t, s.addr(), "")
		w.send(t, wsFrame(true, 0, opText, []byte("/fd"), true))
		rfd, _, _ := strings.Cut(strings.TrimPrefix(string(w.mustFrame(t).payload), "=fd "), " ")
		mute := dialRawWS(t, s.addr(), "") // never answers the close
		s.signal(syscall.SIGTERM)

		_ = c.SetReadDeadline(time.Now().Add(ioTimeout))
		_, msg, err := c.ReadMessage()
		var ce *websocket.CloseError
		if !errors.As(err, &ce) || ce.Code != websocket.CloseGoingAway {
			t.Fatalf("gorilla client after SIGTERM: message %q, error %v; want close 1001", msg, err)
		}
		f := w.mustFrame(t)
		if f.op != opClose || len(f.payload) < 2 || binary.BigEndian.Uint16(f.payload) != 1001 {
			t.Fatalf("raw client after SIGTERM: op %#x payload %q, want close 1001", f.op, f.payload)
		}
		w.send(t, wsFrame(true, 0, opClose, closePayload(1001, ""), true))
		_ = w.SetReadDeadline(time.Now().Add(ioTimeout))
		if rest, err := io.ReadAll(w.br); isTimeout(err) || len(rest) > 0 {
			t.Errorf("raw client: after its answer %q %v, want the connection closed", rest, err)
		}
		if f := mute.mustFrame(t); f.op != opClose {
			t.Errorf("mute client: op %#x, want a close frame", f.op)
		}
		select {
		case <-s.done:
		case <-time.After(waitTimeout):
			t.Fatalf("still running %v after SIGTERM", waitTimeout)
		}
		if code := s.cmd.ProcessState.ExitCode(); code != 0 {
			t.Errorf("exit code %d, want 0 (%v)", code, s.err)
		}
		for _, fd := range []string{gfd, rfd} {
			if !strings.Contains(s.stdout.String(), "close "+fd+"\n") {
				t.Errorf("the close handler did not run for fd %s", fd)
			}
		}
	})
}

// TestWSFragments: a text message in three fragments with a ping between
// them comes out as one message plus a pong; binary fragments too.
func TestWSFragments(t *testing.T) {
	t.Parallel()
	eachLang(t, func(t *testing.T, lang string) {
		s := start(t, testScript(lang, "ws"), runOpts{})
		w := dialRawWS(t, s.addr(), "")
		w.send(t,
			wsFrame(false, 0, opText, []byte("Hel"), true),
			wsFrame(true, 0, opPing, []byte("pp"), true),
			wsFrame(false, 0, opCont, []byte("lo, "), true),
			wsFrame(true, 0, opCont, []byte("wörld"), true))
		var got []string
		for range 2 {
			f := w.mustFrame(t)
			got = append(got, fmt.Sprintf("%v %#x %s", f.fin, f.op, f.payload))
		}
		sort.Strings(got)
		want := []string{"true 0x1 Hello, wörld", "true 0xa pp"}
		if fmt.Sprint(got) != fmt.Sprint(want) {
			t.Errorf("frames %q, want %q (one message and a pong)", got, want)
		}
		// A UTF-8 character split across fragments is fine.
		euro := []byte("€") // 3 bytes
		w.send(t,
			wsFrame(false, 0, opText, euro[:1], true),
			wsFrame(true, 0, opCont, euro[1:], true))
		if f := w.mustFrame(t); f.op != opText || string(f.payload) != "€" {
			t.Errorf("a character split over fragments: op %#x %q", f.op, f.payload)
		}
		// Binary, 3 × 30 KiB.
		bin := randomBytes(90 << 10)
		w.send(t,
			wsFrame(false, 0, opBinary, bin[:30<<10], true),
			wsFrame(false, 0, opCont, bin[30<<10:60<<10], true),
			wsFrame(true, 0, opCont, bin[60<<10:], true))
		f := w.mustFrame(t)
		if f.op != opBinary || !bytes.Equal(f.payload, bin) {
			t.Errorf("binary in fragments: op %#x, %d bytes, want %d byte-exact", f.op, len(f.payload), len(bin))
		}
		// Still usable.
		w.send(t, wsFrame(true, 0, opText, []byte("end"), true))
		if f := w.mustFrame(t); string(f.payload) != "end" {
			t.Errorf("after fragments: %q", f.payload)
		}
	})
}

// TestWSProtocolErrors: bad frames close that connection with the right
// code; other connections go on.
func TestWSProtocolErrors(t *testing.T) {
	t.Parallel()
	eachLang(t, func(t *testing.T, lang string) {
		s := start(t, testScript(lang, "ws"), runOpts{})
		good, _ := wsDial(t, wsDialer(nil), s.wsURL("/"), nil)
		wsEcho(t, good, websocket.TextMessage, []byte("before"))

		cases := []struct {
			name   string
			frames [][]byte
			code   int
		}{
			{"unmasked-1002", [][]byte{wsFrame(true, 0, opText, []byte("hi"), false)}, 1002},
			{"invalid-utf8-1007", [][]byte{wsFrame(true, 0, opText, invalidUTF8, true)}, 1007},
			{"invalid-utf8-fragmented-1007", [][]byte{
				wsFrame(false, 0, opText, []byte("ok so far "), true),
				wsFrame(true, 0, opCont, []byte("\xff\xfe"), true)}, 1007},
			{"reserved-opcode-3-1002", [][]byte{wsFrame(true, 0, 0x3, []byte("x"), true)}, 1002},
			{"reserved-opcode-B-1002", [][]byte{wsFrame(true, 0, 0xB, []byte("x"), true)}, 1002},
			{"rsv1-1002", [][]byte{wsFrame(true, 0x40, opText, []byte("x"), true)}, 1002},
			{"rsv2-1002", [][]byte{wsFrame(true, 0x20, opText, []byte("x"), true)}, 1002},
			{"rsv3-1002", [][]byte{wsFrame(true, 0x10, opBinary, []byte("x"), true)}, 1002},
			{"oversize-1009", [][]byte{wsFrame(true, 0, opBinary, randomBytes(300<<10), true)}, 1009},
			{"oversize-fragmented-1009", [][]byte{
				wsFrame(false, 0, opBinary, randomBytes(100<<10), true),
				wsFrame(false, 0, opCont, randomBytes(100<<10), true),
				wsFrame(true, 0, opCont, randomBytes(100<<10), true)}, 1009},
		}
		for _, tc := range cases {
			t.Run(tc.name, func(t *testing.T) {
				w := dialRawWS(t, s.addr(), "")
				w.send(t, wsFrame(true, 0, opText, []byte("warm up"), true))
				if f := w.mustFrame(t); string(f.payload) != "warm up" {
					t.Fatalf("echo before the bad frame: %q", f.payload)
				}
				// Big frames may be cut off by the server's close: write
				// beside the read.
				go func() {
					_ = w.SetWriteDeadline(time.Now().Add(ioTimeout))
					_, _ = w.Write(bytes.Join(tc.frames, nil))
				}()
				w.expectCloseCode(t, tc.name, tc.code)
			})
		}
		wsEcho(t, good, websocket.TextMessage, []byte("after"))
		late, _ := wsDial(t, wsDialer(nil), s.wsURL("/"), nil)
		wsEcho(t, late, websocket.BinaryMessage, allBytes())
	})
}

// TestWSHandshake: origin check, subprotocol selection, permessage-deflate.
func TestWSHandshake(t *testing.T) {
	t.Parallel()
	eachLang(t, func(t *testing.T, lang string) {
		port2 := freePort(t)
		s := start(t, testScript(lang, "ws"), runOpts{env: map[string]string{"PORT2": strconv.Itoa(port2)}})
		guarded := "ws://" + net.JoinHostPort("127.0.0.1", strconv.Itoa(port2)) + "/"

		t.Run("origin", func(t *testing.T) {
			_, resp, err := wsDialer(nil).Dial(guarded, http.Header{"Origin": {"http://evil.example"}})
			if err == nil {
				t.Fatalf("a websocket from Origin http://evil.example was accepted")
			}
			if resp == nil || resp.StatusCode != 403 {
				t.Errorf("bad origin: %v %v, want 403", resp, err)
			}
			c, _ := wsDial(t, wsDialer(nil), guarded, http.Header{"Origin": {"http://good.example"}})
			wsWrite(t, c, websocket.TextMessage, []byte("hi"))
			if _, msg := wsRead(t, c); string(msg) != "guarded hi" {
				t.Errorf("allowed origin: %q", msg)
			}
			// The unrestricted server takes any origin.
			c2, _ := wsDial(t, wsDialer(nil), s.wsURL("/"), http.Header{"Origin": {"http://evil.example"}})
			wsEcho(t, c2, websocket.TextMessage, []byte("any origin"))
		})

		t.Run("subprotocol", func(t *testing.T) {
			for _, tc := range []struct {
				offer []string
				want  string
			}{
				{[]string{"foo", "chat.v1", "chat.v2"}, "chat.v1"},
				{[]string{"chat.v2"}, "chat.v2"},
				{[]string{"foo", "bar"}, ""},
				{nil, ""},
			} {
				d := wsDialer(nil)
				d.Subprotocols = tc.offer
				c, resp := wsDial(t, d, s.wsURL("/"), nil)
				if c.Subprotocol() != tc.want {
					t.Errorf("offered %q: chose %q (header %q), want %q", tc.offer, c.Subprotocol(), resp.Header.Get("Sec-WebSocket-Protocol"), tc.want)
				}
				wsEcho(t, c, websocket.TextMessage, []byte("proto"))
			}
		})

		t.Run("permessage-deflate", func(t *testing.T) {
			d := wsDialer(nil)
			d.EnableCompression = true
			c, resp := wsDial(t, d, s.wsURL("/"), nil)
			ext := resp.Header.Get("Sec-WebSocket-Extensions")
			if !strings.Contains(ext, "permessage-deflate") {
				t.Fatalf("offered permessage-deflate, got extensions %q", ext)
			}
			t.Logf("extensions: %q", ext)
			c.EnableWriteCompression(true)
			wsEcho(t, c, websocket.TextMessage, bytes.Repeat([]byte("compress me "), 2000))
			wsEcho(t, c, websocket.TextMessage, []byte("short"))
			wsEcho(t, c, websocket.BinaryMessage, randomBytes(64<<10))
			wsEcho(t, c, websocket.BinaryMessage, bytes.Repeat(allBytes(), 100))
			// Uncompressed messages on a compressed connection too.
			c.EnableWriteCompression(false)
			wsEcho(t, c, websocket.TextMessage, []byte("plain on deflate"))
			c.EnableWriteCompression(true)
			for i := range 20 {
				wsEcho(t, c, websocket.TextMessage, []byte(fmt.Sprintf("message %d %s", i, strings.Repeat("z", i*50))))
			}
			// Raw: a compressed frame (RSV1) from the client; the echo may
			// come compressed or not.
			w := dialRawWS(t, s.addr(), "Sec-WebSocket-Extensions: permessage-deflate; client_max_window_bits\r\n")
			if ext := w.header.Get("Sec-WebSocket-Extensions"); !strings.Contains(ext, "permessage-deflate") {
				t.Fatalf("raw: offered permessage-deflate, got %q", ext)
			}
			for _, msg := range [][]byte{bytes.Repeat([]byte("deflated text "), 500), []byte("tiny"), randomBytes(30 << 10)} {
				op := byte(opText)
				if !utf8.Valid(msg) {
					op = opBinary
				}
				w.send(t, wsFrame(true, 0x40, op, deflateMsg(t, msg), true))
				f := w.mustFrame(t)
				got := f.payload
				if f.rsv&0x40 != 0 {
					got = inflateMsg(t, f.payload)
				}
				t.Logf("raw: %d-byte message echoed in a %d-byte frame, compressed %v", len(msg), len(f.payload), f.rsv&0x40 != 0)
				if f.op != op || !bytes.Equal(got, msg) {
					t.Errorf("raw deflate echo: op %#x, %d bytes, want op %#x and %d bytes byte-exact", f.op, len(got), op, len(msg))
				}
			}
			// Uncompressed frames are fine on a deflate connection.
			w.send(t, wsFrame(true, 0, opText, []byte("not compressed"), true))
			if f := w.mustFrame(t); f.rsv&0x40 == 0 && string(f.payload) != "not compressed" {
				t.Errorf("raw uncompressed frame on a deflate connection: %q", f.payload)
			}

			// Not offered: not used.
			c2, resp2 := wsDial(t, wsDialer(nil), s.wsURL("/"), nil)
			if ext := resp2.Header.Get("Sec-WebSocket-Extensions"); ext != "" {
				t.Errorf("no extension offered, server answered %q", ext)
			}
			wsEcho(t, c2, websocket.TextMessage, bytes.Repeat([]byte("plain "), 100))
		})

		t.Run("bad-handshake", func(t *testing.T) {
			// Upgrade without a key: an HTTP error, not a websocket.
			rc := dialRaw(t, s.addr())
			rc.send(t, "GET / HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Version: 13\r\n\r\n")
			resp, _, err := rc.readResponseErr("GET")
			if err != nil || resp.StatusCode == 101 {
				t.Errorf("upgrade without Sec-WebSocket-Key: %v %v, want an HTTP error", resp, err)
			} else {
				t.Logf("upgrade without a key: %s", resp.Status)
			}
		})
	})
}

// ---- IM primitives ----

// imClient is a websocket connection to the ws helper that tells command
// replies ("=...") from pushed messages, which it keeps in an inbox.
type imClient struct {
	c      *websocket.Conn
	in     chan string
	inbox  []string
	fd     string
	worker string
}

func newIM(t *testing.T, s *server) *imClient {
	t.Helper()
	c, _ := wsDial(t, wsDialer(nil), s.wsURL("/im"), nil)
	m := &imClient{c: c, in: make(chan string, 4096)}
	go func() {
		defer close(m.in)
		for {
			typ, msg, err := c.ReadMessage()
			if err != nil {
				return
			}
			if typ != websocket.TextMessage {
				msg = append([]byte("BINARY FRAME: "), msg...)
			}
			m.in <- string(msg)
		}
	}()
	r := m.cmd(t, "/fd")
	m.fd, m.worker, _ = strings.Cut(r, " ")
	return m
}

// next returns the next message, failing at the deadline.
func (m *imClient) next(t *testing.T, what string) string {
	t.Helper()
	select {
	case msg, ok := <-m.in:
		if !ok {
			t.Fatalf("fd %s: connection closed while waiting for %s", m.fd, what)
		}
		return msg
	case <-time.After(waitTimeout):
		t.Fatalf("fd %s: no %s within %v", m.fd, what, waitTimeout)
		return ""
	}
}

// cmd sends a command and returns its reply; pushed messages that come
// first go to the inbox.
func (m *imClient) cmd(t *testing.T, line string) string {
	t.Helper()
	_ = m.c.SetWriteDeadline(time.Now().Add(ioTimeout))
	if err := m.c.WriteMessage(websocket.TextMessage, []byte(line)); err != nil {
		t.Fatalf("fd %s: send %q: %v", m.fd, line, err)
	}
	name, _, _ := strings.Cut(strings.TrimPrefix(line, "/"), " ")
	for {
		msg := m.next(t, fmt.Sprintf("the reply to %q", line))
		if r, ok := strings.CutPrefix(msg, "="+name+" "); ok {
			return r
		}
		if strings.HasPrefix(msg, "=") {
			t.Fatalf("fd %s: reply %q to %q", m.fd, msg, line)
		}
		m.inbox = append(m.inbox, msg)
	}
}

// expectInbox waits for len(want) pushed messages, then (after one more
// command round trip, so that nothing else is on its way) checks that the
// inbox holds exactly want, in any order, and empties it.
func (m *imClient) expectInbox(t *testing.T, want ...string) {
	t.Helper()
	for len(m.inbox) < len(want) {
		msg := m.next(t, fmt.Sprintf("messages %q (have %q)", want, m.inbox))
		if strings.HasPrefix(msg, "=") {
			t.Fatalf("fd %s: unexpected reply %q", m.fd, msg)
		}
		m.inbox = append(m.inbox, msg)
	}
	m.cmd(t, "/fd")
	got := append([]string(nil), m.inbox...)
	w := append([]string(nil), want...)
	sort.Strings(got)
	sort.Strings(w)
	if fmt.Sprint(got) != fmt.Sprint(w) {
		t.Errorf("fd %s (worker %s) received %q, want %q exactly once each", m.fd, m.worker, got, w)
	}
	m.inbox = nil
}

// imList parses "a,b,c" into a sorted list.
func imList(list string) []string {
	if list == "" {
		return []string{}
	}
	l := strings.Split(list, ",")
	sort.Strings(l)
	return l
}

func imListOf(items ...string) []string {
	l := append([]string{}, items...)
	sort.Strings(l)
	return l
}

// wantSet compares a list reply with items, in any order.
func wantSet(t *testing.T, what, reply string, items ...string) {
	t.Helper()
	if got, want := imList(reply), imListOf(items...); fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("%s = %q, want %q", what, got, want)
	}
}

// imClients opens connections until it has at least n on both workers
// together, with both workers present.
func imClients(t *testing.T, s *server, n int) []*imClient {
	t.Helper()
	var out []*imClient
	workers := map[string]bool{}
	for len(out) < n || len(workers) < 2 {
		if len(out) >= n+10 {
			t.Fatalf("%d connections, all on worker(s) %v: want connections on both workers", len(out), sortedKeys(workers))
		}
		m := newIM(t, s)
		out = append(out, m)
		workers[m.worker] = true
	}
	return out
}

// TestIM: bind/uid/fds/unbind, sendToUid, rooms, members, presence,
// publish with and without exceptFd, cleanup after close; connections on
// both workers.
func TestIM(t *testing.T) {
	t.Parallel()
	eachLang(t, func(t *testing.T, lang string) {
		s := start(t, testScript(lang, "ws"), runOpts{workers: 2})
		all := imClients(t, s, 4)
		// a and b on different workers (the same user), c and d the rest.
		a := all[0]
		var b *imClient
		var rest []*imClient
		for _, m := range all[1:] {
			if b == nil && m.worker != a.worker {
				b = m
			} else {
				rest = append(rest, m)
			}
		}
		c, d := rest[0], rest[1]
		t.Logf("a fd %s w%s, b fd %s w%s, c fd %s w%s, d fd %s w%s", a.fd, a.worker, b.fd, b.worker, c.fd, c.worker, d.fd, d.worker)

		t.Run("bind", func(t *testing.T) {
			for _, x := range []struct {
				m   *imClient
				cmd string
			}{{a, "/bind alice"}, {b, "/bind alice"}, {c, "/bind bob"}, {d, "/bindn 42"}} {
				if r := x.m.cmd(t, x.cmd); r != "true" {
					t.Errorf("fd %s %s: %s", x.m.fd, x.cmd, r)
				}
			}
			wantField(t, "uid(a)", d.cmd(t, "/uid "+a.fd), "alice string")
			wantField(t, "uid(b) asked on b's worker", b.cmd(t, "/uid "+b.fd), "alice string")
			wantField(t, "uid(d)", a.cmd(t, "/uid "+d.fd), "42 number")
			wantField(t, "uid(unknown fd)", a.cmd(t, "/uid 999999"), "none")
			wantSet(t, "fds(alice)", d.cmd(t, "/fds alice"), a.fd, b.fd)
			wantSet(t, "fds(bob)", a.cmd(t, "/fds bob"), c.fd)
			wantSet(t, "fds(nobody)", a.cmd(t, "/fds nobody"))
			// unbind, then bind again.
			b.cmd(t, "/unbind")
			wantSet(t, "fds(alice) after unbind", c.cmd(t, "/fds alice"), a.fd)
			wantField(t, "uid(b) after unbind", c.cmd(t, "/uid "+b.fd), "none")
			if r := b.cmd(t, "/bind alice"); r != "true" {
				t.Errorf("bind again: %s", r)
			}
			wantSet(t, "fds(alice)", a.cmd(t, "/fds alice"), a.fd, b.fd)
		})

		t.Run("sendToUid", func(t *testing.T) {
			wantField(t, "sendToUid(alice)", d.cmd(t, "/touid alice hello alice"), "2")
			a.expectInbox(t, "hello alice")
			b.expectInbox(t, "hello alice")
			c.expectInbox(t)
			d.expectInbox(t)
			wantField(t, "sendToUid(bob) from bob", c.cmd(t, "/touid bob note to self"), "1")
			c.expectInbox(t, "note to self")
			wantField(t, "sendToUid(nobody)", a.cmd(t, "/touid nobody x"), "0")
		})

		t.Run("rooms", func(t *testing.T) {
			for _, m := range []*imClient{a, b, c} {
				wantField(t, "join", m.cmd(t, "/join lobby"), "lobby")
			}
			c.cmd(t, "/join dev")
			d.cmd(t, "/join dev")
			wantSet(t, "rooms(c)", a.cmd(t, "/rooms "+c.fd), "lobby", "dev")
			wantSet(t, "rooms(d)", a.cmd(t, "/rooms "+d.fd), "dev")
			wantSet(t, "members(lobby)", d.cmd(t, "/members lobby"), a.fd, b.fd, c.fd)
			wantSet(t, "members(dev)", a.cmd(t, "/members dev"), c.fd, d.fd)
			wantSet(t, "presence(lobby)", d.cmd(t, "/presence lobby"), "alice", "bob")
			wantSet(t, "presence(dev)", b.cmd(t, "/presence dev"), "bob", "42")
			wantSet(t, "members(empty)", a.cmd(t, "/members nowhere"))
			// Joining twice changes nothing.
			a.cmd(t, "/join lobby")
			wantSet(t, "members(lobby) after a second join", d.cmd(t, "/members lobby"), a.fd, b.fd, c.fd)
		})

		t.Run("publish", func(t *testing.T) {
			wantField(t, "publish(lobby)", c.cmd(t, "/pub lobby m1"), "3")
			a.expectInbox(t, "m1")
			b.expectInbox(t, "m1")
			c.expectInbox(t, "m1")
			d.expectInbox(t)
			wantField(t, "publish(lobby, except c)", c.cmd(t, "/pubx lobby m2"), "2")
			a.expectInbox(t, "m2")
			b.expectInbox(t, "m2")
			c.expectInbox(t)
			// From outside the room.
			wantField(t, "publish(lobby) from d", d.cmd(t, "/pub lobby m3"), "3")
			a.expectInbox(t, "m3")
			b.expectInbox(t, "m3")
			c.expectInbox(t, "m3")
			d.expectInbox(t)
			wantField(t, "publish(nowhere)", a.cmd(t, "/pub nowhere x"), "0")
		})

		t.Run("leave", func(t *testing.T) {
			b.cmd(t, "/leave lobby")
			wantSet(t, "members(lobby) after b left", d.cmd(t, "/members lobby"), a.fd, c.fd)
			wantSet(t, "presence(lobby): a is still alice", d.cmd(t, "/presence lobby"), "alice", "bob")
			a.cmd(t, "/leave lobby")
			wantSet(t, "presence(lobby) after both alice fds left", d.cmd(t, "/presence lobby"), "bob")
			wantSet(t, "rooms(a)", d.cmd(t, "/rooms "+a.fd))
			wantField(t, "publish after leaving", d.cmd(t, "/pub lobby m4"), "1")
			c.expectInbox(t, "m4")
			a.expectInbox(t)
			b.expectInbox(t)
			a.cmd(t, "/join lobby")
			b.cmd(t, "/join lobby")
		})

		t.Run("cleanup-after-close", func(t *testing.T) {
			c.c.Close()
			waitOutput(t, s, "close "+c.fd+"\n")
			waitFor(t, waitTimeout, "the closed fd to leave members/presence/uid", func() bool {
				return !hasString(imList(d.cmd(t, "/members lobby")), c.fd) &&
					!hasString(imList(d.cmd(t, "/members dev")), c.fd) &&
					d.cmd(t, "/uid "+c.fd) == "none"
			})
			wantSet(t, "members(lobby)", d.cmd(t, "/members lobby"), a.fd, b.fd)
			wantSet(t, "members(dev)", a.cmd(t, "/members dev"), d.fd)
			wantSet(t, "presence(dev)", b.cmd(t, "/presence dev"), "42")
			wantSet(t, "presence(lobby)", d.cmd(t, "/presence lobby"), "alice")
			wantSet(t, "fds(bob)", a.cmd(t, "/fds bob"))
			wantSet(t, "rooms(closed fd)", a.cmd(t, "/rooms "+c.fd))
			wantField(t, "publish(lobby)", d.cmd(t, "/pub lobby m5"), "2")
			a.expectInbox(t, "m5")
			b.expectInbox(t, "m5")
			wantField(t, "sendToUid(bob) after close", a.cmd(t, "/touid bob gone"), "0")
		})

		t.Run("fan-out-exactly-once", func(t *testing.T) {
			members := []*imClient{a, b, d}
			members = append(members, imClients(t, s, 6)...)
			for _, m := range members {
				m.cmd(t, "/join everyone")
			}
			var want []string
			for i, m := range members {
				for j := range 3 {
					msg := fmt.Sprintf("from %d #%d", i, j)
					want = append(want, msg)
					if r := m.cmd(t, "/pub everyone "+msg); r != strconv.Itoa(len(members)) {
						t.Errorf("publish to %d members: %s", len(members), r)
					}
				}
			}
			for _, m := range members {
				m.expectInbox(t, want...)
			}
		})
	})
}

// waitOutput waits until the server's stdout contains sub (s.waitStdout
// for subtests).
func waitOutput(t *testing.T, s *server, sub string) {
	t.Helper()
	waitFor(t, waitTimeout, fmt.Sprintf("stdout to contain %q", sub), func() bool {
		return strings.Contains(s.stdout.String(), sub)
	})
}

// waitLog waits until one line of the server's stderr contains every sub
// (s.waitStderr for subtests).
func waitLog(t *testing.T, s *server, subs ...string) string {
	t.Helper()
	var found string
	waitFor(t, waitTimeout, fmt.Sprintf("a log line with %q", subs), func() bool {
		found = lineWith(s.stderr.String(), subs...)
		return found != ""
	})
	return found
}

func hasString(l []string, x string) bool {
	for _, e := range l {
		if e == x {
			return true
		}
	}
	return false
}

// TestIMReload: bindings and rooms survive a reload of the script.
func TestIMReload(t *testing.T) {
	t.Parallel()
	eachLang(t, func(t *testing.T, lang string) {
		path := copyScript(t, lang, "ws")
		s := start(t, path, runOpts{watch: true, workers: 2})
		clients := imClients(t, s, 2)
		x, y := clients[0], clients[1]
		wantField(t, "version", x.cmd(t, "/version"), "A")
		x.cmd(t, "/bind xuser")
		y.cmd(t, "/bindn 7")
		for _, m := range clients {
			m.cmd(t, "/join r1")
		}
		x.cmd(t, "/join r2")

		src, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Contains(src, []byte(`VERSION = "A"`)) {
			t.Fatalf("%s has no VERSION = \"A\"", path)
		}
		if err := os.WriteFile(path, bytes.Replace(src, []byte(`VERSION = "A"`), []byte(`VERSION = "B"`), 1), 0o644); err != nil {
			t.Fatal(err)
		}
		for _, m := range clients {
			waitFor(t, waitTimeout, "the new version on fd "+m.fd, func() bool {
				v := m.cmd(t, "/version")
				if v != "A" && v != "B" {
					t.Fatalf("version %q", v)
				}
				return v == "B"
			})
		}
		waitLog(t, s, "reloaded")

		members := make([]string, len(clients))
		for i, m := range clients {
			members[i] = m.fd
		}
		wantSet(t, "members(r1) after reload", y.cmd(t, "/members r1"), members...)
		wantSet(t, "members(r2) after reload", y.cmd(t, "/members r2"), x.fd)
		wantSet(t, "rooms(x) after reload", y.cmd(t, "/rooms "+x.fd), "r1", "r2")
		wantField(t, "uid(x) after reload", y.cmd(t, "/uid "+x.fd), "xuser string")
		wantField(t, "uid(y) after reload", x.cmd(t, "/uid "+y.fd), "7 number")
		wantSet(t, "presence(r1) after reload", x.cmd(t, "/presence r1"), "xuser", "7")
		wantField(t, "publish after reload", y.cmd(t, "/pub r1 after reload"), strconv.Itoa(len(clients)))
		for _, m := range clients {
			m.expectInbox(t, "after reload")
		}
		wantField(t, "sendToUid after reload", y.cmd(t, "/touid xuser to x"), "1")
		x.expectInbox(t, "to x")
		// A connection made after the reload joins the same rooms.
		z := newIM(t, s)
		z.cmd(t, "/join r1")
		wantField(t, "publish with a new member", z.cmd(t, "/pubx r1 hi all"), strconv.Itoa(len(clients)))
		for _, m := range clients {
			m.expectInbox(t, "hi all")
		}
		z.expectInbox(t)
	})
}
