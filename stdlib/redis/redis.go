// Package redis is imscript.redis: Redis commands, pipelines and pub/sub
// from scripts on go-redis, one connection pool per URL shared by every
// worker and surviving reloads. Calls run off the worker and settle
// through Call.Async; subscription messages run on the subscribing worker,
// in order, until its script version ends.
package redis

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"sync"
	"time"

	goredis "github.com/redis/go-redis/v9"
	"github.com/redis/go-redis/v9/maintnotifications"

	"github.com/imscript/imscript/script"
	"github.com/imscript/imscript/stdlib/internal/opts"
)

const (
	defaultTimeout = 5 * time.Second
	unblockTimeout = 2 * time.Second
)

var (
	errClosed     = errors.New("the handle is closed")
	errPoolClosed = errors.New("the host is stopping: the connection pool is closed")
)

// Module builds imscript.redis for one instance.
func Module(script.Instance) script.Value {
	m := script.Funcs(API.Funcs)
	// null stands for a nil reply inside a list (Lua: one userdata,
	// JS: null), so a list keeps its length.
	m["null"] = script.Null
	return m
}

// pool is one go-redis client, shared host-wide (Instance.Shared) by every
// handle opened with the same URL and pool options. The client is made on
// first use, so a value Shared made twice in a race costs nothing.
type pool struct {
	opt *goredis.Options

	mu      sync.Mutex
	client  *goredis.Client
	batch   *batcher        // automatic pipelining of calls (batch.go)
	control *goredis.Client // one connection for CLIENT UNBLOCK
	closed  bool
}

func (p *pool) get() (*goredis.Client, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		return nil, errPoolClosed
	}
	if p.client == nil {
		p.client = goredis.NewClient(p.opt)
		p.batch = &batcher{client: p.client, max: max(p.opt.PoolSize, 1)}
	}
	return p.client, nil
}

// unblock ends the blocking command of connection id (CLIENT UNBLOCK, as
// if it timed out), over a connection of its own so that a pool full of
// blocked commands cannot keep it waiting.
func (p *pool) unblock(id int64) {
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		return
	}
	if p.control == nil {
		o := *p.opt
		o.PoolSize, o.MinIdleConns = 1, 0
		p.control = goredis.NewClient(&o)
	}
	ctl := p.control
	p.mu.Unlock()
	ctx, cancel := context.WithTimeout(context.Background(), unblockTimeout)
	defer cancel()
	_ = ctl.ClientUnblock(ctx, id).Err()
}

// Close closes the client; the host calls it when it stops.
func (p *pool) Close() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.closed = true
	var err error
	if p.client != nil {
		err = p.client.Close()
	}
	if p.control != nil {
		_ = p.control.Close()
	}
	return err
}

// handle is what open returns: one script version's use of a pool. Its
// fields are touched only on its worker.
type handle struct {
	pool    *pool
	url     string // redacted
	timeout time.Duration
	closed  bool
	subs    map[*subscription]struct{}
}

// API describes imscript.redis for editors.
var API = &script.API{
	Doc: "Redis clients, shared by every worker and surviving reloads.",
	Funcs: map[string]script.Method{
		"open": {Fn: open, Args: "url: string, options?: {pool_size?: integer, min_idle?: integer, dial_timeout?: number, read_timeout?: number, write_timeout?: number, timeout?: number}", Returns: "RedisClient", Doc: "A client for redis://host:port/db (a shared pool)."},
	},
	Fields: map[string]script.Field{
		"null": {Type: "any", Doc: "A nil reply inside a list."},
	},
	Types: []*script.Type{handleType, subType},
}

var handleType = &script.Type{
	Name: "redis.client",
	Doc:  "A Redis client.",
	Fields: map[string]script.Field{
		"url": {Type: "string", Doc: "The URL without its password."},
	},
	Props: map[string]func(o *script.Object) script.Value{
		"url": func(o *script.Object) script.Value { return o.Data.(*handle).url },
	},
}

