package wsframe

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"testing"
	"unicode/utf8"

	"github.com/gobwas/ws"
)

// conn is what a server does with a client's frames, recorded: the frames
// it sends, the messages it hands on, how it ends.
type conn struct {
	events  []string
	bytesIn int
	done    bool // closed: nothing more is read
}

func (c *conn) add(format string, args ...any) {
	c.events = append(c.events, fmt.Sprintf(format, args...))
}

// serve is how the host is to drive a Reader: one call per read, with
// everything buffered; it returns the unread rest.
func serve(t *testing.T, c *conn, r *Reader, buf []byte) []byte {
	for !c.done {
		f, n, err := r.Next(buf)
		if n < 0 || n > len(buf) {
			t.Fatalf("Next took %d of %d bytes", n, len(buf))
		}
		c.bytesIn += n
		buf = buf[n:]
		if err != nil {
			var pe *ProtocolError
			if !errors.As(err, &pe) {
				t.Fatalf("error %v (%T) is not a *ProtocolError", err, err)
			}
			switch pe.Code {
			case CloseProtocolError, CloseInvalidPayload, CloseTooBig:
			default:
				t.Fatalf("close code %d", pe.Code)
			}
			c.add("fail %d %s", pe.Code, pe.Reason)
			c.done = true
			return buf
		}
		if n == 0 {
			if f.Kind != 0 || f.Data != nil {
				t.Fatalf("frame %+v without bytes", f)
			}
			return buf
		}
		switch f.Kind {
		case 0:
			if f.Op != 0 || f.Data != nil {
				t.Fatalf("fragment with %+v", f)
			}
		case Ping:
			if len(f.Data) > MaxControlPayload {
				t.Fatalf("ping of %d bytes", len(f.Data))
			}
			c.add("send %x", Encode(OpPong, f.Data, false))
		case Pong:
			if len(f.Data) > MaxControlPayload {
				t.Fatalf("pong of %d bytes", len(f.Data))
			}
		case Close:
			if len(f.Data) > MaxControlPayload {
				t.Fatalf("close of %d bytes", len(f.Data))
			}
			c.done = true
			code, perr := ParseClose(f.Data)
			if perr != nil {
				c.add("fail %d %s", perr.Code, perr.Reason)
				return buf
			}
			var body []byte
			if code != CloseNoStatus {
				body = CloseBody(code, "")
			}
			c.add("send %x", Encode(OpClose, body, false))
			return buf
		case Message:
			if f.Op != OpText && f.Op != OpBinary {
				t.Fatalf("message with opcode %v", f.Op)
			}
			if f.Op == OpText && !utf8.Valid(f.Data) {
				t.Fatal("invalid UTF-8 text message passed")
			}
			if len(f.Data) > r.Max {
				t.Fatalf("message of %d bytes passed Max %d", len(f.Data), r.Max)
			}
			c.add("message %d %x", f.Op, f.Data)
		default:
			t.Fatalf("frame kind %v", f.Kind)
		}
	}
	return buf
}

// refState and refData are the host's wsData, wsMessage and
// wsCloseReceived as they were before this package, with the connection
// replaced by a conn: the reference the fuzzer holds Reader to.
type refState struct {
	deflate  bool
	fragOp   ws.OpCode
	fragRSV1 bool
	frag     []byte
}

func refFail(c *conn, code ws.StatusCode, reason string) {
	c.add("fail %d %s", int(code), reason)
	c.done = true
}

func refData(c *conn, w *refState, buf []byte, max int) []byte {
	for !c.done {
		if len(buf) < 2 {
			return buf
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
				return buf
			}
			length = uint64(binary.BigEndian.Uint16(buf[2:4]))
			hlen = 4
		case 127:
			if len(buf) < 10 {
				return buf
			}
			length = binary.BigEndian.Uint64(buf[2:10])
			hlen = 10
			if length>>63 != 0 {
				refFail(c, ws.StatusProtocolError, "bad frame length")
				return buf
			}
		}
		if !masked {
			refFail(c, ws.StatusProtocolError, "unmasked client frame")
			return buf
		}
		if op.IsReserved() {
			refFail(c, ws.StatusProtocolError, fmt.Sprintf("reserved opcode %d", op))
			return buf
		}
		rsv1 := rsv&0x4 != 0
		if rsv&0x3 != 0 || (rsv1 && (!w.deflate || op.IsControl() || op == ws.OpContinuation)) {
			refFail(c, ws.StatusProtocolError, "reserved bits set")
			return buf
		}
		if op.IsControl() && (!fin || length > 125) {
			refFail(c, ws.StatusProtocolError, "fragmented or oversized control frame")
			return buf
		}
		if !op.IsControl() && uint64(len(w.frag))+length > uint64(max) {
			refFail(c, ws.StatusMessageTooBig, fmt.Sprintf("message over package_max_length %d", max))
			return buf
		}
		total := hlen + 4 + int(length)
		if len(buf) < total {
			return buf
		}
		var mask [4]byte
		copy(mask[:], buf[hlen:hlen+4])
		payload := make([]byte, length)
		copy(payload, buf[hlen+4:total])
		buf = buf[total:]
		ws.Cipher(payload, mask, 0)
		c.bytesIn += total

		switch op {
		case ws.OpPing:
			c.add("send %x", refFrame(ws.OpPong, payload, false))
			continue
		case ws.OpPong:
			continue
		case ws.OpClose:
			refCloseReceived(c, payload)
			return buf
		case ws.OpContinuation:
			if w.fragOp == 0 {
				refFail(c, ws.StatusProtocolError, "continuation without a message")
				return buf
			}
			w.frag = append(w.frag, payload...)
		default: // text or binary
			if w.fragOp != 0 {
				refFail(c, ws.StatusProtocolError, "new message inside a fragmented one")
				return buf
			}
			if fin {
				refMessage(c, op, rsv1, payload, max)
				continue
			}
			w.fragOp, w.fragRSV1, w.frag = op, rsv1, payload
		}
		if fin && w.fragOp != 0 {
			msg, mop, mrsv := w.frag, w.fragOp, w.fragRSV1
			w.frag, w.fragOp, w.fragRSV1 = nil, 0, false
			refMessage(c, mop, mrsv, msg, max)
		}
	}
	return buf
}

