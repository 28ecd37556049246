package host

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
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

// client is one imscript.client object. Every field is touched only by
// the worker of the instance that created it; the connection (link)
// reports back through Instance.Post.
type client struct {
	inst    *instance
	obj     *script.Object
	kind    string // "tcp" or "udp"
	host    string
	port    int
	timeout time.Duration
	st      *settings
	f       *framing.Framer

	on    [numClientEvents]script.Callback
	state clientState
	cur   clientLink // the current connection, nil when idle or closed
	// release ends the instance's ownership of the connection (Own), so
	// that a reload closes a client only while it is connected.
	release func()
}

// clientDialers start a client's connection, by client type (client_tcp.go,
// client_udp.go register theirs).
var clientDialers = map[string]func(cli *client, addr string) clientLink{}

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

// post runs fn on the client's worker if link is still its connection.
func (cli *client) post(link clientLink, fn func()) {
	cli.inst.Post(func() {
		if cli.cur == link {
			fn()
		}
	})
}

// fire calls the script's handler for event ev, if it set one.
func (cli *client) fire(ev int, args ...script.Value) {
	if fn := cli.on[ev]; fn != nil {
		cli.inst.Call("client "+clientEventNames[ev], fn, append([]script.Value{cli.obj}, args...)...)
	}
}

// Link reports, each run on the worker through post.

func (cli *client) connected() {
	if cli.state != clientConnecting {
		return
	}
	cli.state = clientConnected
	cli.fire(ceConnect)
}

func (cli *client) connectFailed(err error) {
	cli.state = clientClosed
	cli.cur = nil
	cli.disown()
	cli.fire(ceError, err.Error())
}

func (cli *client) received(data []byte) {
	if cli.state == clientConnected {
		cli.fire(ceReceive, data)
	}
}

func (cli *client) failed(msg string) {
	if cli.state == clientConnected || cli.state == clientClosing {
		cli.fire(ceError, msg)
	}
}

func (cli *client) closed() {
	cli.state = clientClosed
	cli.cur = nil
	cli.disown()
	cli.fire(ceClose)
}

// disown ends the instance's hold on the client's connection (it ended).
func (cli *client) disown() {
	if cli.release != nil {
		cli.release()
		cli.release = nil
	}
}

// abort closes the client's connection with no further events.
func (cli *client) abort() {
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
