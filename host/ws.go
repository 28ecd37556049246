package host

import (
	"bytes"
	"compress/flate"
	"crypto/sha1"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"time"
	"unicode/utf8"

	"github.com/imscript/imscript/script"

	"github.com/gobwas/ws"
)

// WebSocket (RFC 6455) on the event loop: the upgrade request is parsed as
// HTTP, then frames are parsed from the connection's buffer; control frames
// are answered on the loop, data messages go to the worker.

const wsGUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"

// wsHandshake is an accepted upgrade: what the 101 response says.
type wsHandshake struct {
	accept   string
	protocol string
	deflate  bool
}

// wsState is a connection's WebSocket state (transport goroutine only,
// except deflate, fixed at the handshake).
type wsState struct {
	deflate    bool
	fragOp     ws.OpCode // opcode of the message being reassembled (0: none)
	fragRSV1   bool
	frag       []byte
	closeSent  atomic.Bool // a close frame went out (disconnect may set it from a worker)
	closeRecvd bool
}

func newWSState(hs *wsHandshake) *wsState { return &wsState{deflate: hs.deflate} }

// wsAccept validates an upgrade request against the server's settings.
func (s *Server) wsAccept(r *http.Request) (*wsHandshake, *httpError) {
	st := s.settings()
	if r.Method != http.MethodGet {
		return nil, &httpError{400, errors.New("websocket upgrade must be a GET")}
	}
	if !r.ProtoAtLeast(1, 1) || !headerHasToken(r.Header, "Connection", "upgrade") {
		return nil, &httpError{400, errors.New("websocket upgrade without Connection: upgrade")}
	}
	if v := r.Header.Get("Sec-WebSocket-Version"); v != "13" {
		return nil, &httpError{426, fmt.Errorf("websocket version %q not supported (13)", v)}
	}
	key := r.Header.Get("Sec-WebSocket-Key")
	if raw, err := base64.StdEncoding.DecodeString(key); err != nil || len(raw) != 16 {
		return nil, &httpError{400, errors.New("bad Sec-WebSocket-Key")}
	}
	if len(st.WebsocketOrigins) > 0 {
		origin := r.Header.Get("Origin")
		ok := false
		for _, o := range st.WebsocketOrigins {
			if strings.EqualFold(o, origin) {
				ok = true
			}
		}
		if !ok {
			return nil, &httpError{403, fmt.Errorf("origin %q not allowed", origin)}
		}
	}
	hs := &wsHandshake{}
	sum := sha1.Sum([]byte(key + wsGUID))
	hs.accept = base64.StdEncoding.EncodeToString(sum[:])
	if len(st.WebsocketSubprotocols) > 0 {
	pick:
		for _, v := range r.Header.Values("Sec-WebSocket-Protocol") {
			for _, offered := range strings.Split(v, ",") {
				offered = strings.TrimSpace(offered)
				for _, p := range st.WebsocketSubprotocols {
					if p == offered {
						hs.protocol = p
						break pick
					}
				}
			}
		}
	}
	if st.WebsocketCompression {
		hs.deflate = offersDeflate(r.Header.Values("Sec-WebSocket-Extensions"))
	}
	return hs, nil
}

// offersDeflate reports whether the client offers permessage-deflate in a
// form we can answer with no context takeover and a full window.
func offersDeflate(exts []string) bool {
	for _, v := range exts {
		for _, ext := range strings.Split(v, ",") {
			parts := strings.Split(ext, ";")
			if strings.TrimSpace(parts[0]) != "permessage-deflate" {
				continue
			}
			ok := true
			for _, p := range parts[1:] {
				name, val, _ := strings.Cut(strings.TrimSpace(p), "=")
				switch strings.TrimSpace(name) {
				case "client_max_window_bits", "client_no_context_takeover", "server_no_context_takeover":
				case "server_max_window_bits":
					if strings.Trim(strings.TrimSpace(val), `"`) != "15" {
						ok = false // we always compress with a 32 KiB window
					}
				default:
					ok = false
				}
			}
			if ok {
				return true
			}
		}
	}
	return false
}

