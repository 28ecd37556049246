package main

import (
	"bytes"
	"errors"
	"fmt"
	"strconv"
	"time"
)

// The request/reply load generator of the HTTP and WebSocket echo rows,
// the TCP one's threads (a few epoll threads, raw non-blocking reads and
// writes, no goroutine per connection) for protocols with framing:
// every connection keeps exactly one request outstanding, as wrk does, and
// a protocol-specific parser finds where the reply ends in the bytes read
// so far. A request is prepared once per connection and written with a
// single write each time.

// rrConn is one connection of a request/reply row, or of the TCP echo, whose
// request is a batch of messages and whose reply is the same bytes.
type rrConn struct {
	fd   int    // -1 once the connection broke
	out  []byte // one request, ready to write
	want []byte // what the reply must carry (HTTP body, WebSocket payload)
	in   []byte // read buffer
	got  int    // bytes in in
	t0   int64  // when the outstanding request was written
	// cyc, when set, is the requests the connection sends in turn (the
	// data rows): its j-th is for id getOrder(j, t, n).
	cyc  *reqCycle
	t, j int
}

// reqCycle is a data row's requests and replies, by id - 1: the request
// for that id and what its reply's body must be (redis) or hold (sqlite).
type reqCycle struct {
	outs, wants [][]byte
}

// advance makes the connection's next request current.
func (c *rrConn) advance() {
	c.j++
	id := getOrder(c.j, c.t, len(c.cyc.outs))
	c.out, c.want = c.cyc.outs[id-1], c.cyc.wants[id-1]
}

// dataCycle prepares a data section's requests for the Go generator: the
// same paths as the wrk script, with the Go generator's headers.
func dataCycle(sec, host string) *reqCycle {
	n, prefix := sqliteRows, userPath
	if sec == secRedis {
		n, prefix = redisKeys, redisPath
	}
	cyc := &reqCycle{outs: make([][]byte, n), wants: make([][]byte, n)}
	for id := 1; id <= n; id++ {
		cyc.outs[id-1] = httpGet(prefix+strconv.Itoa(id), host)
		if sec == secRedis {
			cyc.wants[id-1] = []byte(redisVal(id))
		} else {
			cyc.wants[id-1] = []byte(strconv.Quote(userOf(id).Email))
		}
	}
	return cyc
}

// replyParser reports how many bytes at the start of b form one whole,
// correct reply to c's request: 0 when more bytes are needed.
type replyParser func(c *rrConn, b []byte) (int, error)

// rrSpec is one request/reply row.
type rrSpec struct {
	conns    int
	threads  int
	warmup   time.Duration
	duration time.Duration
	// dial opens connection i, ready for its first request.
	dial   func(i int) (*rrConn, error)
	parse  replyParser
	dialer int // dials in parallel
	// onMeasure and onDone run when the measured window opens and closes.
	onMeasure func()
	onDone    func()
}

// runRR runs one request/reply row: connect, warm up, measure.
func runRR(spec rrSpec) (*loadResult, error) {
	spec.threads = max(1, min(spec.threads, spec.conns))
	conns := make([]*rrConn, spec.conns)
	dialErr := dialAll(spec.conns, spec.dialer, func(i int) error {
		c, err := spec.dial(i)
		if err != nil {
			return fmt.Errorf("connection %d: %w", i, err)
		}
		conns[i] = c
		return nil
	})
	defer func() {
		for _, c := range conns {
			if c != nil {
				closeFD(&c.fd, true)
			}
		}
	}()
	if dialErr != nil {
		return nil, dialErr
	}

	run := loadRun{rst: true}
	for t := range spec.threads {
		run.start(&loadThread{conns: share(conns, t, spec.threads), parse: spec.parse})
	}
	res := run.measure(spec.warmup, spec.duration, spec.onMeasure, spec.onDone)
	if res.msgs == 0 {
		return res, fmt.Errorf("no reply came back (%s)", orDash(firstN(res.errs, 3)))
	}
	return res, nil
}

func firstN(errs []string, n int) string {
	if len(errs) > n {
		errs = errs[:n]
	}
	var b bytes.Buffer
	for i, e := range errs {
		if i > 0 {
			b.WriteString("; ")
		}
		b.WriteString(e)
	}
	return b.String()
}

const rrMaxBuffer = 1 << 20

