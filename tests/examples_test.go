package tests

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"net"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"
)

const (
	tcpPrefix = "Swoole TCP Server: "
	udpPrefix = "Swoole UDP Server: "
)

// TestEcho: the TCP echo example answers each message with
// "Swoole TCP Server: " + message, on one connection after another.
func TestEcho(t *testing.T) {
	t.Parallel()
	eachLang(t, func(t *testing.T, lang string) {
		s := start(t, example(lang, "echo"), runOpts{})
		c := dial(t, s.addr())
		for _, msg := range []string{"hello", "hello world\r\n", "x", strings.Repeat("abc", 300)} {
			roundTrip(t, c, []byte(msg), []byte(tcpPrefix+msg))
		}
		c2 := dial(t, s.addr())
		roundTrip(t, c2, []byte("second"), []byte(tcpPrefix+"second"))
		roundTrip(t, c, []byte("first again"), []byte(tcpPrefix+"first again"))
	})
}

// TestEchoBinary: every byte value and invalid UTF-8 come back unchanged
// after the prefix.
func TestEchoBinary(t *testing.T) {
	t.Parallel()
	eachLang(t, func(t *testing.T, lang string) {
		s := start(t, example(lang, "echo"), runOpts{})
		c := dial(t, s.addr())
		for _, msg := range [][]byte{allBytes(), invalidUTF8, {0}, {0xff}} {
			roundTrip(t, c, msg, append([]byte(tcpPrefix), msg...))
		}
	})
}

// TestRawEchoLarge: 1 MiB of random bytes (and every byte value) through a
// prefix-less echo comes back byte-exact however TCP splits it.
func TestRawEchoLarge(t *testing.T) {
	t.Parallel()
	eachLang(t, func(t *testing.T, lang string) {
		s := start(t, testScript(lang, "raw_echo"), runOpts{})
		c := dial(t, s.addr())
		big := randomBytes(1 << 20)
		roundTripLarge(t, c, big, big)
		payload := bytes.Repeat(allBytes(), 16)
		payload = append(payload, invalidUTF8...)
		roundTrip(t, c, payload, payload)
	})
}

// TestUDPEcho: the UDP example answers each datagram with
// "Swoole UDP Server: " + datagram, binary-safe, up to large datagrams.
func TestUDPEcho(t *testing.T) {
	t.Parallel()
	eachLang(t, func(t *testing.T, lang string) {
		s := start(t, example(lang, "udp_echo"), runOpts{})
		c, err := net.Dial("udp", s.addr())
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		for _, msg := range [][]byte{[]byte("hello"), allBytes(), invalidUTF8, randomBytes(60000)} {
			want := append([]byte(udpPrefix), msg...)
			got := udpExchange(t, c, msg)
			if !bytes.Equal(got, want) {
				t.Fatalf("udp reply differs:\n got %q\nwant %q", abbrev(got), abbrev(want))
			}
		}
		// Two clients, each gets its own reply.
		c2, err := net.Dial("udp", s.addr())
		if err != nil {
			t.Fatal(err)
		}
		defer c2.Close()
		if got := udpExchange(t, c2, []byte("two")); string(got) != udpPrefix+"two" {
			t.Fatalf("second client got %q", got)
		}
		if got := udpExchange(t, c, []byte("one")); string(got) != udpPrefix+"one" {
			t.Fatalf("first client got %q", got)
		}
	})
}

// udpExchange sends msg and returns the first reply, resending while no
// reply arrives (datagrams may be lost).
func udpExchange(t *testing.T, c net.Conn, msg []byte) []byte {
	t.Helper()
	buf := make([]byte, 70000)
	deadline := time.Now().Add(ioTimeout)
	for time.Now().Before(deadline) {
		if _, err := c.Write(msg); err != nil {
			t.Fatalf("udp write: %v", err)
		}
		_ = c.SetReadDeadline(time.Now().Add(time.Second))
		n, err := c.Read(buf)
		if err == nil {
			return append([]byte(nil), buf[:n]...)
		}
		if !isTimeout(err) {
			t.Fatalf("udp read: %v", err)
		}
	}
	t.Fatalf("no udp reply within %v", ioTimeout)
	return nil
}

