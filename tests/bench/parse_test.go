package main

import (
	"testing"
	"time"
)

func TestLogHistQuantiles(t *testing.T) {
	var h logHist
	for i := 1; i <= 1000; i++ {
		h.record(int64(i) * int64(time.Microsecond))
	}
	for _, c := range []struct {
		q    float64
		want time.Duration
	}{{0.5, 500 * time.Microsecond}, {0.99, 990 * time.Microsecond}} {
		got := h.quantile(c.q)
		if got < c.want || float64(got) > float64(c.want)*1.04 {
			t.Errorf("quantile(%v) = %v, want %v within 4%%", c.q, got, c.want)
		}
	}
	if got := h.quantile(1); got != time.Millisecond {
		t.Errorf("quantile(1) = %v, want the largest sample, 1ms", got)
	}
	for _, v := range []int64{0, 1, 31, 32, 33, 63, 64, 1 << 40, 1 << 62} {
		if i := logBucket(v); v >= logUpper(i) || (i > 0 && v < logUpper(i-1)) {
			t.Errorf("value %d in bucket %d: [%d, %d)", v, i, logUpper(i-1), logUpper(i))
		}
	}
}

func TestServerFrames(t *testing.T) {
	p := []byte("hello")
	f, n, err := parseServerFrame(append([]byte{0x81, 5}, p...))
	if err != nil || n != 7 || !f.fin || f.opcode != opText || string(f.payload) != "hello" {
		t.Fatalf("short frame: %+v %d %v", f, n, err)
	}
	long := make([]byte, 300)
	b := append([]byte{0x82, 126, 1, 44}, long...)
	if _, n, err := parseServerFrame(b[:100]); n != 0 || err != nil {
		t.Fatalf("partial frame: n=%d err=%v", n, err)
	}
	if f, n, err := parseServerFrame(b); n != 304 || err != nil || len(f.payload) != 300 || f.opcode != opBinary {
		t.Fatalf("126-length frame: n=%d err=%v", n, err)
	}
	if _, _, err := parseServerFrame([]byte{0x81, 0x85, 1, 2, 3, 4, 0}); err == nil {
		t.Fatal("masked server frame accepted")
	}
	if _, _, err := parseServerFrame([]byte{0xC1, 0}); err == nil {
		t.Fatal("reserved bit accepted")
	}
	// A client frame unmasks to its payload.
	key := [4]byte{9, 8, 7, 6}
	m := maskedFrame(opText, p, key)
	if m[0] != 0x81 || m[1] != 0x85 {
		t.Fatalf("masked frame header % x", m[:2])
	}
	for i, c := range m[6:] {
		if c^key[i&3] != p[i] {
			t.Fatalf("masked payload byte %d", i)
		}
	}
	if a := appendMasked(nil, opText, p, key); string(a) != string(m) {
		t.Fatal("appendMasked and maskedFrame differ")
	}
}

func TestHTTPReply(t *testing.T) {
	c := &rrConn{want: []byte("hello world")}
	resp := "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\ncontent-length: 11\r\n\r\nhello world"
	for i := 0; i < len(resp); i++ {
		if n, err := parseHTTPReply(c, []byte(resp[:i])); n != 0 || err != nil {
			t.Fatalf("prefix of %d bytes: n=%d err=%v", i, n, err)
		}
	}
	if n, err := parseHTTPReply(c, []byte(resp)); n != len(resp) || err != nil {
		t.Fatalf("whole response: n=%d err=%v", n, err)
	}
	for _, bad := range []string{
		"HTTP/1.1 500 Oops\r\nContent-Length: 0\r\n\r\n",
		"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n",
		"HTTP/1.1 200 OK\r\nContent-Length: 11\r\nConnection: close\r\n\r\nhello world",
		"HTTP/1.1 200 OK\r\nContent-Length: 11\r\n\r\nhello there",
	} {
		if _, err := parseHTTPReply(c, []byte(bad)); err == nil {
			t.Errorf("accepted %q", bad)
		}
	}
}

func TestRoomPayload(t *testing.T) {
	s := &roomSender{size: 64}
	s.pay = make([]byte, 64)
	p := s.pay
	p[0] = 'M'
	hex8(p[1:9], 0xBEEF)
	hex16(p[9:25], 1234567890123)
	seq, ok1 := unhex(p[1:9])
	ts, ok2 := unhex(p[9:25])
	if !ok1 || !ok2 || seq != 0xBEEF || ts != 1234567890123 {
		t.Fatalf("seq %d ts %d (%v %v)", seq, ts, ok1, ok2)
	}
}
