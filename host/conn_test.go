package host

import (
	"bytes"
	"io"
	"log/slog"
	"math/rand/v2"
	"net"
	"sync"
	"testing"
	"unsafe"

	"github.com/imscript/imscript/script"
)

// fakeTransport records flush requests and never drains by itself.
type fakeTransport struct {
	mu      sync.Mutex
	flushes int
}

func (f *fakeTransport) Flush(*conn) {
	f.mu.Lock()
	f.flushes++
	f.mu.Unlock()
}

func (f *fakeTransport) count() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.flushes
}

func testServer(t *testing.T, m script.Map) *Server {
	t.Helper()
	st, err := parseSettings(m)
	if err != nil {
		t.Fatal(err)
	}
	h := &Host{log: slog.New(slog.NewTextHandler(io.Discard, nil)), workers: []*worker{{id: 0, q: newQueue()}}}
	s := &Server{host: h, key: st.Type + "://test", decl: st, proto: protocols[st.Type]}
	s.obj = &script.Object{Type: serverType, Data: s}
	s.setSettings(st)
	return s
}

func testConn(s *Server, id int64) (*conn, *fakeTransport) {
	ft := &fakeTransport{}
	c := &conn{id: id, srv: s}
	c.x.Store(&connExt{t: ft, remote: &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 40000}})
	c.http = s.proto.newConn(s, c)
	s.host.conns.put(c)
	return c, ft
}

func TestConnSendQueuesAndFlushesOncePerBatch(t *testing.T) {
	s := testServer(t, script.Map{"buffer_output_size": int64(100)})
	c, ft := testConn(s, 1)
	msg := []byte("hello")
	for i := 0; i < 3; i++ {
		if ok, why := c.Send(msg); !ok {
			t.Fatalf("send %d: %s", i, why)
		}
	}
	// The caller's buffer is copied.
	msg[0] = 'J'
	if ft.count() != 1 {
		t.Errorf("%d flushes for one batch, want 1", ft.count())
	}
	out, closeAfter := c.takeOutput()
	if string(out) != "hellohellohello" || closeAfter {
		t.Errorf("takeOutput = %q, %v", out, closeAfter)
	}
	if ok, _ := c.Send([]byte("x")); !ok || ft.count() != 2 {
		t.Errorf("a send after the transport took the output must flush again (%d flushes)", ft.count())
	}
	if got := s.bytesOut.Load(); got != 16 {
		t.Errorf("bytes_out %d, want 16", got)
	}
}

func TestConnSendPastBufferOutputSize(t *testing.T) {
	s := testServer(t, script.Map{"buffer_output_size": int64(10)})
	c, ft := testConn(s, 1)
	if ok, why := c.Send(bytes.Repeat([]byte{'a'}, 10)); !ok {
		t.Fatalf("exactly the limit: %s", why)
	}
	ok, why := c.Send([]byte{'b'})
	if ok || why != "output buffer full" {
		t.Fatalf("past the limit: %v %q, want false \"output buffer full\"", ok, why)
	}
	if c.Open() {
		t.Error("the connection is still open after overflowing its buffer")
	}
	if ok, why := c.Send([]byte{'c'}); ok || why != "connection closed" {
		t.Errorf("after the overflow: %v %q, want false \"connection closed\"", ok, why)
	}
	out, closeAfter := c.takeOutput()
	if string(out) != "aaaaaaaaaa" || !closeAfter {
		t.Errorf("takeOutput = %q, closeAfter %v; want the accepted bytes and a close", out, closeAfter)
	}
	if ft.count() != 1 {
		t.Errorf("%d flushes, want 1", ft.count())
	}
	if got := s.bytesOut.Load(); got != 10 {
		t.Errorf("bytes_out %d, want only the 10 accepted", got)
	}
	// Through the server API: the same answers.
	if ok, why := s.send(nil, 1, []byte("x")); ok || why != "connection closed" {
		t.Errorf("srv.Send: %v %q", ok, why)
	}
}

func TestConnBoundCountsQueuedBytesOnly(t *testing.T) {
	s := testServer(t, script.Map{"buffer_output_size": int64(10)})
	c, _ := testConn(s, 1)
	for i := 0; i < 5; i++ {
		if ok, why := c.Send(bytes.Repeat([]byte{'a'}, 8)); !ok {
			t.Fatalf("round %d: %s", i, why)
		}
		out, _ := c.takeOutput()
		c.recycle(out)
	}
	// A single send larger than the bound can never fit.
	if ok, _ := c.Send(make([]byte, 11)); ok {
		t.Error("an 11-byte send passed a 10-byte bound")
	}
}