func (hs *wsHandshake) response() []byte {
	var b bytes.Buffer
	b.WriteString("HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: ")
	b.WriteString(hs.accept)
	b.WriteString("\r\n")
	if hs.protocol != "" {
		b.WriteString("Sec-WebSocket-Protocol: " + hs.protocol + "\r\n")
	}
	if hs.deflate {
		b.WriteString("Sec-WebSocket-Extensions: permessage-deflate; server_no_context_takeover; client_no_context_takeover\r\n")
	}
	b.WriteString("\r\n")
	return b.Bytes()
}

// wsData parses frames from a WebSocket connection's buffer.
func (s *Server) wsData(c *Conn, in Inbound) {
	w := c.ws
	max := s.settings().PackageMaxLength
	for !c.bad {
		buf, _ := in.Peek(-1)
		if len(buf) < 2 {
			return
		}
		b0, b1 := buf[0], buf[1]
		fin := b0&0x80 != 0
		rsv := (b0 >> 4) & 0x07
		op := ws.OpCode(b0 & 0x0f)
		masked := b1&0x80 != 0
		hlen := 2
		length := uint64(b1 & 0x7f)
		switch length {
		case 126:
			if len(buf) < 4 {
				return
			}
			length = uint64(binary.BigEndian.Uint16(buf[2:4]))
			hlen = 4
		case 127:
			if len(buf) < 10 {
				return
			}
			length = binary.BigEndian.Uint64(buf[2:10])
			hlen = 10
			if length>>63 != 0 {
				s.wsFail(c, ws.StatusProtocolError, "bad frame length")
				return
			}
		}
		if !masked {
			s.wsFail(c, ws.StatusProtocolError, "unmasked client frame")
			return
		}
		if op.IsReserved() {
			s.wsFail(c, ws.StatusProtocolError, fmt.Sprintf("reserved opcode %d", op))
			return
		}
		rsv1 := rsv&0x4 != 0
		if rsv&0x3 != 0 || (rsv1 && (!w.deflate || op.IsControl() || op == ws.OpContinuation)) {
			s.wsFail(c, ws.StatusProtocolError, "reserved bits set")
			return
		}
		if op.IsControl() && (!fin || length > 125) {
			s.wsFail(c, ws.StatusProtocolError, "fragmented or oversized control frame")
			return
		}
		if !op.IsControl() && uint64(len(w.frag))+length > uint64(max) {
			s.wsFail(c, ws.StatusMessageTooBig, fmt.Sprintf("message over package_max_length %d", max))
			return
		}
		total := hlen + 4 + int(length)
		if len(buf) < total {
			return
		}
		var mask [4]byte
		copy(mask[:], buf[hlen:hlen+4])
		payload := make([]byte, length)
		copy(payload, buf[hlen+4:total])
		_, _ = in.Discard(total)
		ws.Cipher(payload, mask, 0)
		s.bytesIn.Add(int64(total))

		switch op {
		case ws.OpPing:
			c.Send(wsFrame(ws.OpPong, payload, false))
			continue
		case ws.OpPong:
			continue
		case ws.OpClose:
			s.wsCloseReceived(c, payload)
			return
		case ws.OpContinuation:
			if w.fragOp == 0 {
				s.wsFail(c, ws.StatusProtocolError, "continuation without a message")
				return
			}
			w.frag = append(w.frag, payload...)
		default: // text or binary
			if w.fragOp != 0 {
				s.wsFail(c, ws.StatusProtocolError, "new message inside a fragmented one")
				return
			}
			if fin {
				s.wsMessage(c, op, rsv1, payload, max)
				continue
			}
			w.fragOp, w.fragRSV1, w.frag = op, rsv1, payload
		}
		if fin && w.fragOp != 0 {
			msg, mop, mrsv := w.frag, w.fragOp, w.fragRSV1
			w.frag, w.fragOp, w.fragRSV1 = nil, 0, false
			s.wsMessage(c, mop, mrsv, msg, max)
		}
	}
}