func init() {
	handleType.Define(map[string]script.Method{
		"call":       {Fn: call, Args: "cmd: string, ...: any", Returns: "async any", Doc: "Runs a command (GET, SET, ...); the reply: strings, numbers, lists, nil."},
		"pipeline":   {Fn: pipeline, Args: "commands: any[][]", Returns: "async any[]", Doc: "Runs commands in one round trip; their replies."},
		"subscribe":  {Fn: func(c script.Call) { subscribe(c, false) }, Args: "channels: string|string[], handler: fun(channel: string, message: string)", Returns: "RedisSubscription", Doc: "Subscribes to channels."},
		"psubscribe": {Fn: func(c script.Call) { subscribe(c, true) }, Args: "patterns: string|string[], handler: fun(channel: string, message: string, pattern: string)", Returns: "RedisSubscription", Doc: "Subscribes to channel patterns."},
		"close":      {Fn: closeHandle, Returns: "boolean", Doc: "Closes this handle (the pool stays while others use it)."},
	})
}

// open is imscript.redis.open(url [, {pool_size, min_idle, dial_timeout,
// read_timeout, write_timeout, timeout}]).
func open(c script.Call) {
	raw := c.Str(0, "url")
	o := opts.New("redis.open", c.OptTable(1, "options"),
		"pool_size", "min_idle", "dial_timeout", "read_timeout", "write_timeout", "timeout")
	opt, err := goredis.ParseURL(raw)
	if ue := (*url.Error)(nil); errors.As(err, &ue) {
		err = ue.Err // without the URL, which may hold a password
	}
	if err != nil {
		script.Usagef("redis.open: %s is not a Redis URL (redis://[user:password@]host[:port][/db], rediss://, unix://): %v", redact(raw), err)
	}
	if o.Has("pool_size") {
		opt.PoolSize = int(o.Int("pool_size", 0, 1, 100000))
	}
	if o.Has("min_idle") {
		opt.MinIdleConns = int(o.Int("min_idle", 0, 0, 100000))
	}
	if o.Has("dial_timeout") {
		opt.DialTimeout = o.Seconds("dial_timeout", 0)
	}
	// No socket timeouts unless asked for: the call's timeout (its
	// context) bounds each call, and blocking commands wait their time.
	if o.Has("read_timeout") || opt.ReadTimeout == 0 {
		opt.ReadTimeout = noneIfZero(o.Seconds("read_timeout", 0))
	}
	if o.Has("write_timeout") || opt.WriteTimeout == 0 {
		opt.WriteTimeout = noneIfZero(o.Seconds("write_timeout", 0))
	}
	timeout := o.Seconds("timeout", defaultTimeout)
	configure(opt)

	key := fmt.Sprintf("stdlib/redis %s|pool=%d|idle=%d|dial=%v|read=%v|write=%v",
		raw, opt.PoolSize, opt.MinIdleConns, opt.DialTimeout, opt.ReadTimeout, opt.WriteTimeout)
	useLogger(c.Instance().Logger())
	p := c.Instance().Shared(key, func() any { return &pool{opt: opt} }).(*pool)
	h := &handle{pool: p, url: redact(raw), timeout: timeout, subs: map[*subscription]struct{}{}}
	c.Return(&script.Object{Type: handleType, Data: h})
}

// configure sets what every handle needs whatever the URL says:
//   - no CLIENT SETINFO on connect (DisableIdentity): Redis before 7.2
//     answers it with an error;
//   - RESP2 unless the URL asks for protocol=3: replies keep the shapes
//     every Redis client documents (HGETALL a flat list), and go-redis
//     sends no RESP3-only handshakes (CLIENT MAINT_NOTIFICATIONS, which
//     Redis 7.0 refuses);
//   - no maintenance notifications (they are for Redis Enterprise);
//   - the context's deadline reaches the socket (the call's timeout);
//   - pipelines on the main pool, so pool_size bounds every connection
//     calls and pipelines open;
//   - one dial per attempt: a dead server fails a call fast.
func configure(opt *goredis.Options) {
	opt.DisableIdentity = true
	if opt.Protocol == 0 {
		opt.Protocol = 2
	}
	opt.MaintNotificationsConfig = &maintnotifications.Config{Mode: maintnotifications.ModeDisabled}
	opt.ContextTimeoutEnabled = true
	opt.PipelinePoolSize = -1
	opt.DialerRetries = 1
}

