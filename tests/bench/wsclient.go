package main

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"net/netip"
	"time"

	"golang.org/x/sys/unix"
)

// The bench's WebSocket client side: just enough RFC 6455 for the load
// generators. Clients write masked frames that are built once per
// connection (the mask key stays the same, so a message costs the loader a
// single write of prepared bytes) and parse the server's unmasked frames in
// place. No extension is offered, so no server compresses.

// The handshake uses RFC 6455's sample key; servers accept any key.
const (
	wsKey    = "dGhlIHNhbXBsZSBub25jZQ=="
	wsAccept = "s3pPLMBiTxaQ9kYGzzhZRbK+xOo="
)

const (
	opText   = 0x1
	opBinary = 0x2
	opClose  = 0x8
	opPing   = 0x9
	opPong   = 0xA
)

// dialBlocking opens a TCP connection with TCP_NODELAY and send/receive
// timeouts; the descriptor stays blocking.
func dialBlocking(addr netip.AddrPort, timeout time.Duration) (int, error) {
	fd, err := dialTCP(addr)
	if err != nil {
		return -1, err
	}
	tv := unix.NsecToTimeval(int64(timeout))
	_ = unix.SetsockoptTimeval(fd, unix.SOL_SOCKET, unix.SO_RCVTIMEO, &tv)
	_ = unix.SetsockoptTimeval(fd, unix.SOL_SOCKET, unix.SO_SNDTIMEO, &tv)
	return fd, nil
}

// wsDial connects and upgrades to WebSocket at path "/". It returns the
// descriptor, non-blocking, and any bytes the server sent after its 101
// response.
func wsDial(addr netip.AddrPort, timeout time.Duration) (int, []byte, error) {
	return wsDialPath(addr, "/", timeout)
}

// wsDialPath is wsDial at another path.
func wsDialPath(addr netip.AddrPort, path string, timeout time.Duration) (int, []byte, error) {
	fd, err := dialBlocking(addr, timeout)
	if err != nil {
		return -1, nil, err
	}
	fail := func(err error) (int, []byte, error) {
		_ = unix.Close(fd)
		return -1, nil, err
	}
	req := "GET " + path + " HTTP/1.1\r\nHost: " + addr.String() + "\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n" +
		"Sec-WebSocket-Key: " + wsKey + "\r\nSec-WebSocket-Version: 13\r\n\r\n"
	if err := writeAll(fd, []byte(req)); err != nil {
		return fail(fmt.Errorf("handshake write: %w", err))
	}
	buf := make([]byte, 0, 1024)
	for {
		if len(buf) == cap(buf) {
			return fail(errors.New("handshake: response header over 1 KiB"))
		}
		n, err := unix.Read(fd, buf[len(buf):cap(buf)])
		if err == unix.EINTR {
			continue
		}
		if err == unix.EAGAIN {
			return fail(fmt.Errorf("handshake: no response within %s", timeout))
		}
		if err != nil {
			return fail(fmt.Errorf("handshake read: %w", err))
		}
		if n == 0 {
			return fail(fmt.Errorf("handshake: server closed the connection (got %q)", buf))
		}
		buf = buf[:len(buf)+n]
		end := bytes.Index(buf, []byte("\r\n\r\n"))
		if end < 0 {
			continue
		}
		head := buf[:end+2]
		if !bytes.HasPrefix(head, []byte("HTTP/1.1 101")) {
			line, _, _ := bytes.Cut(head, []byte("\r\n"))
			return fail(fmt.Errorf("handshake: %q", line))
		}
		if v, ok := headerValue(head, "sec-websocket-accept"); !ok || string(v) != wsAccept {
			return fail(fmt.Errorf("handshake: Sec-WebSocket-Accept %q, want %q", v, wsAccept))
		}
		if v, ok := headerValue(head, "sec-websocket-extensions"); ok {
			return fail(fmt.Errorf("handshake: server chose extensions %q that were not offered", v))
		}
		var zero unix.Timeval
		_ = unix.SetsockoptTimeval(fd, unix.SOL_SOCKET, unix.SO_RCVTIMEO, &zero)
		_ = unix.SetsockoptTimeval(fd, unix.SOL_SOCKET, unix.SO_SNDTIMEO, &zero)
		if err := unix.SetNonblock(fd, true); err != nil {
			return fail(err)
		}
		return fd, append([]byte(nil), buf[end+4:]...), nil
	}
}