// wsMessage checks a whole message and hands it to the worker.
func (s *Server) wsMessage(c *Conn, op ws.OpCode, compressed bool, data []byte, max int) {
	if compressed {
		out, err := inflate(data, max)
		if err != nil {
			if errors.Is(err, errTooBig) {
				s.wsFail(c, ws.StatusMessageTooBig, "inflated message over package_max_length")
			} else {
				s.wsFail(c, ws.StatusProtocolError, "bad compressed data")
			}
			return
		}
		data = out
	}
	if op == ws.OpText && !utf8.Valid(data) {
		s.wsFail(c, ws.StatusInvalidFramePayloadData, "text message is not valid UTF-8")
		return
	}
	s.requestNum.Add(1)
	c.worker.q.post(event{kind: evWSMessage, srv: s, conn: c, data: data, status: int(op)})
}

// wsCloseReceived answers a close frame and closes the connection.
func (s *Server) wsCloseReceived(c *Conn, payload []byte) {
	w := c.ws
	w.closeRecvd = true
	c.bad = true // nothing after a close frame counts
	code := ws.StatusNoStatusRcvd
	if len(payload) == 1 {
		s.wsFail(c, ws.StatusProtocolError, "close frame with a 1-byte payload")
		return
	}
	if len(payload) >= 2 {
		code = ws.StatusCode(binary.BigEndian.Uint16(payload))
		if !validCloseCode(code) {
			s.wsFail(c, ws.StatusProtocolError, fmt.Sprintf("invalid close code %d", code))
			return
		}
		if !utf8.Valid(payload[2:]) {
			s.wsFail(c, ws.StatusInvalidFramePayloadData, "close reason is not valid UTF-8")
			return
		}
	}
	if !w.closeSent.Swap(true) {
		var body []byte
		if code != ws.StatusNoStatusRcvd {
			body = ws.NewCloseFrameBody(code, "")
		}
		c.Send(wsFrame(ws.OpClose, body, false))
	}
	c.Close()
}

func validCloseCode(code ws.StatusCode) bool {
	switch {
	case code >= 1000 && code <= 1003, code >= 1007 && code <= 1014:
		return true
	case code >= 3000 && code <= 4999:
		return true
	}
	return false
}

// wsFail closes a connection for a protocol error with the right code.
func (s *Server) wsFail(c *Conn, code ws.StatusCode, reason string) {
	s.host.log.Warn("websocket protocol error, closing connection", "server", s.Addr(), "fd", c.id,
		"remote", addrString(c.remote), "code", int(code), "err", reason)
	c.bad = true
	if !c.ws.closeSent.Swap(true) {
		c.Send(wsFrame(ws.OpClose, ws.NewCloseFrameBody(code, reason), false))
	}
	c.Close()
}

// wsFrame encodes one unmasked (server) frame.
func wsFrame(op ws.OpCode, payload []byte, rsv1 bool) []byte {
	h := ws.Header{Fin: true, OpCode: op, Length: int64(len(payload))}
	if rsv1 {
		h.Rsv = ws.Rsv(true, false, false)
	}
	var b bytes.Buffer
	b.Grow(ws.HeaderSize(h) + len(payload))
	_ = ws.WriteHeader(&b, h)
	b.Write(payload)
	return b.Bytes()
}

// wsMinCompress is the smallest payload worth compressing.
const wsMinCompress = 64

// outFrame is one message encoded for every kind of peer: plain, and
// compressed for connections that negotiated permessage-deflate (made on
// first use, once, however many connections get it).
type outFrame struct {
	op      ws.OpCode
	payload []byte
	plain   []byte
	deflate []byte
}

func newOutFrame(op ws.OpCode, payload []byte) *outFrame {
	return &outFrame{op: op, payload: payload}
}

func (f *outFrame) bytesFor(c *Conn) []byte {
	if c.ws != nil && c.ws.deflate && len(f.payload) >= wsMinCompress {
		if f.deflate == nil {
			if z, err := deflate(f.payload); err == nil && len(z) < len(f.payload) {
				f.deflate = wsFrame(f.op, z, true)
			} else {
				f.deflate = f.plainFrame() // incompressible: send it as it is
			}
		}
		if f.deflate != nil {
			return f.deflate
		}
	}
	return f.plainFrame()
}

func (f *outFrame) plainFrame() []byte {
	if f.plain == nil {
		f.plain = wsFrame(f.op, f.payload, false)
	}
	return f.plain
}

