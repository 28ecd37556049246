package redis

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/imscript/imscript/script"
)

const (
	healthInterval = 30 * time.Second // a PING on a quiet subscription
	maxBacklog     = 1024             // messages posted to the worker and not yet run
	retryFirst     = 100 * time.Millisecond
	retryMost      = 2 * time.Second
)

// subscription is one r:subscribe / r:psubscribe: a go-redis PubSub (a
// connection of its own, re-dialled and re-subscribed by go-redis after a
// failure) read by one goroutine, whose messages run the script's function
// on the subscribing worker in the order they came. It belongs to the
// instance (Own): a reload ends it.
type subscription struct {
	inst    script.Instance
	h       *handle
	fn      script.Callback
	pattern bool
	names   []string
	obj     *script.Object
	release func()
	ps      *goredis.PubSub
	ctx     context.Context
	cancel  context.CancelFunc
	backlog chan struct{}

	open bool // on the worker: false once closed

	mu        sync.Mutex
	confirmed bool
	ended     bool
	waiters   []func(script.Value, error)
}

var subType = &script.Type{
	Name: "redis.subscription",
	Doc:  "A Redis subscription.",
	Fields: map[string]script.Field{
		"channels": {Type: "string[]", Doc: "The channels or patterns."},
	},
	Props: map[string]func(o *script.Object) script.Value{
		"channels": func(o *script.Object) script.Value {
			s := o.Data.(*subscription)
			out := make(script.List, len(s.names))
			for i, n := range s.names {
				out[i] = n
			}
			return out
		},
	},
}

func init() {
	subType.Define(map[string]script.Method{
		"close": {Fn: subClose, Returns: "boolean", Doc: "Ends the subscription."},
		"ready": {Fn: subReady, Returns: "async boolean", Doc: "True once the server has confirmed the subscription."},
	})
}

// subscribe is r:subscribe(channel | {channels}, fn(channel, message)) and
// r:psubscribe(pattern | {patterns}, fn(channel, message, pattern)). It
// returns the subscription at once; the SUBSCRIBE goes out on a goroutine
// (sub:ready() says when the server has confirmed it).
func subscribe(c script.Call, pattern bool) {
	h := self(c)
	what := "redis.subscribe"
	if pattern {
		what = "redis.psubscribe"
	}
	names := channelNames(what, c.Arg(0))
	fn := c.Func(1, "handler")
	if h.closed {
		c.Fail(errClosed.Error())
		return
	}
	client, err := h.pool.get()
	if err != nil {
		c.Fail(err.Error())
		return
	}
	inst := c.Instance()
	s := &subscription{inst: inst, h: h, fn: fn, pattern: pattern, names: names, open: true,
		backlog: make(chan struct{}, maxBacklog)}
	s.ctx, s.cancel = context.WithCancel(callContext(inst))
	s.obj = &script.Object{Type: subType, Data: s}
	s.ps = client.Subscribe(s.ctx) // no channel yet: no dial on the worker
	s.release = inst.Own(s)
	h.subs[s] = struct{}{}
	go s.run()
	c.Return(s.obj)
}

func channelNames(what string, v script.Value) []string {
	var list script.List
	switch x := v.(type) {
	case string:
		list = script.List{x}
	case []byte:
		list = script.List{string(x)}
	case script.List:
		list = x
	default:
		script.Usagef("%s: argument 1: want a channel name or a list of them, got %s", what, script.TypeName(v))
	}
	seen := map[string]bool{}
	var out []string
	for _, e := range list {
		var s string
		switch x := e.(type) {
		case string:
			s = x
		case []byte:
			s = string(x)
		default:
			script.Usagef("%s: argument 1: channel names are strings, found %s", what, script.TypeName(e))
		}
		if !seen[s] {
			seen[s] = true
			out = append(out, s)
		}
	}
	if len(out) == 0 {
		script.Usagef("%s: argument 1: no channel", what)
	}
	return out
}