func TestConnRecycle(t *testing.T) {
	s := testServer(t, script.Map{})
	c, _ := testConn(s, 1)
	// The first write's slice (a handshake's answer) is not kept: a
	// connection that goes idle after it holds no buffer.
	c.Send([]byte("101"))
	first, _ := c.takeOutput()
	c.recycle(first)
	c.mu.Lock()
	kept := c.o != nil
	c.mu.Unlock()
	if kept {
		t.Error("the first write's slice (or its connOut) was kept")
	}
	c.Send([]byte("abc"))
	out, _ := c.takeOutput()
	c.recycle(out)
	c.Send([]byte("de"))
	again, _ := c.takeOutput()
	if string(again) != "de" || &again[0] != &out[0] {
		t.Error("the written slice was not reused")
	}
	// Large slices are dropped, not kept by idle connections.
	big := make([]byte, 0, 128<<10)
	c.recycle(big)
	c.mu.Lock()
	kept = c.o != nil
	c.mu.Unlock()
	if kept {
		t.Error("a 128 KiB slice (or its connOut) was kept for reuse")
	}
}

func TestConnClose(t *testing.T) {
	s := testServer(t, script.Map{})
	c, ft := testConn(s, 1)
	c.Send([]byte("bye"))
	if !c.Close() {
		t.Fatal("Close of an open connection returned false")
	}
	if c.Close() {
		t.Error("a second Close returned true")
	}
	if ft.count() != 1 {
		t.Errorf("%d flushes, want 1 (the send's flush carries the close)", ft.count())
	}
	out, closeAfter := c.takeOutput()
	if string(out) != "bye" || !closeAfter {
		t.Errorf("takeOutput = %q, %v; want the pending bytes, then close", out, closeAfter)
	}
	if ok, why := c.Send([]byte("late")); ok || why != "connection closed" {
		t.Errorf("send after close: %v %q", ok, why)
	}
	c.markClosed()
	if c.Open() || c.Close() {
		t.Error("a closed connection reports open or closes again")
	}
}

func TestServerConnLookup(t *testing.T) {
	s := testServer(t, script.Map{"port": int64(0)})
	other := testServer(t, script.Map{})
	other.host = s.host
	c, _ := testConn(s, 7)
	c.openedAt = 1700000000
	c.lastTime.Store(1700000005000)
	oc, _ := testConn(other, 8)
	if s.conn(7) != c || s.conn(8) != nil || s.conn(9) != nil {
		t.Error("Server.conn must find only its own live connections")
	}
	if ok, why := s.send(nil, 8, []byte("x")); ok || why != "no such connection" {
		t.Errorf("send to another server's fd: %v %q", ok, why)
	}
	if got := s.connections(); len(got) != 1 || got[0] != 7 {
		t.Errorf("connections %v, want [7]", got)
	}
	oc.markClosed()
	if got := other.connections(); len(got) != 0 {
		t.Errorf("a closed connection is listed: %v", got)
	}
	info := s.info(7)
	want := script.Map{"fd": int64(7), "remote_ip": "127.0.0.1", "remote_port": int64(40000), "server_port": int64(0),
		"connect_time": int64(1700000000), "last_time": int64(1700000005), "worker_id": int64(0), "uid": nil}
	for k, v := range want {
		if info[k] != v {
			t.Errorf("info[%s] = %#v, want %#v", k, info[k], v)
		}
	}
	if s.info(8) != nil {
		t.Error("info of another server's fd")
	}
}

func TestConnTable(t *testing.T) {
	var tab connTable
	s := testServer(t, script.Map{})
	var wg sync.WaitGroup
	for g := 0; g < 4; g++ {
		wg.Add(1)
		go func(g int) {
			defer wg.Done()
			for i := 0; i < 500; i++ {
				id := int64(g*1000 + i)
				tab.put(&conn{id: id, srv: s})
				if tab.get(id) == nil {
					t.Errorf("fd %d missing right after put", id)
				}
				if i%2 == 1 {
					tab.del(id)
				}
			}
		}(g)
	}
	wg.Wait()
	n := 0
	tab.each(func(c *conn) {
		n++
		if c.id%2 == 1 {
			t.Errorf("deleted fd %d still listed", c.id)
		}
	})
	if n != 1000 {
		t.Errorf("%d connections listed, want 1000", n)
	}
}