// Push sends one WebSocket message to connection fd of this server.
func (s *Server) Push(fd int64, data []byte, op ws.OpCode) (bool, string) {
	c := s.conn(fd)
	if c == nil {
		return false, "no such connection"
	}
	if !c.wsOpen.Load() {
		return false, "not a websocket connection"
	}
	return c.Send(newOutFrame(op, data).bytesFor(c))
}

// Disconnect sends a close frame and closes the connection once the peer
// answers (or after a grace period).
func (s *Server) Disconnect(fd int64, code int, reason string) (bool, string) {
	c := s.conn(fd)
	if c == nil {
		return false, "no such connection"
	}
	if !c.wsOpen.Load() {
		return false, "not a websocket connection"
	}
	// Mark the close as sent first: the peer's answer may arrive before
	// Send returns, and must not be answered with a second close frame.
	if c.ws != nil && c.ws.closeSent.Swap(true) {
		return false, "already closing"
	}
	if ok, why := c.Send(wsFrame(ws.OpClose, ws.NewCloseFrameBody(ws.StatusCode(code), reason), false)); !ok {
		return false, why
	}
	time.AfterFunc(3*time.Second, func() { c.Close() })
	return true, ""
}

var (
	errTooBig     = errors.New("too big")
	flateWriters  = sync.Pool{New: func() any { w, _ := flate.NewWriter(nil, flate.BestSpeed); return w }}
	flateReaders  = sync.Pool{New: func() any { return flate.NewReader(bytes.NewReader(nil)) }}
	deflateTailer = []byte{0x00, 0x00, 0xff, 0xff}
)

// deflate compresses one message (no context takeover).
func deflate(p []byte) ([]byte, error) {
	var b bytes.Buffer
	fw := flateWriters.Get().(*flate.Writer)
	defer flateWriters.Put(fw)
	fw.Reset(&b)
	if _, err := fw.Write(p); err != nil {
		return nil, err
	}
	if err := fw.Flush(); err != nil {
		return nil, err
	}
	return bytes.TrimSuffix(b.Bytes(), deflateTailer), nil
}

// inflate decompresses one message, refusing more than max bytes.
func inflate(p []byte, max int) ([]byte, error) {
	fr := flateReaders.Get().(io.ReadCloser)
	defer flateReaders.Put(fr)
	if err := fr.(flate.Resetter).Reset(io.MultiReader(bytes.NewReader(p), bytes.NewReader(deflateTailer)), nil); err != nil {
		return nil, err
	}
	out, err := io.ReadAll(io.LimitReader(fr, int64(max)+1))
	if err != nil && !errors.Is(err, io.ErrUnexpectedEOF) {
		return nil, err
	}
	if len(out) > max {
		return nil, errTooBig
	}
	return out, nil
}

// messageFrame is the frame a message handler gets. Its fields are computed
// when the script reads them: no table is built per message.
type messageFrame struct {
	fd   int64
	data []byte
	op   int          // 1 text, 2 binary
	text script.Value // data as a string, made on the first read
}

// frameType is the frame's script type: read-only fields fd, data,
// opcode ("text" or "binary") and finish (true: messages arrive whole),
// iterable like a table.
var frameType = &script.Type{Name: "websocket_frame", Transient: true}

var frameFields = []string{"data", "fd", "finish", "opcode"}

func (f *messageFrame) field(name string) script.Value {
	switch name {
	case "fd":
		return f.fd
	case "finish":
		return true
	case "opcode":
		if f.op == 1 {
			return "text"
		}
		return "binary"
	}
	if f.op != 1 {
		return f.data
	}
	if f.text == nil {
		f.text = string(f.data)
	}
	return f.text
}

func init() {
	frameType.Props = make(map[string]func(o *script.Object) script.Value, len(frameFields))
	for _, name := range frameFields {
		frameType.Props[name] = func(o *script.Object) script.Value { return o.Data.(*messageFrame).field(name) }
	}
	frameType.Iter = func(o *script.Object) func() (script.Value, script.Value, bool) {
		f, i := o.Data.(*messageFrame), 0
		return func() (script.Value, script.Value, bool) {
			if i == len(frameFields) {
				return nil, nil, false
			}
			name := frameFields[i]
			i++
			return name, f.field(name), true
		}
	}
}