// noneIfZero is go-redis's "no socket timeout" (-1) for 0.
func noneIfZero(d time.Duration) time.Duration {
	if d <= 0 {
		return -1
	}
	return d
}

// redact hides a password in a URL (for messages and r.url).
func redact(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return "the URL"
	}
	return u.Redacted()
}

// callContext is the context of a call: cancelled when the instance
// closes, carrying its logger for go-redis's log lines.
func callContext(inst script.Instance) context.Context {
	return context.WithValue(inst.Context(), loggerKey{}, inst.Logger())
}

func self(c script.Call) *handle {
	return script.Receiver[*handle](c, "redis client method called without its client (use r:method() in Lua)")
}

// callArgs reads the arguments of a call that may end with a callback
// (Lua's callback form): the values before it and the callback's index
// for Call.Async (past the last argument when there is none). JS's
// Call.Async returns a Promise and ignores the function: a trailing
// function is never a command argument.
func callArgs(c script.Call) (vals []script.Value, cbArg int) {
	n := c.NArgs()
	vals = make([]script.Value, n)
	for i := range vals {
		vals[i] = c.Arg(i)
	}
	if n > 0 {
		if _, ok := vals[n-1].(script.Callback); ok {
			return vals[:n-1], n - 1
		}
	}
	return vals, n
}

// call is r:call(cmd, ...args [, fn]).
func call(c script.Call) {
	h := self(c)
	vals, cbArg := callArgs(c)
	cmd := readCommand("redis.call", vals, 0)
	checkCommand("redis.call", cmd, false)
	what := "redis.call " + cmd.name
	settle := c.Async(cbArg)
	ctx := callContext(c.Instance())
	if h.closed {
		settle(nil, failure(ctx, what, errClosed, 0))
		return
	}
	client, err := h.pool.get()
	if err != nil {
		settle(nil, failure(ctx, what, err, 0))
		return
	}
	if _, blocking := blockFor(cmd); !blocking {
		q := &queued{ctx: ctx, what: what, args: cmd.args, timeout: h.timeout, settle: settle}
		if h.timeout > 0 {
			q.deadline = time.Now().Add(h.timeout)
		}
		h.pool.batch.submit(q)
		return
	}
	script.Go(func() { settle(h.do(ctx, client, what, cmd)) })
}

// do runs one command under the call's timeout; a blocking command
// (BLPOP k 10, XREAD BLOCK 500) gets its own wait on top of it, and none
// when it blocks forever (0).
func (h *handle) do(ctx context.Context, client *goredis.Client, what string, cmd command) (script.Value, error) {
	block, blocking := blockFor(cmd)
	timeout := h.timeout
	if blocking && block == 0 {
		timeout = 0
	} else if timeout > 0 {
		timeout += block
	}
	if timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, timeout)
		defer cancel()
	}
	var res any
	var err error
	if blocking {
		res, err = h.pool.doBlocking(ctx, client, cmd.args)
	} else {
		res, err = client.Do(ctx, cmd.args...).Result()
	}
	if blocking && ctx.Err() != nil && !isReplyError(err) {
		// CLIENT UNBLOCK made it return nil: the call timed out or ended.
		return nil, failure(ctx, what, ctx.Err(), timeout)
	}
	if err == goredis.Nil {
		return nil, nil
	}
	if err != nil {
		return nil, failure(ctx, what, err, timeout)
	}
	return reply(res), nil
}

// doBlocking runs a blocking command on a connection whose id it knows,
// so that the end of the call's context (its timeout, the script version
// closing) unblocks it at once instead of leaving a pooled connection
// blocked until the server answers.
func (p *pool) doBlocking(ctx context.Context, client *goredis.Client, args []any) (any, error) {
	conn := client.Conn()
	defer conn.Close()
	id, err := conn.ClientID(ctx).Result()
	if err != nil {
		return nil, err
	}
	done := make(chan struct{})
	stop := context.AfterFunc(ctx, func() {
		defer close(done)
		p.unblock(id)
	})
	res, err := conn.Do(ctx, args...).Result()
	if !stop() {
		<-done // the unblock is for this command, not the connection's next one
	}
	return res, err
}

