package limit

import (
	"math"
	"sync"
	"time"

	"github.com/imscript/imscript/script"
	"github.com/imscript/imscript/stdlib/internal/opts"
)

// Module is imscript.limit(name, { rate = per_second, burst = n }).
func Module(inst script.Instance) script.Value {
	return script.Function(shared(inst).declare)
}

// API describes imscript.limit for editors.
var API = &script.API{
	Doc:   "Rate limiters (token buckets per key) shared by every worker.",
	Call:  &script.Method{Args: "name: string, options?: {rate: number, burst?: number}", Returns: "Limiter", Doc: "Declares a limiter (rate: tokens a second); an existing name returns it."},
	Types: []*script.Type{limiterType},
}

func init() {
	limiterType.Define(map[string]script.Method{
		"allow":     {Fn: limAllow, Args: "key: string|integer, n?: number", Returns: "boolean", Doc: "Takes n tokens (1) from key's bucket; whether there were enough."},
		"remaining": {Fn: func(c script.Call) { c.ReturnInt(self(c).Remaining(key(c, "remaining"))) }, Args: "key: string|integer", Returns: "integer", Doc: "The tokens left in key's bucket."},
		"reset":     {Fn: func(c script.Call) { self(c).Reset(key(c, "reset")) }, Args: "key: string|integer", Doc: "Fills key's bucket."},
	})
}

// Sharer is where a host keeps state shared by its workers: a host or any
// of its script instances.
type Sharer interface {
	Shared(key string, init func() any) any
}

// SweepEvery is how often a host's sweeper drops the buckets that have
// refilled from shards no insert swept meanwhile.
const SweepEvery = 10 * time.Second

// MaxBurst bounds burst.
const MaxBurst = 1 << 30

// registry holds a host's limiters by name. It lives in Host.Shared, so
// every worker sees the same one and reloads keep it; the host closes it
// when it stops (which ends its sweeper).
type registry struct {
	mu     sync.Mutex
	limits map[string]*script.Object
	stop   chan struct{} // the sweeper runs while this is open
	closed bool
}

const sharedKey = "imscript/stdlib/limit"

func shared(h Sharer) *registry {
	return h.Shared(sharedKey, func() any {
		return &registry{limits: map[string]*script.Object{}}
	}).(*registry)
}

// Lookup returns the limiter h's scripts declared under name, or nil.
func Lookup(h Sharer, name string) *Limiter {
	r := shared(h)
	r.mu.Lock()
	defer r.mu.Unlock()
	if o := r.limits[name]; o != nil {
		return o.Data.(*Limiter)
	}
	return nil
}

// Close stops the sweeper (io.Closer: the host calls it when it stops).
func (r *registry) Close() error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if !r.closed {
		r.closed = true
		if r.stop != nil {
			close(r.stop)
		}
	}
	return nil
}

// sweeper sweeps every limiter's idle shards every SweepEvery.
func (r *registry) sweeper(stop chan struct{}) {
	t := time.NewTicker(SweepEvery)
	defer t.Stop()
	for {
		select {
		case <-stop:
			return
		case <-t.C:
		}
		r.mu.Lock()
		ls := make([]*Limiter, 0, len(r.limits))
		for _, o := range r.limits {
			ls = append(ls, o.Data.(*Limiter))
		}
		r.mu.Unlock()
		for _, l := range ls {
			l.sweepOlder(SweepEvery)
		}
	}
}

// declare is imscript.limit(name [, options]). Declaring a name again
// returns the same limiter; with options that differ it takes them (the
// last declaration wins), so a reload can change a rate.
func (r *registry) declare(c script.Call) {
	name := c.Str(0, "name")
	if name == "" {
		script.Usagef("imscript.limit: the name is empty")
	}
	o := c.OptTable(1, "options")
	what := "imscript.limit " + name
	var rate float64
	var burst int64
	if o != nil {
		rd := opts.New(what, o, "rate", "burst")
		if !rd.Has("rate") {
			script.Usagef("%s: option rate (tokens a second) is required", what)
		}
		rate = number(what, o, "rate")
		if rate <= 0 || math.IsInf(rate, 0) {
			script.Usagef("%s: option rate (tokens a second) must be a number above 0, got %v", what, rate)
		}
		if !rd.Has("burst") {
			script.Usagef("%s: option burst (the most tokens a key holds) is required", what)
		}
		b := number(what, o, "burst")
		if b != math.Trunc(b) || b < 1 || b > MaxBurst {
			script.Usagef("%s: option burst must be a whole number from 1 to %d, got %v", what, MaxBurst, b)
		}
		burst = int64(b)
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	obj := r.limits[name]
	switch {
	case obj == nil && o == nil:
		script.Usagef("imscript.limit: no limiter %q; declare it first with its options rate and burst", name)
	case obj == nil:
		obj = &script.Object{Type: limiterType, Data: New(name, rate, burst)}
		r.limits[name] = obj
		if r.stop == nil && !r.closed {
			r.stop = make(chan struct{})
			go r.sweeper(r.stop)
		}
	case o != nil:
		obj.Data.(*Limiter).Set(rate, burst)
	}
	c.Return(obj)
}

// number reads option k as a number; a wrong type is a usage error.
func number(what string, o script.Map, k string) float64 {
	switch v := o[k].(type) {
	case nil:
		return 0
	case int64:
		return float64(v)
	case float64:
		if math.IsNaN(v) {
			script.Usagef("%s: option %s must be a number, got NaN", what, k)
		}
		return v
	default:
		script.Usagef("%s: option %s must be a number, got %s", what, k, script.TypeName(v))
	}
	return 0
}

var limiterType = &script.Type{
	Name: "limiter",
	Doc:  "A rate limiter: a token bucket per key.",
	Fields: map[string]script.Field{
		"name":  {Type: "string", Doc: "Its name."},
		"rate":  {Type: "number", Doc: "Tokens a second."},
		"burst": {Type: "number", Doc: "The bucket's size."},
	},
	Props: map[string]func(o *script.Object) script.Value{
		"name":  func(o *script.Object) script.Value { return o.Data.(*Limiter).Name() },
		"rate":  func(o *script.Object) script.Value { return o.Data.(*Limiter).Rate() },
		"burst": func(o *script.Object) script.Value { return o.Data.(*Limiter).Burst() },
	},
}

func self(c script.Call) *Limiter {
	return script.Receiver[*Limiter](c, "limiter method called without its limiter (use lim:allow(key) in Lua)")
}

// key reads argument 0, a key: a string or a number.
func key(c script.Call, method string) string {
	k := c.Str(0, "key")
	if len(k) > MaxKeyLen {
		script.Usagef("limiter.%s: the key is %d bytes; at most %d", method, len(k), MaxKeyLen)
	}
	return k
}

// limAllow is lim:allow(key [, n]).
func limAllow(c script.Call) {
	l := self(c)
	k := key(c, "allow")
	n := 1.0
	if c.NArgs() > 1 {
		n = c.OptFloat(1, "n", 1)
		if !(n > 0) || math.IsInf(n, 0) {
			script.Usagef("limiter.allow: n (tokens to take) must be a number above 0, got %v", n)
		}
	}
	c.ReturnBool(l.Allow(k, n))
}
