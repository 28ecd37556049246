package host

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"sort"
	"strings"
	"syscall"
	"time"

	"github.com/imscript/imscript/host/internal/wire/framing"
	"github.com/imscript/imscript/script"
)

// Outbound clients: imscript.client{ type = "tcp"|"udp", host =, port =,
// timeout =, ...framing settings }. A client belongs to the script instance
// that created it: its events (connect, receive, error, close) run on that
// instance's worker, in order, and a reload closes it with the instance
// (the new version of the script makes its own clients).
//
// TCP connections run on a gnet client engine shared by the process (no
// goroutine per connection once connected; the dial itself runs on a
// short-lived goroutine). UDP uses a connected net.UDPConn with one reader
// goroutine per client.

// defaultClientTimeout is the connect timeout when the script gives none.
const defaultClientTimeout = 5 * time.Second

// Client events, in the order of clientEventNames.
const (
	ceConnect = iota
	ceReceive
	ceError
	ceClose
	numClientEvents
)

var clientEventNames = [numClientEvents]string{"connect", "receive", "error", "close"}

// clientSettingNames are the keys imscript.client accepts besides the
// framing settings, which it shares with servers.
var clientSettingNames = map[string]bool{
	"type": true, "host": true, "port": true, "timeout": true,
	"open_length_check": true, "package_length_type": true, "package_length_offset": true, "package_body_offset": true,
	"open_eof_check": true, "open_eof_split": true, "package_eof": true,
	"package_max_length": true, "buffer_output_size": true,
}

type clientState uint8

const (
	clientIdle clientState = iota
	clientConnecting
	clientConnected
	clientClosing
	clientClosed
)

// Client is one imscript.client object. Every field is touched only by
// the worker of the instance that created it; the connection (link)
// reports back through Instance.Post.
type Client struct {
	inst    *Instance
	obj     *script.Object
	kind    string // "tcp" or "udp"
	host    string
	port    int
	timeout time.Duration
	st      *Settings
	f       *framing.Framer

	on    [numClientEvents]script.Callback
	state clientState
	cur   clientLink // the current connection, nil when idle or closed
	// release ends the instance's ownership of the connection (Own), so
	// that a reload closes a client only while it is connected.
	release func()
}

// clientLink is one connection of a client (each connect() makes a new
// one): the transport side, safe to call from the worker.
type clientLink interface {
	// send queues b (copied) for writing.
	send(b []byte) (bool, string)
	// close writes what is queued, then closes; a close event follows.
	close()
	// abort closes at once and reports nothing (the instance is gone or
	// the script closed a connection still being made).
	abort()
}

var clientType = &script.Type{
	Name: "client",
	Props: map[string]func(o *script.Object) script.Value{
		"type": func(o *script.Object) script.Value { return o.Data.(*Client).kind },
		"host": func(o *script.Object) script.Value { return o.Data.(*Client).host },
		"port": func(o *script.Object) script.Value { return int64(o.Data.(*Client).port) },
	},
}

func init() {
	clientType.Methods = map[string]script.Function{
		"on":          cliOn,
		"connect":     cliConnect,
		"send":        cliSend,
		"close":       cliClose,
		"isConnected": cliIsConnected,
	}
}

// apiClient is imscript.client{...}.
func apiClient(c script.Call) {
	m := c.Table(0, "settings")
	cli, err := newClient(instOf(c), m)
	if err != nil {
		script.Usagef("imscript.client: %v", err)
	}
	c.Return(cli.obj)
}

func newClient(inst *Instance, m script.Map) (*Client, error) {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	rest := script.Map{}
	timeout := defaultClientTimeout
	for _, k := range keys {
		if !clientSettingNames[k] {
			return nil, fmt.Errorf("unknown setting %q", k)
		}
		if k == "timeout" {
			secs, err := settingFloat(k, m[k])
			if err != nil {
				return nil, err
			}
			timeout = clientSeconds(secs)
			continue
		}
		rest[k] = m[k]
	}
	if t, _ := rest["type"].(string); t == "udp" && (rest["open_length_check"] == true || rest["open_eof_check"] == true || rest["open_eof_split"] == true) {
		return nil, errors.New("framing settings apply to tcp clients, not udp")
	}
	if _, ok := rest["host"]; !ok {
		rest["host"] = "127.0.0.1"
	}
	st, err := ParseSettings(rest)
	if err != nil {
		return nil, err
	}
	if st.Type != "tcp" && st.Type != "udp" {
		return nil, fmt.Errorf("setting type: %q is not a client type (tcp, udp)", st.Type)
	}
	cli := &Client{
		inst:    inst,
		kind:    st.Type,
		host:    st.Host,
		port:    st.Port,
		timeout: timeout,
		st:      st,
		f:       newFramer(st),
	}
	cli.obj = &script.Object{Type: clientType, Data: cli}
	return cli, nil
}

// clientSeconds converts a script duration in seconds.
func clientSeconds(s float64) time.Duration {
	if s <= 0 {
		return 0
	}
	return time.Duration(s * float64(time.Second))
}

func cliSelf(c script.Call) *Client {
	o := c.Self()
	if o == nil {
		script.Usagef("client method called without a client (use cli:method() in Lua)")
	}
	cli := o.Data.(*Client)
	if cli.inst != instOf(c) {
		script.Usagef("client: this client belongs to another worker or version of the script")
	}
	return cli
}

func cliOn(c script.Call) {
	cli := cliSelf(c)
	i, fn := script.OnArgs(c, "client.on", clientEventNames[:])
	cli.on[i] = fn
}

