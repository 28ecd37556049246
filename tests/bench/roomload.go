package main

import (
	"bytes"
	"errors"
	"fmt"
	"net/netip"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/sys/unix"
)

// The room broadcast load: clients WebSocket connections, all in one room
// on the server; senders of them send text messages at a fixed total rate
// and the server sends each message to every client, the sender too. A
// message carries its sequence number and the time it was written, so
// every delivery yields one end-to-end latency, and counting deliveries per
// sequence number after a drain period gives the lost (and duplicated)
// ones. Readers are a few epoll threads over all the connections; the
// senders' writes come from one pacing goroutine.
//
// Payload, ASCII: kind byte ('P' probe, 'W' warm-up, 'M' measured), 8 hex
// digits of sequence number, 16 hex digits of send time (ns since the
// bench's clock base), the sending client's node (one decimal digit: the
// index of its address in roomSpec.addrs), '.' padding up to the message
// size.
//
// The clients may be spread over several servers (the nodes of a
// cluster): client i connects to addrs[i % len(addrs)], so a client's node
// is known, and with split the latency of every delivery is also counted
// apart by whether the receiving client is on the sender's node.
//
// Two protocols: raw (the message is the frame's whole payload, as the
// bench's own room servers send it) and Centrifugo's JSON protocol
// (roomCentrifugo): a client connects and subscribes to the channel
// "room" with commands, a sender publishes with a command whose data is
// the payload as a JSON string, and a delivery is a push whose pub.data
// holds it.

const roomHeader = 1 + 8 + 16 + 1

// roomProto is the clients' protocol.
type roomProto int

const (
	roomRaw        roomProto = iota // the payload is the whole text frame
	roomCentrifugo                  // Centrifugo's JSON protocol over /connection/websocket
)

// roomSpec is one broadcast row.
type roomSpec struct {
	addrs    []netip.AddrPort // client i connects to addrs[i%len(addrs)]
	proto    roomProto
	clients  int
	senders  int
	threads  int
	size     int
	rate     float64 // messages per second in, all senders together
	warmup   time.Duration
	duration time.Duration
	drain    time.Duration // longest wait for late deliveries after sending stops
	// joinWait is how long the probes may take to reach every client (0:
	// about 11 s, one probe a second).
	joinWait time.Duration
	// split also counts each delivery's latency by whether the receiving
	// client is on the sender's node (roomLoad.inNode, crossNode).
	split bool
	// onMeasure runs when the measured sending starts; onSent when it ends;
	// onDone when the drain is over.
	onMeasure, onSent, onDone func()
}

// roomLoad is what one broadcast row measured.
type roomLoad struct {
	sent       int           // measured messages written
	expected   uint64        // sent × clients
	received   uint64        // measured deliveries, after the drain
	inWindow   uint64        // measured deliveries that arrived while sending
	window     time.Duration // how long the measured sending took
	drained    time.Duration // how long the drain took
	lost, dups uint64
	hist       *logHist
	// with roomSpec.split: the deliveries to clients on the sender's node,
	// and to clients on other nodes
	inNode, crossNode *logHist
	broken            int
	errs              []string
	lagging           time.Duration // how far the sender fell behind its schedule
	joinedIn          time.Duration // from the first probe until one reached every client
}

type roomConn struct {
	fd   int // -1 once the connection broke
	key  [4]byte
	node int // index of its server in roomSpec.addrs
	in   []byte
	got  int
	// wmu serialises writes: the sender's, and the reader's answers to
	// Centrifugo's pings.
	wmu sync.Mutex
}

// write writes b whole on the connection, under its write lock.
func (c *roomConn) write(b []byte) error {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	if c.fd < 0 {
		return errors.New("the connection broke")
	}
	return writeFull(c.fd, b)
}

// roomReader is one epoll thread reading its share of the connections.
type roomReader struct {
	poller
	conns    []*roomConn
	stop     *atomic.Bool
	counts   []uint32 // measured deliveries per sequence number
	probes   *[maxProbes]atomic.Int32
	received atomic.Uint64 // measured deliveries so far
	frames   atomic.Uint64 // frames of any kind so far
	hist     logHist
	size     int
	proto    roomProto
	split    bool
	inNode   logHist // with split
	cross    logHist
}