func refMessage(c *conn, op ws.OpCode, compressed bool, data []byte, max int) {
	if compressed {
		out, err := Inflate(data, max)
		if err != nil {
			if errors.Is(err, ErrTooBig) {
				refFail(c, ws.StatusMessageTooBig, "inflated message over package_max_length")
			} else {
				refFail(c, ws.StatusProtocolError, "bad compressed data")
			}
			return
		}
		data = out
	}
	if op == ws.OpText && !utf8.Valid(data) {
		refFail(c, ws.StatusInvalidFramePayloadData, "text message is not valid UTF-8")
		return
	}
	c.add("message %d %x", int(op), data)
}

func refCloseReceived(c *conn, payload []byte) {
	c.done = true
	code := ws.StatusNoStatusRcvd
	if len(payload) == 1 {
		refFail(c, ws.StatusProtocolError, "close frame with a 1-byte payload")
		return
	}
	if len(payload) >= 2 {
		code = ws.StatusCode(binary.BigEndian.Uint16(payload))
		if !refValidCloseCode(code) {
			refFail(c, ws.StatusProtocolError, fmt.Sprintf("invalid close code %d", code))
			return
		}
		if !utf8.Valid(payload[2:]) {
			refFail(c, ws.StatusInvalidFramePayloadData, "close reason is not valid UTF-8")
			return
		}
	}
	var body []byte
	if code != ws.StatusNoStatusRcvd {
		body = ws.NewCloseFrameBody(code, "")
	}
	c.add("send %x", refFrame(ws.OpClose, body, false))
}

func refValidCloseCode(code ws.StatusCode) bool {
	switch {
	case code >= 1000 && code <= 1003, code >= 1007 && code <= 1014:
		return true
	case code >= 3000 && code <= 4999:
		return true
	}
	return false
}

func refFrame(op ws.OpCode, payload []byte, rsv1 bool) []byte { return wsFrame(op, payload, rsv1) }

func FuzzWebSocketFrames(f *testing.F) {
	f.Add(MaskedFrame(0x81, []byte("hello"), [4]byte{1, 2, 3, 4}), true, 3)
	f.Add(append(append(MaskedFrame(0x01, []byte("he"), [4]byte{1, 2, 3, 4}), MaskedFrame(0x89, []byte("p"), [4]byte{1, 2, 3, 4})...), MaskedFrame(0x80, []byte("llo"), [4]byte{1, 2, 3, 4})...), false, 9)
	f.Add(MaskedFrame(0x82, bytes.Repeat([]byte{0xff}, 300), [4]byte{1, 2, 3, 4}), false, 100)
	f.Add(MaskedFrame(0x88, []byte{0x03, 0xe8, 'o', 'k'}, [4]byte{1, 2, 3, 4}), false, 0)
	f.Add([]byte{0x81, 0x05, 'h', 'e', 'l', 'l', 'o'}, false, 2)
	f.Add(MaskedFrame(0xc1, []byte{0xf2, 0x48, 0xcd, 0xc9, 0xc9, 0x07, 0x00}, [4]byte{1, 2, 3, 4}), true, 4)
	f.Fuzz(func(t *testing.T, data []byte, deflate bool, cut int) {
		const max = 1 << 16
		if cut < 0 || cut > len(data) {
			cut = len(data)
		}
		// The Reader, fed in two reads split at cut.
		c, r := &conn{}, &Reader{Deflate: deflate, Max: max}
		var buf []byte
		buffered := 0
		for _, part := range [][]byte{data[:cut], data[cut:]} {
			if c.done {
				break
			}
			buf = append(buf, part...)
			buffered += len(part)
			buf = serve(t, c, r, buf)
			if c.bytesIn > buffered {
				t.Fatalf("consumed %d of %d buffered bytes", c.bytesIn, buffered)
			}
		}
		// Today's host code, fed the same way.
		ref, w := &conn{}, &refState{deflate: deflate}
		buf = nil
		for _, part := range [][]byte{data[:cut], data[cut:]} {
			if ref.done {
				break
			}
			buf = append(buf, part...)
			buf = refData(ref, w, buf, max)
		}
		if fmt.Sprint(c.events) != fmt.Sprint(ref.events) || c.bytesIn != ref.bytesIn || c.done != ref.done {
			t.Fatalf("Reader:\n  %q (%d bytes, done %v)\nhost code:\n  %q (%d bytes, done %v)",
				c.events, c.bytesIn, c.done, ref.events, ref.bytesIn, ref.done)
		}
	})
}