// headerValue finds a header in an HTTP head (status line and header lines,
// each ending in CRLF); name is lower-case.
func headerValue(head []byte, name string) ([]byte, bool) {
	_, rest, _ := bytes.Cut(head, []byte("\r\n"))
	for len(rest) > 0 {
		var line []byte
		line, rest, _ = bytes.Cut(rest, []byte("\r\n"))
		k, v, ok := bytes.Cut(line, []byte(":"))
		if ok && len(k) == len(name) && equalFoldLower(k, name) {
			return bytes.TrimSpace(v), true
		}
	}
	return nil, false
}

// equalFoldLower compares ASCII b case-insensitively with lower-case s.
func equalFoldLower(b []byte, s string) bool {
	if len(b) != len(s) {
		return false
	}
	for i := range b {
		c := b[i]
		if 'A' <= c && c <= 'Z' {
			c += 'a' - 'A'
		}
		if c != s[i] {
			return false
		}
	}
	return true
}

// maskedFrame builds one final client frame with the given mask key.
func maskedFrame(opcode byte, payload []byte, key [4]byte) []byte {
	f := make([]byte, 0, 14+len(payload))
	f = append(f, 0x80|opcode)
	switch n := len(payload); {
	case n < 126:
		f = append(f, 0x80|byte(n))
	case n <= 0xFFFF:
		f = append(f, 0x80|126, byte(n>>8), byte(n))
	default:
		f = append(f, 0x80|127)
		f = binary.BigEndian.AppendUint64(f, uint64(n))
	}
	f = append(f, key[:]...)
	for i, c := range payload {
		f = append(f, c^key[i&3])
	}
	return f
}

// serverFrame is one parsed server frame; payload aliases the read buffer.
type serverFrame struct {
	fin     bool
	opcode  byte
	payload []byte
}

const maxServerFrame = 1 << 20

// parseServerFrame parses the frame at the start of b. n is the whole
// frame's length, or 0 when b does not hold all of it yet.
func parseServerFrame(b []byte) (f serverFrame, n int, err error) {
	if len(b) < 2 {
		return f, 0, nil
	}
	if b[0]&0x70 != 0 {
		return f, 0, fmt.Errorf("server frame with reserved bits %#x", b[0]&0x70)
	}
	if b[1]&0x80 != 0 {
		return f, 0, errors.New("masked server frame")
	}
	f.fin = b[0]&0x80 != 0
	f.opcode = b[0] & 0x0F
	h := 2
	size := uint64(b[1] & 0x7F)
	switch size {
	case 126:
		if len(b) < 4 {
			return f, 0, nil
		}
		size, h = uint64(binary.BigEndian.Uint16(b[2:])), 4
	case 127:
		if len(b) < 10 {
			return f, 0, nil
		}
		size, h = binary.BigEndian.Uint64(b[2:]), 10
	}
	if size > maxServerFrame {
		return f, 0, fmt.Errorf("server frame of %d bytes", size)
	}
	if uint64(len(b)-h) < size {
		return f, 0, nil
	}
	n = h + int(size)
	f.payload = b[h:n]
	return f, n, nil
}

// closeReason describes a close frame's payload.
func closeReason(p []byte) string {
	if len(p) < 2 {
		return "close frame without a code"
	}
	return fmt.Sprintf("close frame %d %q", binary.BigEndian.Uint16(p), p[2:])
}