// reply reads more of the reply to c's request and, once the reply is
// whole and correct, records its latency and sends the request again.
func (l *loadThread) reply(c *rrConn, ph int32) {
	if c.got == len(c.in) {
		if len(c.in) >= rrMaxBuffer {
			l.fail(&c.fd, "read", fmt.Errorf("no whole reply in %d bytes", c.got))
			return
		}
		c.in = append(c.in, make([]byte, len(c.in))...)
	}
	m := l.read(&c.fd, c.in[c.got:])
	if m == 0 {
		return
	}
	c.got += m
	k, err := l.parse(c, c.in[:c.got])
	if err != nil {
		l.fail(&c.fd, "reply", err)
		return
	}
	if k == 0 {
		return
	}
	if k < c.got {
		l.fail(&c.fd, "reply", fmt.Errorf("%d unexpected bytes after a whole reply: %q", c.got-k, clip(c.in[k:c.got], 80)))
		return
	}
	if ph == phaseMeasure {
		l.msgs++
		l.hist.record(nanotime()-c.t0, 1)
	}
	if c.cyc != nil {
		c.advance()
	}
	l.send(c)
}

func clip(b []byte, n int) []byte {
	if len(b) > n {
		return b[:n]
	}
	return b
}

// HTTP

var crlfcrlf = []byte("\r\n\r\n")

// httpRequest is the hello row's request: a keep-alive GET.
func httpRequest(host string) []byte { return httpGet("/", host) }

// httpGet is the Go generator's keep-alive GET of path.
func httpGet(path, host string) []byte {
	return []byte("GET " + path + " HTTP/1.1\r\nHost: " + host + "\r\nUser-Agent: imscript-bench\r\nAccept: */*\r\n\r\n")
}

// parseHTTPReply accepts one "200" response with a Content-Length body
// equal to c.want, on a connection the server keeps open.
func parseHTTPReply(c *rrConn, b []byte) (int, error) {
	total, _, body, err := splitHTTPReply(b)
	if err != nil || total == 0 {
		return 0, err
	}
	if !bytes.Equal(body, c.want) {
		return 0, fmt.Errorf("body %q, want %q", clip(body, 80), c.want)
	}
	return total, nil
}

// parseHTTPHolding accepts one "200" response with a Content-Length body
// that holds c.want (the sqlite rows: the row's unique email, quoted,
// whatever the JSON encoder's key order and spacing).
func parseHTTPHolding(c *rrConn, b []byte) (int, error) {
	total, _, body, err := splitHTTPReply(b)
	if err != nil || total == 0 {
		return 0, err
	}
	if !bytes.Contains(body, c.want) {
		return 0, fmt.Errorf("body %q does not hold %q", clip(body, 120), c.want)
	}
	return total, nil
}

// splitHTTPReply finds one "200" response with a Content-Length body at
// the start of b, on a connection the server keeps open: its length
// (0 when more bytes are needed), its head (status line and headers,
// each line ending with CRLF) and its body.
func splitHTTPReply(b []byte) (total int, head, body []byte, err error) {
	end := bytes.Index(b, crlfcrlf)
	if end < 0 {
		if len(b) > 64<<10 {
			return 0, nil, nil, errors.New("response header over 64 KiB")
		}
		return 0, nil, nil, nil
	}
	head = b[:end+2]
	if !bytes.HasPrefix(head, []byte("HTTP/1.1 200")) {
		line, _, _ := bytes.Cut(head, []byte("\r\n"))
		return 0, nil, nil, fmt.Errorf("status line %q", line)
	}
	v, ok := headerValue(head, "content-length")
	if !ok {
		if te, ok := headerValue(head, "transfer-encoding"); ok {
			return 0, nil, nil, fmt.Errorf("response without Content-Length (Transfer-Encoding %q)", te)
		}
		return 0, nil, nil, errors.New("response without Content-Length")
	}
	size, err := strconv.Atoi(string(v))
	if err != nil || size < 0 {
		return 0, nil, nil, fmt.Errorf("Content-Length %q", v)
	}
	if cv, ok := headerValue(head, "connection"); ok && equalFoldLower(cv, "close") {
		return 0, nil, nil, errors.New("the server closes the connection (Connection: close)")
	}
	total = end + 4 + size
	if len(b) < total {
		return 0, nil, nil, nil
	}
	return total, head, b[end+4 : total], nil
}

// WebSocket echo

// parseWSEcho accepts one final text frame carrying c.want.
func parseWSEcho(c *rrConn, b []byte) (int, error) {
	f, n, err := parseServerFrame(b)
	if err != nil || n == 0 {
		return 0, err
	}
	switch {
	case f.opcode == opClose:
		return 0, errors.New(closeReason(f.payload))
	case f.opcode != opText || !f.fin:
		return 0, fmt.Errorf("frame opcode %#x fin %v, want a final text frame", f.opcode, f.fin)
	case !bytes.Equal(f.payload, c.want):
		return 0, fmt.Errorf("payload %q, want %q", clip(f.payload, 80), clip(c.want, 80))
	}
	return n, nil
}

// wsEchoPayload is connection i's message: printable ASCII (valid UTF-8).
func wsEchoPayload(i, size int) []byte {
	p := make([]byte, size)
	for j := range p {
		p[j] = byte('!' + (i*7+j*13)%94)
	}
	return p
}