// frame is a framed_echo package: 4-byte big-endian body length + body.
func frame(body []byte) []byte {
	b := make([]byte, 4, 4+len(body))
	binary.BigEndian.PutUint32(b, uint32(len(body)))
	return append(b, body...)
}

// framedReply is framed_echo's answer to body.
func framedReply(body []byte) []byte {
	return frame(append([]byte("echo: "), body...))
}

// TestFramedEcho: exact replies, binary bodies and a 1 MiB body.
func TestFramedEcho(t *testing.T) {
	t.Parallel()
	eachLang(t, func(t *testing.T, lang string) {
		s := start(t, example(lang, "framed_echo"), runOpts{})
		c := dial(t, s.addr())
		for _, body := range [][]byte{[]byte("hello"), {}, allBytes(), invalidUTF8} {
			roundTrip(t, c, frame(body), framedReply(body))
		}
		big := randomBytes(1 << 20)
		roundTripLarge(t, c, frame(big), framedReply(big))
		roundTrip(t, c, frame([]byte("after")), framedReply([]byte("after")))
	})
}

// TestFramingCoalesced: several packages in one write each get their reply,
// in order.
func TestFramingCoalesced(t *testing.T) {
	t.Parallel()
	eachLang(t, func(t *testing.T, lang string) {
		s := start(t, example(lang, "framed_echo"), runOpts{})
		c := dial(t, s.addr())
		var out, want []byte
		for i := range 50 {
			body := []byte(fmt.Sprintf("package %d %s", i, strings.Repeat("z", i*7)))
			out = append(out, frame(body)...)
			want = append(want, framedReply(body)...)
		}
		// A binary body in the same write, and an empty one.
		out = append(out, frame(allBytes())...)
		want = append(want, framedReply(allBytes())...)
		out = append(out, frame(nil)...)
		want = append(want, framedReply(nil)...)
		roundTrip(t, c, out, want)
	})
}

// TestFramingSplit: packages written a byte at a time, or cut anywhere
// (inside the length header too) and sent in pieces with pauses, are
// reassembled.
func TestFramingSplit(t *testing.T) {
	t.Parallel()
	eachLang(t, func(t *testing.T, lang string) {
		s := start(t, example(lang, "framed_echo"), runOpts{})
		c := dial(t, s.addr())
		c.SetNoDelay(true)

		// One package, byte by byte.
		body := []byte("split into single bytes \x00\xff")
		for _, b := range frame(body) {
			write(t, c, []byte{b})
			time.Sleep(2 * time.Millisecond)
		}
		expect(t, c, framedReply(body))

		// Three packages cut at uneven places: the first cut inside the
		// first header, one across the border of two packages.
		var stream, want []byte
		for _, b := range [][]byte{[]byte("first"), allBytes(), []byte("third")} {
			stream = append(stream, frame(b)...)
			want = append(want, framedReply(b)...)
		}
		cuts := []int{2, 3, 9, 12, 200, 270, 271, len(stream)}
		prev := 0
		for _, cut := range cuts {
			write(t, c, stream[prev:cut])
			prev = cut
			time.Sleep(5 * time.Millisecond)
		}
		expect(t, c, want)

		// A 1 MiB package in pieces of growing size, pausing now and then.
		big := randomBytes(1 << 20)
		pkg := frame(big)
		errc := make(chan error, 1)
		go func() {
			_ = c.SetWriteDeadline(time.Now().Add(ioTimeout))
			size := 1
			for off := 0; off < len(pkg); {
				end := min(off+size, len(pkg))
				if _, err := c.Write(pkg[off:end]); err != nil {
					errc <- err
					return
				}
				off = end
				size = size*2 + 1
				if size > 64<<10 {
					size = 7
					time.Sleep(time.Millisecond)
				}
			}
			errc <- nil
		}()
		expect(t, c, framedReply(big))
		if err := <-errc; err != nil {
			t.Fatalf("write pieces: %v", err)
		}
	})
}

