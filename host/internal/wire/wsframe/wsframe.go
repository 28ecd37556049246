// Package wsframe is the server side of the WebSocket wire protocol (RFC
// 6455, with RFC 7692 permessage-deflate): handshake keys, client frame
// parsing and reassembly, close payloads, and server frame encoding. It
// works on byte buffers and keeps no connection of its own, so an event
// loop can feed it whatever it has buffered.
package wsframe

import (
	"crypto/sha1"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"fmt"
	"slices"
	"strings"
	"unicode/utf8"

	"github.com/gobwas/ws"
)

// Op is a frame opcode.
type Op uint8

// The opcodes of RFC 6455 5.2.
const (
	OpContinuation Op = 0x0
	OpText         Op = 0x1
	OpBinary       Op = 0x2
	OpClose        Op = 0x8
	OpPing         Op = 0x9
	OpPong         Op = 0xa
)

// IsControl reports whether op is a control opcode (close, ping, pong or a
// reserved one).
func (op Op) IsControl() bool { return op&0x8 != 0 }

// IsReserved reports whether op is one of the reserved opcodes 3-7, 11-15.
func (op Op) IsReserved() bool { return (0x3 <= op && op <= 0x7) || (0xb <= op && op <= 0xf) }

func (op Op) String() string {
	switch op {
	case OpContinuation:
		return "continuation"
	case OpText:
		return "text"
	case OpBinary:
		return "binary"
	case OpClose:
		return "close"
	case OpPing:
		return "ping"
	case OpPong:
		return "pong"
	}
	return fmt.Sprintf("Op(%d)", uint8(op))
}

// Close codes (RFC 6455 7.4.1) the server sends or reports.
const (
	CloseNormal         = 1000
	CloseGoingAway      = 1001
	CloseProtocolError  = 1002
	CloseNoStatus       = 1005 // a close frame without a code; never sent
	CloseAbnormal       = 1006 // the connection dropped without a close frame; never sent
	CloseInvalidPayload = 1007
	CloseTooBig         = 1009
)

// GUID is the key suffix of RFC 6455 1.3.
const GUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"

// DeflateResponseHeader is the Sec-WebSocket-Extensions value of a 101
// response that accepts permessage-deflate (see OffersDeflate): every
// message compressed on its own, with a full window.
const DeflateResponseHeader = "permessage-deflate; server_no_context_takeover; client_no_context_takeover"

// MaxControlPayload is the longest payload of a control frame.
const MaxControlPayload = 125

// AcceptKey returns the Sec-WebSocket-Accept value for a client's
// Sec-WebSocket-Key: base64(SHA-1(key + GUID)).
func AcceptKey(key string) string {
	sum := sha1.Sum([]byte(key + GUID))
	return base64.StdEncoding.EncodeToString(sum[:])
}

// ValidKey reports whether a Sec-WebSocket-Key is the base64 encoding of 16
// bytes.
func ValidKey(key string) bool {
	raw, err := base64.StdEncoding.DecodeString(key)
	return err == nil && len(raw) == 16
}