// cliConnect is connect([host, port [, timeout]]): it starts connecting and
// returns true; the connect or error event tells how it went.
func cliConnect(c script.Call) {
	cli := cliSelf(c)
	switch cli.state {
	case clientConnecting:
		c.Fail("already connecting")
		return
	case clientConnected, clientClosing:
		c.Fail("already connected")
		return
	}
	if c.NArgs() > 0 && c.Arg(0) != nil {
		cli.host = c.Str(0, "host")
	}
	if c.NArgs() > 1 && c.Arg(1) != nil {
		p := c.Int(1, "port")
		if p < 0 || p > 65535 {
			script.Usagef("bad argument #2 (port): %d is out of range 1..65535", p)
		}
		cli.port = int(p)
	}
	if c.NArgs() > 2 && c.Arg(2) != nil {
		cli.timeout = clientSeconds(c.Float(2, "timeout"))
	}
	if cli.port <= 0 {
		script.Usagef("client.connect: no port (set port in imscript.client{...} or pass it to connect)")
	}
	cli.state = clientConnecting
	addr := joinHostPort(cli.host, cli.port)
	if cli.kind == "udp" {
		cli.cur = dialUDPClient(cli, addr)
	} else {
		cli.cur = dialTCPClient(cli, addr)
	}
	cli.release = cli.inst.Own(script.CloserFunc(cli.abort))
	c.ReturnBool(true)
}

func cliSend(c script.Call) {
	cli := cliSelf(c)
	data := c.Bytes(0, "data")
	if cli.state != clientConnected {
		c.Fail("not connected")
		return
	}
	ok, why := cli.cur.send(data)
	if !ok {
		c.Fail(why)
		return
	}
	c.ReturnBool(true)
}

// cliClose closes the connection after its queued output: the close event
// follows. Closing a connection still being made cancels it, with no
// events.
func cliClose(c script.Call) {
	cli := cliSelf(c)
	switch cli.state {
	case clientConnecting:
		cli.cur.abort()
		cli.cur = nil
		cli.state = clientClosed
		cli.disown()
	case clientConnected:
		cli.state = clientClosing
		cli.cur.close()
	default:
		c.Fail("not connected")
		return
	}
	c.ReturnBool(true)
}

func cliIsConnected(c script.Call) {
	c.ReturnBool(cliSelf(c).state == clientConnected)
}

// post runs fn on the client's worker if link is still its connection.
func (cli *Client) post(link clientLink, fn func()) {
	cli.inst.Post(func() {
		if cli.cur == link {
			fn()
		}
	})
}

// fire calls the script's handler for event ev, if it set one.
func (cli *Client) fire(ev int, args ...script.Value) {
	if fn := cli.on[ev]; fn != nil {
		cli.inst.Call("client "+clientEventNames[ev], fn, append([]script.Value{cli.obj}, args...)...)
	}
}

// Link reports, each run on the worker through post.

func (cli *Client) connected() {
	if cli.state != clientConnecting {
		return
	}
	cli.state = clientConnected
	cli.fire(ceConnect)
}

func (cli *Client) connectFailed(err error) {
	cli.state = clientClosed
	cli.cur = nil
	cli.disown()
	cli.fire(ceError, err.Error())
}

func (cli *Client) received(data []byte) {
	if cli.state == clientConnected {
		cli.fire(ceReceive, data)
	}
}

func (cli *Client) failed(msg string) {
	if cli.state == clientConnected || cli.state == clientClosing {
		cli.fire(ceError, msg)
	}
}

func (cli *Client) closed() {
	cli.state = clientClosed
	cli.cur = nil
	cli.disown()
	cli.fire(ceClose)
}

// disown ends the instance's hold on the client's connection (it ended).
func (cli *Client) disown() {
	if cli.release != nil {
		cli.release()
		cli.release = nil
	}
}

// abort closes the client's connection with no further events.
func (cli *Client) abort() {
	if cli.cur != nil {
		cli.cur.abort()
		cli.cur = nil
	}
	cli.state = clientClosed
}

// clientDialError words a failed connect for the error event.
func clientDialError(addr string, timeout time.Duration, err error) error {
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		return fmt.Errorf("connect %s: timed out after %v", addr, timeout)
	}
	var oe *net.OpError
	if errors.As(err, &oe) && oe.Err != nil {
		return fmt.Errorf("connect %s: %v", addr, clientSyscallErr(oe.Err))
	}
	return fmt.Errorf("connect %s: %v", addr, err)
}

func clientSyscallErr(err error) error {
	var se *os.SyscallError
	if errors.As(err, &se) {
		return se.Err
	}
	return err
}

// clientNetErr is a net error without the operation and addresses
// ("connection refused").
func clientNetErr(err error) string {
	var oe *net.OpError
	if errors.As(err, &oe) && oe.Err != nil {
		return clientSyscallErr(oe.Err).Error()
	}
	return err.Error()
}

// clientConnError words a connection's abnormal end for the error event, or
// returns "" for a plain end of stream.
func clientConnError(err error) string {
	if err == nil || errors.Is(err, io.EOF) || errors.Is(err, net.ErrClosed) {
		return ""
	}
	if errors.Is(err, syscall.ECONNRESET) {
		return "connection reset by peer"
	}
	return strings.TrimPrefix(err.Error(), "read: ")
}

// clientDialContext is a dial context bounded by the client's timeout (none when
// the script set 0).
func clientDialContext(ctx context.Context, d time.Duration) (context.Context, context.CancelFunc) {
	if d <= 0 {
		return context.WithCancel(ctx)
	}
	return context.WithTimeout(ctx, d)
}