// TestConcurrentConnections: 500 connections open at once; each gets its
// own exact reply.
func TestConcurrentConnections(t *testing.T) {
	t.Parallel()
	eachLang(t, func(t *testing.T, lang string) {
		const n = 500
		s := start(t, example(lang, "echo"), runOpts{})
		conns := make([]net.Conn, n)
		// Open every connection first so all 500 are live together.
		var wg sync.WaitGroup
		errs := make(chan error, n)
		sem := make(chan struct{}, 50)
		for i := range conns {
			wg.Add(1)
			go func() {
				defer wg.Done()
				sem <- struct{}{}
				defer func() { <-sem }()
				c, err := net.DialTimeout("tcp", s.addr(), ioTimeout)
				if err != nil {
					errs <- fmt.Errorf("dial %d: %w", i, err)
					return
				}
				conns[i] = c
			}()
		}
		wg.Wait()
		t.Cleanup(func() {
			for _, c := range conns {
				if c != nil {
					c.Close()
				}
			}
		})
		select {
		case err := <-errs:
			t.Fatal(err)
		default:
		}
		for i, c := range conns {
			wg.Add(1)
			go func() {
				defer wg.Done()
				msg := fmt.Sprintf("hello from connection %d", i)
				_ = c.SetDeadline(time.Now().Add(ioTimeout))
				if _, err := c.Write([]byte(msg)); err != nil {
					errs <- fmt.Errorf("conn %d write: %w", i, err)
					return
				}
				want := tcpPrefix + msg
				got, err := readNErr(c, len(want))
				if err != nil {
					errs <- fmt.Errorf("conn %d read: got %q: %w", i, got, err)
					return
				}
				if string(got) != want {
					errs <- fmt.Errorf("conn %d: got %q, want %q", i, got, want)
				}
			}()
		}
		wg.Wait()
		close(errs)
		failed := 0
		for err := range errs {
			if failed < 10 {
				t.Error(err)
			}
			failed++
		}
		if failed > 0 {
			t.Fatalf("%d of %d connections failed", failed, n)
		}
	})
}

// TestTimer: the timer example with TICK_MS=100 prints five ticks, the
// one-off after three ticks' time, and clears its tick after the fifth.
func TestTimer(t *testing.T) {
	t.Parallel()
	eachLang(t, func(t *testing.T, lang string) {
		s := start(t, example(lang, "timer"), runOpts{env: map[string]string{"TICK_MS": "100"}})
		s.waitStdout("clear tick: true")
		s.waitStdout("after 300ms.")
		// A tick that was not cleared would print "#6" 100 ms later; give
		// it several periods.
		time.Sleep(500 * time.Millisecond)
		var ticks []string
		others := map[string]int{}
		for _, l := range strings.Split(strings.TrimSpace(s.stdout.String()), "\n") {
			if strings.HasPrefix(l, "tick-") {
				ticks = append(ticks, l)
			} else {
				others[l]++
			}
		}
		wantTicks := []string{"tick-100ms #1", "tick-100ms #2", "tick-100ms #3", "tick-100ms #4", "tick-100ms #5"}
		if strings.Join(ticks, "|") != strings.Join(wantTicks, "|") {
			t.Errorf("ticks: got %q, want %q", ticks, wantTicks)
		}
		if others["after 300ms."] != 1 || others["clear tick: true"] != 1 || len(others) != 2 {
			t.Errorf("other stdout lines: got %v, want once each: %q, %q", others, "after 300ms.", "clear tick: true")
		}
		out := s.stdout.String()
		if strings.Index(out, "clear tick: true") < strings.Index(out, "tick-100ms #5") {
			t.Errorf("the tick was cleared before its fifth run:\n%s", out)
		}
		// Its TCP side answers with the shared count on either worker:
		// connections alternate between the two.
		workers := map[string]bool{}
		for i := 0; i < 4; i++ {
			c := dial(t, s.addr())
			write(t, c, []byte("ticks"))
			line, err := readLine(c, ioTimeout)
			if err != nil {
				t.Fatalf("ticks query: %q: %v", line, err)
			}
			m := regexp.MustCompile(`^ticks 5 \(worker ([01])\)\n$`).FindStringSubmatch(line)
			if m == nil {
				t.Fatalf("ticks query on connection %d: got %q, want ticks 5", i, line)
			}
			workers[m[1]] = true
		}
		if len(workers) != 2 {
			t.Errorf("the four connections reached workers %v, want both", workers)
		}
	})
}
