package host

import (
	"errors"
	"fmt"
	"sort"
	"time"

	"github.com/imscript/imscript/script"
)

// cli, the imscript.client object: on, connect, send, close, isConnected
// (client.go is the client itself).

var clientType = &script.Type{
	Name: "client",
	Doc:  "A tcp or udp client made with imscript.client.",
	Props: map[string]func(o *script.Object) script.Value{
		"type": func(o *script.Object) script.Value { return o.Data.(*client).kind },
		"host": func(o *script.Object) script.Value { return o.Data.(*client).host },
		"port": func(o *script.Object) script.Value { return int64(o.Data.(*client).port) },
	},
	Fields: map[string]script.Field{
		"type": {Type: `"tcp"|"udp"`, Doc: "The client type."},
		"host": {Type: "string", Doc: "The host it connects to."},
		"port": {Type: "integer", Doc: "The port it connects to."},
	},
	Events: []script.Event{
		{Name: "connect", Args: "cli: Client", Doc: "Connected."},
		{Name: "receive", Args: "cli: Client, data: bytes", Doc: "Data (one package with framing settings) arrived."},
		{Name: "error", Args: "cli: Client, err: string", Doc: "Connecting failed or the connection broke."},
		{Name: "close", Args: "cli: Client", Doc: "The connection closed."},
	},
}

func init() {
	clientType.Define(map[string]script.Method{
		"on":          {Fn: cliOn, Args: "event: string, handler: function", Doc: "Sets the handler of an event."},
		"connect":     {Fn: cliConnect, Args: "host?: string, port?: integer, timeout?: number", Returns: "boolean, string?", Doc: "Starts connecting (the connect or error event tells how it went)."},
		"send":        {Fn: cliSend, Args: "data: string|bytes", Returns: "boolean, string?", Doc: "Sends data."},
		"close":       {Fn: cliClose, Returns: "boolean, string?", Doc: "Closes the connection."},
		"isConnected": {Fn: cliIsConnected, Returns: "boolean", Doc: "Whether it is connected."},
	})
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

func newClient(inst *instance, m script.Map) (*client, error) {
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
	st, err := parseSettings(rest)
	if err != nil {
		return nil, err
	}
	if st.Type != "tcp" && st.Type != "udp" {
		return nil, fmt.Errorf("setting type: %q is not a client type (tcp, udp)", st.Type)
	}
	cli := &client{
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

func cliSelf(c script.Call) *client {
	cli := script.Receiver[*client](c, "client method called without a client (use cli:method() in Lua)")
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
	if !c.Absent(0) {
		cli.host = c.Str(0, "host")
	}
	if !c.Absent(1) {
		p := c.Int(1, "port")
		if p < 0 || p > 65535 {
			script.Usagef("bad argument #2 (port): %d is out of range 1..65535", p)
		}
		cli.port = int(p)
	}
	if !c.Absent(2) {
		cli.timeout = clientSeconds(c.Float(2, "timeout"))
	}
	if cli.port <= 0 {
		script.Usagef("client.connect: no port (set port in imscript.client{...} or pass it to connect)")
	}
	cli.state = clientConnecting
	cli.cur = clientDialers[cli.kind](cli, joinHostPort(cli.host, cli.port))
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