// The table agrees with a map through runs of puts and deletes that grow
// and shrink its shards, ids in order (as the host hands them out) and
// scattered.
func TestConnTableModel(t *testing.T) {
	var tab connTable
	model := map[int64]*conn{}
	rng := rand.New(rand.NewPCG(1, 2))
	next := int64(0)
	check := func(step int) {
		t.Helper()
		for id, c := range model {
			if tab.get(id) != c {
				t.Fatalf("step %d: fd %d not found", step, id)
			}
		}
		n := 0
		tab.each(func(c *conn) {
			n++
			if model[c.id] != c {
				t.Fatalf("step %d: fd %d listed, not in the model", step, c.id)
			}
		})
		if n != len(model) {
			t.Fatalf("step %d: %d listed, want %d", step, n, len(model))
		}
	}
	for step := 0; step < 40000; step++ {
		switch {
		case step%10000 < 6000 && rng.IntN(3) > 0, len(model) == 0:
			next++
			id := next
			if rng.IntN(4) == 0 {
				id = rng.Int64N(1 << 20)
			}
			c := &conn{id: id}
			tab.put(c)
			model[id] = c
		default:
			id := rng.Int64N(next + 1)
			if rng.IntN(2) == 0 {
				for k := range model {
					id = k
					break
				}
			}
			tab.del(id)
			delete(model, id)
			if tab.get(id) != nil {
				t.Fatalf("step %d: fd %d found after del", step, id)
			}
		}
		if step%997 == 0 {
			check(step)
		}
	}
	check(-1)
	for id := range model {
		tab.del(id)
	}
	for i := range tab.shards {
		if s := &tab.shards[i]; s.n != 0 || len(s.slots) > 8 {
			t.Errorf("shard %d: %d entries in %d slots after deleting all", i, s.n, len(s.slots))
		}
	}
}

// fakeSocket is a directWriter that takes at most room bytes a write.
type fakeSocket struct {
	room int
	got  []byte
}

// directFake is a transport that can also write from any goroutine.
type directFake struct {
	*fakeTransport
	*fakeSocket
}

func (f *fakeSocket) writeNow(b []byte) (int, error) {
	n := min(len(b), f.room)
	f.got = append(f.got, b[:n]...)
	return n, nil
}

// TestConnWorkerWritesInOrder: what a connection's own worker sends is
// written by the worker after its batch (no flush request to the
// transport) while nothing else of the connection's output is pending;
// once the socket took only part, or the transport holds output it has
// not written, everything goes the transport's way until it says it has
// drained, so no byte overtakes another. Other workers always queue.
func TestConnWorkerWritesInOrder(t *testing.T) {
	s := testServer(t, script.Map{"buffer_output_size": int64(100)})
	c, ft := testConn(s, 1)
	w := c.worker()
	sock := &fakeSocket{room: 100}
	c.x.Load().t, c.clean = directFake{ft, sock}, true
	send := func(from *worker, b string) {
		t.Helper()
		if ok, why := c.sendFrom(from, nil, []byte(b)); !ok {
			t.Fatalf("send %q: %s", b, why)
		}
	}
	check := func(step, sent string, flushes int) {
		t.Helper()
		if string(sock.got) != sent || ft.count() != flushes {
			t.Fatalf("%s: socket got %q with %d flush requests; want %q and %d", step, sock.got, ft.count(), sent, flushes)
		}
	}

	send(w, "a")
	send(w, "b")
	check("before the batch ends", "", 0)
	w.flushOutput()
	check("after the batch", "ab", 0)

	sock.room = 2
	send(w, "cccc")
	w.flushOutput()
	check("a partial write", "abcc", 1)
	send(w, "d") // queued behind the rest
	out, _ := c.takeOutput()
	if string(out) != "ccd" {
		t.Fatalf("the transport took %q, want %q", out, "ccd")
	}
	c.written(out, false) // it holds some of it still

	sock.room = 100
	send(w, "e")
	w.flushOutput()
	check("while the transport holds output", "abcc", 2)
	out, _ = c.takeOutput()
	c.written(out, true) // drained
	send(w, "f")
	w.flushOutput()
	check("once it drained", "abccf", 2)

	other := &worker{id: 1, q: newQueue()}
	send(other, "g")
	check("from another worker", "abccf", 3)
	out, _ = c.takeOutput()
	c.written(out, true)

	send(w, "h")
	c.Close()
	w.flushOutput()
	check("closing", "abccf", 4)
	if out, closeAfter := c.takeOutput(); string(out) != "h" || !closeAfter {
		t.Fatalf("closing: the transport took %q, close %v; want %q and a close", out, closeAfter, "h")
	}
}

// An idle connection costs its size class: conn must stay within 80
// bytes (what only some connections use hangs off nil pointers).
func TestConnSize(t *testing.T) {
	if n := unsafe.Sizeof(conn{}); n > 80 {
		t.Errorf("conn is %d bytes, want at most 80", n)
	}
}

// idv is the id as a script value: an int64 equal to it.
func TestConnIDValue(t *testing.T) {
	for _, id := range []int64{1, 255, 256, 1 << 40} {
		c := &conn{id: id}
		v, ok := c.idv().(int64)
		if !ok || v != id || c.idv() != script.Value(id) {
			t.Errorf("idv of %d = %#v", id, c.idv())
		}
	}
}