// pipeline is r:pipeline({ {cmd, ...}, ... } [, fn]): the commands go out
// together on one connection; the result is the list of their replies in
// order, an error reply in its slot as {err =, code =}. A connection that
// fails fails the whole call.
func pipeline(c script.Call) {
	h := self(c)
	vals, cbArg := callArgs(c)
	if len(vals) != 1 {
		script.Usagef("redis.pipeline: want one argument, a list of commands ({ {\"SET\", \"a\", \"1\"}, {\"INCR\", \"n\"} }), got %d", len(vals))
	}
	cmds := readPipeline(vals[0])
	settle := c.Async(cbArg)
	ctx := callContext(c.Instance())
	what := "redis.pipeline"
	if h.closed {
		settle(nil, failure(ctx, what, errClosed, 0))
		return
	}
	client, err := h.pool.get()
	if err != nil {
		settle(nil, failure(ctx, what, err, 0))
		return
	}
	if len(cmds) == 0 {
		settle(script.List{}, nil)
		return
	}
	timeout := h.timeout
	if timeout > 0 {
		for _, cmd := range cmds {
			if d, ok := blockFor(cmd); ok {
				timeout += d
			}
		}
	}
	script.Go(func() { settle(h.exec(ctx, client, what, timeout, cmds)) })
}

func (h *handle) exec(ctx context.Context, client *goredis.Client, what string, timeout time.Duration, cmds []command) (script.Value, error) {
	if timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, timeout)
		defer cancel()
	}
	pipe := client.Pipeline()
	for _, cmd := range cmds {
		pipe.Do(ctx, cmd.args...)
	}
	done, _ := pipe.Exec(ctx)
	out := make(script.List, len(done))
	for i, cm := range done {
		err := cm.Err()
		switch {
		case err == nil:
			v := reply(cm.(*goredis.Cmd).Val())
			if v == nil {
				v = script.Null
			}
			out[i] = v
		case err == goredis.Nil:
			out[i] = script.Null
		case isReplyError(err):
			out[i] = errorSlot(err)
		default:
			return nil, failure(ctx, what, err, timeout)
		}
	}
	if len(done) != len(cmds) {
		return nil, failure(ctx, what, errors.New("the pipeline did not run"), timeout)
	}
	return out, nil
}

// readPipeline reads and checks the commands of a pipeline: a MULTI must
// be closed by EXEC or DISCARD, and no command may block forever (it
// would hold a connection past the script version's end).
func readPipeline(v script.Value) []command {
	var list script.List
	switch x := v.(type) {
	case script.List:
		list = x
	case script.Map:
		if len(x) != 0 {
			script.Usagef("redis.pipeline: want a list of commands, got a table with keys")
		}
	default:
		script.Usagef("redis.pipeline: want a list of commands, got %s", script.TypeName(v))
	}
	cmds := make([]command, len(list))
	inMulti := false
	for i, e := range list {
		what := fmt.Sprintf("redis.pipeline: command %d", i+1)
		l, ok := e.(script.List)
		if !ok {
			script.Usagef("%s: want a list like {\"GET\", \"key\"}, got %s", what, script.TypeName(e))
		}
		cmd := readCommand(what, l, 0)
		checkCommand(what, cmd, true)
		switch cmd.name {
		case "MULTI":
			if inMulti {
				script.Usagef("%s: MULTI inside MULTI", what)
			}
			inMulti = true
		case "EXEC", "DISCARD":
			inMulti = false
		}
		if d, ok := blockFor(cmd); ok && d == 0 {
			script.Usagef("%s: %s with no timeout blocks forever: run it with r:call", what, cmd.name)
		}
		cmds[i] = cmd
	}
	if inMulti {
		script.Usagef("redis.pipeline: MULTI without EXEC or DISCARD")
	}
	return cmds
}

// closeHandle is r:close(): this version is done with the handle (its
// subscriptions end, later calls fail); the pool stays for the others.
func closeHandle(c script.Call) {
	h := self(c)
	was := !h.closed
	h.closed = true
	for s := range h.subs {
		s.stop()
	}
	c.ReturnBool(was)
}
