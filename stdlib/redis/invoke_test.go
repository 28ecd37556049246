package redis_test

import (
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9/maintnotifications"

	"github.com/imscript/imscript/internal/testserver"
	"github.com/imscript/imscript/script"
	"github.com/imscript/imscript/script/scripttest"
	imredis "github.com/imscript/imscript/stdlib/redis"
)

// The module on a fake instance: no host, no VM.

func openFn(inst script.Instance) script.Function {
	return imredis.Module(inst).(script.Map)["open"].(script.Function)
}

func open(t *testing.T, inst *scripttest.Instance, args ...script.Value) *script.Object {
	t.Helper()
	r := inst.Invoke(openFn(inst), nil, args...)
	if r.Usage != "" {
		t.Fatal(r.Usage)
	}
	return r.Value().(*script.Object)
}

func method(h *script.Object, name string) script.Function { return h.Type.Methods[name] }

// TestInvokeShared: handles on one URL with the same pool options share
// one pool, an io.Closer the host closes when it stops; other pool options
// make another; every pool gets the options Redis 7.0 needs.
func TestInvokeShared(t *testing.T) {
	inst := scripttest.NewInstance(t)
	a := open(t, inst, "redis://127.0.0.1:1/0")
	b := open(t, inst, "redis://127.0.0.1:1/0", script.Map{"timeout": 1.0})
	c := open(t, inst, "redis://127.0.0.1:1/0", script.Map{"pool_size": int64(4), "min_idle": int64(0)})
	if imredis.PoolOf(a) != imredis.PoolOf(b) {
		t.Error("two handles on one URL (their call timeouts differ) have two pools")
	}
	if imredis.PoolOf(a) == imredis.PoolOf(c) {
		t.Error("handles with different pool_size share a pool")
	}
	o := imredis.OptionsOf(a)
	if !o.DisableIdentity || o.Protocol != 2 || !o.ContextTimeoutEnabled || o.PipelinePoolSize != -1 ||
		o.MaintNotificationsConfig.Mode != maintnotifications.ModeDisabled || o.ReadTimeout != -1 || o.WriteTimeout != -1 {
		t.Errorf("options: %+v", o)
	}
	if p := imredis.OptionsOf(open(t, inst, "redis://127.0.0.1:1/0?protocol=3")); p.Protocol != 3 {
		t.Errorf("protocol=3 in the URL: Protocol %d", p.Protocol)
	}
	if p := imredis.OptionsOf(c); p.PoolSize != 4 {
		t.Errorf("pool_size 4: PoolSize %d", p.PoolSize)
	}
	if a.Type.Props["url"](open(t, inst, "redis://u:secret@127.0.0.1:1/0")) != "redis://u:xxxxx@127.0.0.1:1/0" {
		t.Error("r.url shows the password")
	}
	if err := imredis.PoolOf(a).Close(); err != nil {
		t.Fatal(err)
	}
	_, err := inst.Invoke(method(b, "call"), b, "PING").Await(scripttest.WaitLimit)
	if err == nil || !strings.Contains(err.Error(), "the connection pool is closed") {
		t.Errorf("a call on a closed pool: %v", err)
	}
}

func TestInvokeUsage(t *testing.T) {
	inst := scripttest.NewInstance(t)
	for _, c := range []struct {
		args []script.Value
		want string
	}{
		{[]script.Value{"mysql://x"}, "redis.open: mysql://x is not a Redis URL"},
		{[]script.Value{"redis://u:secret@x:-1"}, "is not a Redis URL"},
		{[]script.Value{"redis://x", script.Map{"pool_size": int64(0)}}, "redis.open: option pool_size: want a whole number in 1..100000, got 0"},
		{[]script.Value{"redis://x", script.Map{"retries": int64(1)}}, `redis.open: unknown option "retries"`},
	} {
		r := inst.Invoke(openFn(inst), nil, c.args...)
		if !strings.Contains(r.Usage, c.want) || strings.Contains(r.Usage, "secret") {
			t.Errorf("open%v: usage %q, want %q", c.args, r.Usage, c.want)
		}
	}
	h := open(t, inst, "redis://127.0.0.1:1/0")
	if r := inst.Invoke(method(h, "call"), nil, "PING"); !strings.Contains(r.Usage, "without its client") {
		t.Errorf("call without its receiver: %q", r.Usage)
	}
	if r := inst.Invoke(method(h, "subscribe"), h, script.List{}, inst.Func(nil)); !strings.Contains(r.Usage, "no channel") {
		t.Errorf("subscribe to no channel: %q", r.Usage)
	}
}