// run subscribes and reads until the subscription is closed. A connection
// that fails is retried (go-redis re-subscribes), with one warning per
// outage.
func (s *subscription) run() {
	var err error
	if s.pattern {
		err = s.ps.PSubscribe(s.ctx, s.names...)
	} else {
		err = s.ps.Subscribe(s.ctx, s.names...)
	}
	failing := false
	wait := retryFirst
	report := func(err error) {
		if !failing && s.ctx.Err() == nil {
			failing = true
			s.inst.Logger().Warn("redis subscription: the connection failed; retrying", "url", s.h.url,
				"channels", s.names, "err", err)
		}
	}
	if err != nil {
		report(err)
	}
	for {
		msg, err := s.ps.ReceiveTimeout(s.ctx, healthInterval)
		if s.ctx.Err() != nil {
			return
		}
		if err != nil {
			if isTimeout(err) {
				_ = s.ps.Ping(s.ctx) // a dead connection shows on the next read
				continue
			}
			if errors.Is(err, goredis.ErrClosed) {
				return
			}
			report(err)
			select {
			case <-s.ctx.Done():
				return
			case <-time.After(wait):
			}
			wait = min(2*wait, retryMost)
			continue
		}
		if failing {
			failing = false
			s.inst.Logger().Info("redis subscription: connected again", "url", s.h.url, "channels", s.names)
		}
		wait = retryFirst
		switch m := msg.(type) {
		case *goredis.Subscription:
			if (m.Kind == "subscribe" || m.Kind == "psubscribe") && m.Count >= len(s.names) {
				s.confirm()
			}
		case *goredis.Message:
			if !s.deliver(m) {
				return
			}
		}
	}
}

// deliver posts one message to the worker; at most maxBacklog wait there,
// so a flood slows the reading instead of growing the worker's queue.
func (s *subscription) deliver(m *goredis.Message) bool {
	select {
	case s.backlog <- struct{}{}:
	case <-s.ctx.Done():
		return false
	}
	args := []script.Value{m.Channel, reply(m.Payload)}
	if s.pattern {
		args = append(args, m.Pattern)
	}
	s.inst.Post(func() {
		<-s.backlog
		if s.open {
			s.inst.Call("redis message", s.fn, args...)
		}
	})
	return true
}

func (s *subscription) confirm() {
	s.mu.Lock()
	s.confirmed = true
	ws := s.waiters
	s.waiters = nil
	s.mu.Unlock()
	for _, settle := range ws {
		settle(true, nil)
	}
}

// Close ends the subscription (Own: its instance is closing).
func (s *subscription) Close() error {
	s.stop()
	return nil
}

// stop ends the subscription, on the worker: no message runs after it.
func (s *subscription) stop() bool {
	if !s.open {
		return false
	}
	s.open = false
	s.release()
	delete(s.h.subs, s)
	s.cancel()
	go func() { _ = s.ps.Close() }() // it may wait for a dial in progress
	s.mu.Lock()
	s.ended = true
	ws := s.waiters
	s.waiters = nil
	s.mu.Unlock()
	for _, settle := range ws {
		settle(nil, &script.CodedError{Msg: "redis.subscribe: the subscription was closed", Code: "CLOSED"})
	}
	return true
}

func subSelf(c script.Call) *subscription {
	return script.Receiver[*subscription](c, "redis subscription method called without its subscription (use sub:method() in Lua)")
}

// subClose is sub:close(): true when it was open.
func subClose(c script.Call) {
	c.ReturnBool(subSelf(c).stop())
}

// subReady is sub:ready([fn]): true once the server has confirmed the
// subscription; it fails after the handle's timeout (TIMEOUT), or when
// the subscription is closed (CLOSED).
func subReady(c script.Call) {
	s := subSelf(c)
	_, cbArg := callArgs(c)
	settle := c.Async(cbArg)
	s.mu.Lock()
	switch {
	case s.ended:
		s.mu.Unlock()
		settle(nil, &script.CodedError{Msg: "redis.subscribe: the subscription was closed", Code: "CLOSED"})
	case s.confirmed:
		s.mu.Unlock()
		settle(true, nil)
	default:
		s.waiters = append(s.waiters, settle)
		s.mu.Unlock()
		if d := s.h.timeout; d > 0 {
			time.AfterFunc(d, func() {
				settle(nil, &script.CodedError{Msg: fmt.Sprintf("redis.subscribe: not confirmed after %v", d), Code: "TIMEOUT"})
			})
		}
	}
}