// runRoom connects the clients, waits until all of them are in the room
// (a probe message reaches every client), then warms up, measures and
// drains.
func runRoom(spec roomSpec) (*roomLoad, error) {
	if spec.size < roomHeader {
		spec.size = roomHeader
	}
	conns := make([]*roomConn, spec.clients)
	defer func() {
		for _, c := range conns {
			if c != nil {
				closeFD(&c.fd, true)
			}
		}
	}()
	if len(spec.addrs) == 0 || len(spec.addrs) > 10 {
		return nil, fmt.Errorf("%d server addresses: want 1 to 10", len(spec.addrs))
	}
	if err := dialRoom(spec.addrs, spec.proto, conns, 16); err != nil {
		return nil, err
	}
	maxSeq := int(spec.rate*spec.duration.Seconds()*1.1) + 16
	var stop atomic.Bool
	var probes [maxProbes]atomic.Int32
	threads := max(1, min(spec.threads, spec.clients))
	readers := make([]*roomReader, threads)
	var wg sync.WaitGroup
	for t := range readers {
		r := &roomReader{poller: poller{rst: true}, conns: share(conns, t, threads), stop: &stop,
			counts: make([]uint32, maxSeq), probes: &probes, size: spec.size, proto: spec.proto, split: spec.split}
		readers[t] = r
		wg.Go(r.run)
	}
	defer func() {
		stop.Store(true)
		wg.Wait()
	}()
	senders := make([]*roomConn, max(1, min(spec.senders, spec.clients)))
	for i := range senders {
		senders[i] = conns[i*spec.clients/len(senders)]
	}
	s := &roomSender{size: spec.size, proto: spec.proto, buf: make([]byte, 0, spec.size+64)}

	// Every client must be in the room before the count starts: the server
	// may run the join after the handshake's answer, and in a cluster the
	// other nodes learn of a node's members after a while. A probe a
	// second, until one reaches every client or joinWait is over.
	joinWait := spec.joinWait
	if joinWait <= 0 {
		joinWait = 11 * time.Second
	}
	joined := false
	probeStart := time.Now()
	for id := 0; id < len(probes) && !joined; id++ {
		if err := s.send(senders[0], 'P', uint32(id)); err != nil {
			return nil, fmt.Errorf("probe: %w", err)
		}
		deadline := time.Now().Add(time.Second)
		for time.Now().Before(deadline) {
			if int(probes[id].Load()) >= spec.clients {
				joined = true
				break
			}
			time.Sleep(5 * time.Millisecond)
		}
		if !joined && time.Since(probeStart) >= joinWait {
			return nil, fmt.Errorf("after %d probes in %s the last reached %d of %d clients (%s)", id+1, time.Since(probeStart).Round(time.Millisecond),
				probes[id].Load(), spec.clients, orDash(readerErrs(readers)))
		}
	}
	if !joined {
		return nil, errors.New("no probe reached every client")
	}

	res := &roomLoad{joinedIn: time.Since(probeStart)}
	if spec.warmup > 0 {
		if _, err := s.pace(senders, spec.rate, spec.warmup, 'W', 1<<31); err != nil {
			return nil, fmt.Errorf("warm-up: %w", err)
		}
	}
	if spec.onMeasure != nil {
		spec.onMeasure()
	}
	start := time.Now()
	lag, err := s.pace(senders, spec.rate, spec.duration, 'M', maxSeq)
	res.window = time.Since(start)
	res.lagging = lag
	for _, r := range readers {
		res.inWindow += r.received.Load()
	}
	if spec.onSent != nil {
		spec.onSent()
	}
	res.sent = s.sent
	res.expected = uint64(s.sent) * uint64(spec.clients)
	if err != nil {
		res.errs = append(res.errs, "send: "+err.Error())
	}
	// Drain: until everything arrived, nothing arrived for a second, or
	// the drain time is over.
	drainStart := time.Now()
	last, lastAt := uint64(0), time.Now()
	for {
		var got, frames uint64
		for _, r := range readers {
			got += r.received.Load()
			frames += r.frames.Load()
		}
		if frames != last {
			last, lastAt = frames, time.Now()
		}
		if got >= res.expected || time.Since(lastAt) > time.Second || time.Since(drainStart) > spec.drain {
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	res.drained = time.Since(drainStart)
	if spec.onDone != nil {
		spec.onDone()
	}
	stop.Store(true)
	wg.Wait()

	res.hist = &logHist{}
	if spec.split {
		res.inNode, res.crossNode = &logHist{}, &logHist{}
	}
	total := make([]uint32, maxSeq)
	for _, r := range readers {
		res.hist.merge(&r.hist)
		if spec.split {
			res.inNode.merge(&r.inNode)
			res.crossNode.merge(&r.cross)
		}
		for i, n := range r.counts {
			total[i] += n
		}
		res.errs = append(res.errs, r.errs...)
		res.broken += r.broken
	}
	for seq := 0; seq < s.sent; seq++ {
		n := uint64(total[seq])
		res.received += n
		if n < uint64(spec.clients) {
			res.lost += uint64(spec.clients) - n
		} else {
			res.dups += n - uint64(spec.clients)
		}
	}
	return res, nil
}

func readerErrs(rs []*roomReader) string {
	var all []string
	for _, r := range rs {
		all = append(all, r.errs...)
	}
	return firstN(all, 3)
}

// maxProbes bounds the probes of one row (one a second).
const maxProbes = 256

// centPath is where Centrifugo serves WebSocket clients.
const centPath = "/connection/websocket"

// dialRoom opens and upgrades every connection, par at a time: client i
// to addrs[i%len(addrs)]. With Centrifugo's protocol each client then
// sends its connect and subscribe commands (their replies are read with
// everything else).
func dialRoom(addrs []netip.AddrPort, proto roomProto, conns []*roomConn, par int) error {
	path, bufSize := "/", 16<<10
	if proto == roomCentrifugo {
		// Centrifugo writes several replies and pushes in one frame when
		// they queue up.
		path, bufSize = centPath, 64<<10
	}
	return dialAll(len(conns), par, func(i int) error {
		node := i % len(addrs)
		fd, rest, err := wsDialPath(addrs[node], path, 10*time.Second)
		if err == nil && len(rest) > 0 {
			_ = unix.Close(fd)
			err = fmt.Errorf("%d bytes before the first message: %q", len(rest), clip(rest, 40))
		}
		if err != nil {
			return fmt.Errorf("client %d (node %d): %w", i, node, err)
		}
		c := &roomConn{fd: fd, node: node, in: make([]byte, bufSize)}
		c.key = [4]byte{byte(i), byte(i >> 8), 0x5A, 0xC3}
		conns[i] = c
		if proto == roomCentrifugo {
			if err := c.write(appendMasked(nil, opText, []byte(centConnect), c.key)); err != nil {
				return fmt.Errorf("client %d: connect command: %w", i, err)
			}
			if err := c.write(appendMasked(nil, opText, []byte(centSubscribe), c.key)); err != nil {
				return fmt.Errorf("client %d: subscribe command: %w", i, err)
			}
		}
		return nil
	})
}

// Centrifugo's commands (JSON protocol): connect without a token (the
// bench's config allows anonymous clients), subscribe to "room", and the
// head and tail of a publication to it around the payload, a JSON string.
// Commands 1 and 2 are every client's; a publication's id is 3 and up.
const (
	centConnect     = `{"id":1,"connect":{}}`
	centSubscribe   = `{"id":2,"subscribe":{"channel":"room"}}`
	centPublishHead = `,"publish":{"channel":"room","data":"`
	centPublishTail = `"}}`
)

// roomSender writes the messages of one row, paced, from one goroutine.
type roomSender struct {
	size  int
	proto roomProto
	buf   []byte
	pay   []byte
	cmd   []byte // Centrifugo: the publish command around the payload
	id    uint64 // Centrifugo: the last command id used
	sent  int    // measured messages written
}

// send writes one message of kind k with sequence number seq on c.
func (s *roomSender) send(c *roomConn, k byte, seq uint32) error {
	if c.fd < 0 {
		return errors.New("the sending connection broke")
	}
	if s.pay == nil {
		s.pay = make([]byte, s.size)
		for i := range s.pay {
			s.pay[i] = '.'
		}
	}
	p := s.pay
	p[0] = k
	hex8(p[1:9], uint64(seq))
	p[25] = byte('0' + c.node)
	hex16(p[9:25], uint64(nanotime()))
	if s.proto == roomCentrifugo {
		if s.id < 2 {
			s.id = 2
		}
		s.id++
		s.cmd = append(strconv.AppendUint(append(s.cmd[:0], `{"id":`...), s.id, 10), centPublishHead...)
		s.cmd = append(append(s.cmd, p...), centPublishTail...)
		p = s.cmd
	}
	s.buf = appendMasked(s.buf[:0], opText, p, c.key)
	return c.write(s.buf)
}

// pace sends messages of kind k at rate per second, round-robin over the
// senders, for d. A late sender catches up (sends what was due at once)
// and reports how far behind it fell. Measured messages are numbered from
// 0 and limited to maxSeq.
func (s *roomSender) pace(senders []*roomConn, rate float64, d time.Duration, k byte, maxSeq int) (time.Duration, error) {
	interval := time.Duration(float64(time.Second) / rate)
	start := time.Now()
	total := int(d / interval)
	var lag time.Duration
	for i := 0; i < total; i++ {
		due := start.Add(time.Duration(i) * interval)
		if w := time.Until(due); w > 0 {
			time.Sleep(w)
		} else {
			lag = max(lag, -w)
		}
		seq := uint32(i)
		if k == 'M' {
			if s.sent >= maxSeq {
				break
			}
			seq = uint32(s.sent)
		}
		if err := s.send(senders[i%len(senders)], k, seq); err != nil {
			return lag, err
		}
		if k == 'M' {
			s.sent++
		}
	}
	return lag, nil
}

// writeFull writes all of b to a non-blocking descriptor, waiting for room
// in the socket buffer when it is full.
func writeFull(fd int, b []byte) error {
	for len(b) > 0 {
		n, err := unix.Write(fd, b)
		switch {
		case err == unix.EINTR:
			continue
		case err == unix.EAGAIN:
			time.Sleep(100 * time.Microsecond)
			continue
		case err != nil:
			return err
		}
		b = b[n:]
	}
	return nil
}

// appendMasked appends one final masked client frame (payload < 64 KiB).
func appendMasked(f []byte, opcode byte, payload []byte, key [4]byte) []byte {
	f = append(f, 0x80|opcode)
	if n := len(payload); n < 126 {
		f = append(f, 0x80|byte(n))
	} else {
		f = append(f, 0x80|126, byte(n>>8), byte(n))
	}
	f = append(f, key[:]...)
	for i, c := range payload {
		f = append(f, c^key[i&3])
	}
	return f
}

const hexDigits = "0123456789abcdef"

func hex8(b []byte, v uint64) {
	for i := 7; i >= 0; i-- {
		b[i] = hexDigits[v&15]
		v >>= 4
	}
}

func hex16(b []byte, v uint64) {
	for i := 15; i >= 0; i-- {
		b[i] = hexDigits[v&15]
		v >>= 4
	}
}

func unhex(b []byte) (uint64, bool) {
	var v uint64
	for _, c := range b {
		switch {
		case '0' <= c && c <= '9':
			v = v<<4 | uint64(c-'0')
		case 'a' <= c && c <= 'f':
			v = v<<4 | uint64(c-'a'+10)
		default:
			return 0, false
		}
	}
	return v, true
}

func (r *roomReader) run() {
	if !r.open() {
		return
	}
	defer r.close()
	for i, c := range r.conns {
		r.add(i, &c.fd)
	}
	for !r.stop.Load() {
		events, ok := r.wait(50)
		if !ok {
			return
		}
		var got, frames uint64
		for _, ev := range events {
			c := r.conns[ev.Fd]
			if c.fd < 0 {
				continue
			}
			m := r.read(&c.fd, c.in[c.got:])
			if m == 0 {
				continue
			}
			c.got += m
			k, delivered, nf, err := r.parseFrames(c, c.in[:c.got])
			got += delivered
			frames += nf
			if err != nil {
				c.wmu.Lock() // not while the sender writes on it
				r.fail(&c.fd, "frame", err)
				c.wmu.Unlock()
				continue
			}
			c.got = copy(c.in, c.in[k:c.got])
		}
		if got > 0 {
			r.received.Add(got)
		}
		if frames > 0 {
			r.frames.Add(frames)
		}
	}
}

// parseFrames handles the whole frames at the start of b (read from c)
// and reports how many bytes they took, how many measured deliveries they
// held and how many frames there were.
func (r *roomReader) parseFrames(c *roomConn, b []byte) (at int, delivered, nf uint64, err error) {
	now := nanotime()
	for {
		f, n, err := parseServerFrame(b[at:])
		if err != nil {
			return at, delivered, nf, err
		}
		if n == 0 {
			if at == 0 && len(b) == cap(b) {
				return 0, delivered, nf, fmt.Errorf("frame larger than the %d-byte buffer", len(b))
			}
			return at, delivered, nf, nil
		}
		at += n
		nf++
		switch {
		case f.opcode == opClose:
			return at, delivered, nf, errors.New(closeReason(f.payload))
		case f.opcode != opText || !f.fin:
			return at, delivered, nf, fmt.Errorf("frame opcode %#x fin %v, want final text frames", f.opcode, f.fin)
		}
		if r.proto == roomCentrifugo {
			d, err := r.centFrame(c, f.payload, now)
			delivered += d
			if err != nil {
				return at, delivered, nf, err
			}
			continue
		}
		d, err := r.deliver(c, f.payload, now)
		if err != nil {
			return at, delivered, nf, err
		}
		if d {
			delivered++
		}
	}
}

// deliver counts one message p that reached client c at now, and reports
// whether it was a measured one.
func (r *roomReader) deliver(c *roomConn, p []byte, now int64) (bool, error) {
	if len(p) != r.size {
		return false, fmt.Errorf("message of %d bytes, want %d: %q", len(p), r.size, clip(p, 40))
	}
	seq, ok1 := unhex(p[1:9])
	ts, ok2 := unhex(p[9:25])
	if !ok1 || !ok2 {
		return false, fmt.Errorf("message %q is not the bench's", clip(p, 40))
	}
	switch p[0] {
	case 'M':
		if seq >= uint64(len(r.counts)) {
			return false, fmt.Errorf("sequence number %d out of range", seq)
		}
		r.counts[seq]++
		lat := now - int64(ts)
		r.hist.record(lat)
		if r.split {
			if int(p[25])-'0' == c.node {
				r.inNode.record(lat)
			} else {
				r.cross.record(lat)
			}
		}
		return true, nil
	case 'P':
		if seq < uint64(len(r.probes)) {
			r.probes[seq].Add(1)
		}
	case 'W':
	default:
		return false, fmt.Errorf("message kind %q", p[0])
	}
	return false, nil
}

var (
	centPing     = []byte("{}")
	centPushHead = []byte(`{"push":`)
	centPubData  = []byte(`"pub":{"data":"`)
	centError    = []byte(`"error":`)
)

// centFrame handles one text frame from Centrifugo: newline-separated
// replies and pushes. A ping (an empty object) is answered with a pong;
// a publication's data is the bench's message, as a JSON string; an
// error reply (to connect, subscribe or publish) or a disconnect push
// breaks the connection; other replies and pushes are ignored.
func (r *roomReader) centFrame(c *roomConn, b []byte, now int64) (delivered uint64, err error) {
	for len(b) > 0 {
		line := b
		if i := bytes.IndexByte(b, '\n'); i >= 0 {
			line, b = b[:i], b[i+1:]
		} else {
			b = nil
		}
		switch {
		case len(line) == 0:
		case bytes.Equal(line, centPing):
			if err := c.write(appendMasked(nil, opText, centPing, c.key)); err != nil {
				return delivered, fmt.Errorf("pong: %w", err)
			}
		case bytes.HasPrefix(line, centPushHead):
			i := bytes.Index(line, centPubData)
			if i < 0 {
				if bytes.Contains(line, []byte(`"disconnect"`)) {
					return delivered, fmt.Errorf("Centrifugo disconnected the client: %s", clip(line, 120))
				}
				continue // join, leave, ...
			}
			p := line[i+len(centPubData):]
			j := bytes.IndexByte(p, '"')
			if j < 0 {
				return delivered, fmt.Errorf("publication without a string data: %q", clip(line, 80))
			}
			d, err := r.deliver(c, p[:j], now)
			if err != nil {
				return delivered, err
			}
			if d {
				delivered++
			}
		case bytes.Contains(line, centError):
			return delivered, fmt.Errorf("Centrifugo answered %s", clip(line, 120))
		}
	}
	return delivered, nil
}