// TestInvokeCall: replies and failures settle the call; with a callback
// the callback gets them on the instance's worker (Next).
func TestInvokeCall(t *testing.T) {
	srv := testserver.Redis(t)
	inst := scripttest.NewInstance(t)
	h := open(t, inst, srv.URL)
	call := method(h, "call")
	if v, err := inst.Invoke(call, h, "SET", "k", []byte{0xff, 1, 2}).Await(scripttest.WaitLimit); v != "OK" || err != nil {
		t.Fatalf("SET = %v, %v", v, err)
	}
	if v, err := inst.Invoke(call, h, "GET", "nope").Await(scripttest.WaitLimit); v != nil || err != nil {
		t.Errorf("GET nope = %v, %v", v, err)
	}
	_, err := inst.Invoke(call, h, "LPUSH", "k", "x").Await(scripttest.WaitLimit)
	if script.ErrorCode(err) != "WRONGTYPE" || !strings.HasPrefix(err.Error(), "redis.call LPUSH: WRONGTYPE ") {
		t.Errorf("LPUSH on a string: %v [%v]", err, script.ErrorCode(err))
	}
	var got []script.Value
	cb := inst.Func(func(args ...script.Value) script.Value { got = args; return nil })
	r := inst.Invoke(call, h, "GET", "k", cb)
	if v, err := r.Await(scripttest.WaitLimit); string(v.([]byte)) != "\xff\x01\x02" || err != nil {
		t.Errorf("GET k = %q, %v", v, err)
	}
	if !inst.Next(scripttest.WaitLimit) || len(got) != 1 || string(got[0].([]byte)) != "\xff\x01\x02" {
		t.Errorf("the callback got %v", got)
	}
	v, err := inst.Invoke(method(h, "pipeline"), h, script.List{script.List{"INCR", "n"}, script.List{"GET", "nope"}}).Await(scripttest.WaitLimit)
	if l, ok := v.(script.List); err != nil || !ok || len(l) != 2 || l[0] != int64(1) || l[1] != script.Null {
		t.Errorf("pipeline = %v, %v", v, err)
	}
}

// TestInvokeEndsWithInstance: closing the instance (a reload) ends its
// calls and its subscriptions: a BLPOP that would block forever is
// unblocked at once, and the subscription leaves the server.
func TestInvokeEndsWithInstance(t *testing.T) {
	srv := testserver.Redis(t)
	inst := scripttest.NewInstance(t)
	h := open(t, inst, srv.URL)
	r := inst.Invoke(method(h, "call"), h, "BLPOP", "q", int64(0))
	sub := inst.Invoke(method(h, "subscribe"), h, "ch", inst.Func(func(...script.Value) script.Value { return nil }))
	if sub.Usage != "" {
		t.Fatal(sub.Usage)
	}
	if inst.Owned() != 1 {
		t.Errorf("the instance owns %d resources, want the subscription", inst.Owned())
	}
	eventually(t, "BLPOP to block", func() bool { return count(clients(t, srv), "flags=b") == 1 })
	eventually(t, "the subscription", func() bool { return srv.MustDo("PUBSUB", "NUMSUB", "ch") == "ch\n1" })
	if _, err := r.Await(100 * time.Millisecond); err == nil || !strings.Contains(err.Error(), "did not settle") {
		t.Fatalf("before the close: %v", err)
	}
	inst.Close()
	_, err := r.Await(5 * time.Second)
	if script.ErrorCode(err) != "CANCELLED" {
		t.Errorf("BLPOP after the close: %v [%v]", err, script.ErrorCode(err))
	}
	eventually(t, "no blocked client", func() bool { return count(clients(t, srv), "flags=b") == 0 })
	eventually(t, "the subscription to end", func() bool { return srv.MustDo("PUBSUB", "NUMSUB", "ch") == "ch\n0" })
	if got := srv.MustDo("RPUSH", "q", "x"); got != "1" {
		t.Errorf("RPUSH q = %s: the BLPOP took it after all", got)
	}
}

// TestInvokeAutoPipeline: calls made while the pool's connections are busy
// go out together in one pipeline, each settled with its own reply in the
// order made; a failing command in the middle fails only its own call.
func TestInvokeAutoPipeline(t *testing.T) {
	srv := testserver.Redis(t)
	inst := scripttest.NewInstance(t)
	h := open(t, inst, srv.URL, script.Map{"pool_size": int64(1), "min_idle": int64(0)})
	call := method(h, "call")
	if _, err := inst.Invoke(call, h, "SET", "s", "text").Await(scripttest.WaitLimit); err != nil {
		t.Fatal(err)
	}
	// Another pool pauses the server, so the first of the calls below
	// waits on the one connection while the others queue behind it.
	other := open(t, inst, srv.URL, script.Map{"pool_size": int64(2)})
	if _, err := inst.Invoke(method(other, "call"), other, "CLIENT", "PAUSE", int64(300), "ALL").Await(scripttest.WaitLimit); err != nil {
		t.Fatal(err)
	}
	before := imredis.Pipelines(h)
	const n = 200
	results := make([]*scripttest.Result, n)
	for i := range results {
		if i == n/2 {
			results[i] = inst.Invoke(call, h, "INCR", "s") // not an integer
			continue
		}
		results[i] = inst.Invoke(call, h, "INCR", "n")
	}
	want := int64(1)
	for i, r := range results {
		v, err := r.Await(scripttest.WaitLimit)
		if i == n/2 {
			if script.ErrorCode(err) != "ERR" || v != nil {
				t.Errorf("INCR on a string in the middle of a pipeline = %v, %v", v, err)
			}
			continue
		}
		if err != nil || v != want {
			t.Fatalf("call %d = %v, %v; want %d", i, v, err, want)
		}
		want++
	}
	if sent := imredis.Pipelines(h) - before; sent > 3 {
		t.Errorf("%d calls made while the connection was busy went out in %d pipelines, want at most 3", n, sent)
	}
}