// OffersDeflate reports whether the Sec-WebSocket-Extensions values of an
// upgrade request offer permessage-deflate in a form DeflateResponseHeader
// answers: no context takeover and a full (32 KiB) server window.
func OffersDeflate(exts []string) bool {
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

// HandshakeResponse returns the 101 response accepting an upgrade: accept
// is AcceptKey of the client's key, protocol the chosen subprotocol ("":
// none), deflate whether permessage-deflate was accepted.
func HandshakeResponse(accept, protocol string, deflate bool) []byte {
	b := make([]byte, 0, 256)
	b = append(b, "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: "...)
	b = append(b, accept...)
	b = append(b, "\r\n"...)
	if protocol != "" {
		b = append(b, "Sec-WebSocket-Protocol: "+protocol+"\r\n"...)
	}
	if deflate {
		b = append(b, "Sec-WebSocket-Extensions: "+DeflateResponseHeader+"\r\n"...)
	}
	return append(b, "\r\n"...)
}

// ProtocolError is a client frame the server refuses: the connection is to
// be closed with Code, Reason being the close frame's reason text.
type ProtocolError struct {
	Code   int
	Reason string
}

func (e *ProtocolError) Error() string {
	return fmt.Sprintf("websocket protocol error %d: %s", e.Code, e.Reason)
}

// Kind is what a Frame carries.
type Kind uint8

const (
	// Message is a whole data message (text or binary), reassembled and
	// inflated.
	Message Kind = iota + 1
	// Ping is a ping: answer it with a pong of the same payload.
	Ping
	// Pong is a pong.
	Pong
	// Close is a close frame: check its payload with ParseClose.
	Close
)

func (k Kind) String() string {
	switch k {
	case 0:
		return "none"
	case Message:
		return "message"
	case Ping:
		return "ping"
	case Pong:
		return "pong"
	case Close:
		return "close"
	}
	return fmt.Sprintf("Kind(%d)", uint8(k))
}

// Frame is what Reader.Next returns. Data is the caller's own: a fresh
// copy, unmasked and (for a compressed message) inflated.
type Frame struct {
	Kind Kind
	Op   Op // OpText or OpBinary for a Message; OpPing, OpPong, OpClose for the others
	Data []byte
}

// Reader parses a client's frames. Deflate says whether permessage-deflate
// was negotiated; Max is the longest message (package_max_length), before
// and after inflation (a negative Max counts as 0). Both may change between
// calls. A Reader with a Max is ready to use; it holds the message being
// reassembled across calls, so each connection needs its own.
type Reader struct {
	Deflate bool
	Max     int

	fragOp   Op // opcode of the message being reassembled (0: none)
	fragRSV1 bool
	frag     []byte
}

// Fragmented reports whether a fragmented message has started and not yet
// ended.
func (r *Reader) Fragmented() bool { return r.fragOp != 0 }

// Next parses the frame at the start of buf (what the connection has
// buffered) and returns n, how many bytes of buf it took.
//
// With n == 0 and no error, buf holds only part of a frame: call again with
// more. Otherwise f is a whole data message (Kind Message), a control frame
// (Ping, Pong, Close: Data is its raw payload), or the zero Frame for a
// fragment of a message that has not ended yet (control frames may come in
// between). A text message is valid UTF-8.
//
// An error is a *ProtocolError to close the connection with. Errors found
// in the frame header come with n == 0; errors found once the whole frame
// was read (a bad continuation, a bad message) come with the frame's
// length as n. After an error or a Close frame, the Reader is not to be
// used again.
func (r *Reader) Next(buf []byte) (f Frame, n int, err error) {
	if len(buf) < 2 {
		return Frame{}, 0, nil
	}
	b0, b1 := buf[0], buf[1]
	fin := b0&0x80 != 0
	rsv := (b0 >> 4) & 0x07
	op := Op(b0 & 0x0f)
	masked := b1&0x80 != 0
	hlen := 2
	length := uint64(b1 & 0x7f)
	switch length {
	case 126:
		if len(buf) < 4 {
			return Frame{}, 0, nil
		}
		length = uint64(binary.BigEndian.Uint16(buf[2:4]))
		hlen = 4
	case 127:
		if len(buf) < 10 {
			return Frame{}, 0, nil
		}
		length = binary.BigEndian.Uint64(buf[2:10])
		hlen = 10
		if length>>63 != 0 {
			return Frame{}, 0, fail(CloseProtocolError, "bad frame length")
		}
	}
	if !masked {
		return Frame{}, 0, fail(CloseProtocolError, "unmasked client frame")
	}
	if op.IsReserved() {
		return Frame{}, 0, fail(CloseProtocolError, fmt.Sprintf("reserved opcode %d", op))
	}
	rsv1 := rsv&0x4 != 0
	if rsv&0x3 != 0 || (rsv1 && (!r.Deflate || op.IsControl() || op == OpContinuation)) {
		return Frame{}, 0, fail(CloseProtocolError, "reserved bits set")
	}
	if op.IsControl() && (!fin || length > MaxControlPayload) {
		return Frame{}, 0, fail(CloseProtocolError, "fragmented or oversized control frame")
	}
	if !op.IsControl() && uint64(len(r.frag))+length > uint64(r.maxLen()) {
		return Frame{}, 0, fail(CloseTooBig, fmt.Sprintf("message over package_max_length %d", r.Max))
	}
	// length is now at most 125 or at most Max: no overflow.
	total := hlen + 4 + int(length)
	if len(buf) < total {
		return Frame{}, 0, nil
	}
	var mask [4]byte
	copy(mask[:], buf[hlen:hlen+4])
	payload := make([]byte, length)
	copy(payload, buf[hlen+4:total])
	ws.Cipher(payload, mask, 0)

	switch op {
	case OpPing:
		return Frame{Kind: Ping, Op: op, Data: payload}, total, nil
	case OpPong:
		return Frame{Kind: Pong, Op: op, Data: payload}, total, nil
	case OpClose:
		return Frame{Kind: Close, Op: op, Data: payload}, total, nil
	case OpContinuation:
		if r.fragOp == 0 {
			return Frame{}, total, fail(CloseProtocolError, "continuation without a message")
		}
		r.frag = append(r.frag, payload...)
	default: // text or binary
		if r.fragOp != 0 {
			return Frame{}, total, fail(CloseProtocolError, "new message inside a fragmented one")
		}
		if fin {
			f, err := r.message(op, rsv1, payload)
			return f, total, err
		}
		r.fragOp, r.fragRSV1, r.frag = op, rsv1, payload
	}
	if fin && r.fragOp != 0 {
		msg, mop, mrsv := r.frag, r.fragOp, r.fragRSV1
		r.frag, r.fragOp, r.fragRSV1 = nil, 0, false
		f, err := r.message(mop, mrsv, msg)
		return f, total, err
	}
	return Frame{}, total, nil
}

// maxLen is Max as a limit (a negative Max allows only empty messages, as
// 0 does).
func (r *Reader) maxLen() int { return max(r.Max, 0) }

// message checks a whole message: inflated when compressed, valid UTF-8
// when text.
func (r *Reader) message(op Op, compressed bool, data []byte) (Frame, error) {
	if compressed {
		out, err := Inflate(data, r.maxLen())
		if err != nil {
			if errors.Is(err, ErrTooBig) {
				return Frame{}, fail(CloseTooBig, "inflated message over package_max_length")
			}
			return Frame{}, fail(CloseProtocolError, "bad compressed data")
		}
		data = out
	}
	if op == OpText && !utf8.Valid(data) {
		return Frame{}, fail(CloseInvalidPayload, "text message is not valid UTF-8")
	}
	return Frame{Kind: Message, Op: op, Data: data}, nil
}

func fail(code int, reason string) *ProtocolError {
	return &ProtocolError{Code: code, Reason: reason}
}

// ParseClose checks the payload of a received close frame and returns its
// code: CloseNoStatus for an empty payload; a *ProtocolError for a 1-byte
// payload or an invalid code (CloseProtocolError) or a reason that is not
// UTF-8 (CloseInvalidPayload). The server answers a valid close with a
// close frame of the same code (CloseBody(code, ""), or an empty payload
// for CloseNoStatus).
func ParseClose(payload []byte) (code int, err *ProtocolError) {
	if len(payload) == 0 {
		return CloseNoStatus, nil
	}
	if len(payload) == 1 {
		return 0, fail(CloseProtocolError, "close frame with a 1-byte payload")
	}
	code = int(binary.BigEndian.Uint16(payload))
	if !ValidCloseCode(code) {
		return code, fail(CloseProtocolError, fmt.Sprintf("invalid close code %d", code))
	}
	if !utf8.Valid(payload[2:]) {
		return code, fail(CloseInvalidPayload, "close reason is not valid UTF-8")
	}
	return code, nil
}

// ValidCloseCode reports whether a peer may send code in a close frame:
// 1000-1003, 1007-1014 and the application range 3000-4999.
func ValidCloseCode(code int) bool {
	switch {
	case code >= 1000 && code <= 1003, code >= 1007 && code <= 1014:
		return true
	case code >= 3000 && code <= 4999:
		return true
	}
	return false
}

// CloseBody returns a close frame payload: code, big-endian, then reason
// cut to fit a control frame (123 bytes; the cut is byte-wise).
func CloseBody(code int, reason string) []byte {
	return ws.NewCloseFrameBody(ws.StatusCode(code), reason)
}

// headerLen is the header size of an unmasked frame with n payload bytes.
func headerLen(n int) int {
	switch {
	case n <= 125:
		return 2
	case n <= 0xffff:
		return 4
	}
	return 10
}

// EncodedLen is the size of the server frame Encode makes for a payload of
// n bytes.
func EncodedLen(n int) int { return headerLen(n) + n }

// MaxHeaderLen is the longest header of a server frame.
const MaxHeaderLen = 10

// AppendHeader appends the header of one unmasked (server) frame with FIN
// set, RSV1 when rsv1 (a compressed message), opcode op and an n-byte
// payload to dst: the payload follows it.
func AppendHeader(dst []byte, op Op, n int, rsv1 bool) []byte {
	b0 := 0x80 | byte(op&0x0f)
	if rsv1 {
		b0 |= 0x40
	}
	switch {
	case n <= 125:
		return append(dst, b0, byte(n))
	case n <= 0xffff:
		dst = append(dst, b0, 126)
		return binary.BigEndian.AppendUint16(dst, uint16(n))
	}
	dst = append(dst, b0, 127)
	return binary.BigEndian.AppendUint64(dst, uint64(n))
}

// AppendFrame appends one unmasked (server) frame with FIN set, RSV1 when
// rsv1 (a compressed message), opcode op and payload to dst, growing dst
// at most once.
func AppendFrame(dst []byte, op Op, payload []byte, rsv1 bool) []byte {
	n := len(payload)
	dst = slices.Grow(dst, headerLen(n)+n)
	return append(AppendHeader(dst, op, n, rsv1), payload...)
}

// Encode returns one unmasked (server) frame, as AppendFrame, in a buffer
// of its own.
func Encode(op Op, payload []byte, rsv1 bool) []byte {
	return AppendFrame(make([]byte, 0, EncodedLen(len(payload))), op, payload, rsv1)
}

// MaskedFrame returns one client frame: first byte b0 (FIN, RSV and
// opcode), the payload masked with key, as a client sends it (and as tests
// feed a Reader).
func MaskedFrame(b0 byte, payload []byte, key [4]byte) []byte {
	out := make([]byte, 0, 14+len(payload))
	switch n := len(payload); {
	case n < 126:
		out = append(out, b0, 0x80|byte(n))
	case n < 1<<16:
		out = append(out, b0, 0x80|126, byte(n>>8), byte(n))
	default:
		out = append(out, b0, 0x80|127)
		out = binary.BigEndian.AppendUint64(out, uint64(n))
	}
	out = append(out, key[:]...)
	for i, c := range payload {
		out = append(out, c^key[i%4])
	}
	return out
}
