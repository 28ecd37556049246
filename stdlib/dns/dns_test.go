package dns_test

import (
	"strings"
	"testing"
	"time"

	"github.com/imscript/imscript/script"
	"github.com/imscript/imscript/script/scripttest"
	imdns "github.com/imscript/imscript/stdlib/dns"
)

const luaScript = `
local function await(f, ...)
  local co = coroutine.running()
  local n = select("#", ...)
  local args = {...}
  args[n + 1] = function(res, err, code) coroutine.resume(co, res, err, code) end
  f(unpack(args, 1, n + 1))
  return coroutine.yield()
end
local function try(name, ...)
  local v, err, code = await(imscript.dns.lookup, ...)
  if err then print(name .. " ! " .. err .. " [" .. tostring(code) .. "]") else print(name .. " " .. table.concat(v, ",")) end
end
coroutine.wrap(function()
  try("localhost", "localhost", { family = 4 })
  try("literal4", "127.0.0.1")
  try("literal6", "::1")
  try("literal6 as 4", "::1", { family = 4 })
  try("both", "both.test")
  try("both 4", "both.test", { family = 4 })
  try("both 6", "both.test", { family = 6 })
  try("v6only 4", "v6only.test", { family = 4 })
  try("gone", "gone.test")
  try("broken", "broken.test")
  try("slow", "slow.test", { timeout = 0.3 })
  print("done")
end)()
`

const jsScript = `
async function tryIt(name, ...args) {
  try { console.log(name + " " + (await imscript.dns.lookup(...args)).join(",")); } catch (e) { console.log(name + " ! " + e.message + " [" + e.code + "]"); }
}
imscript.after(1, async () => {
  await tryIt("localhost", "localhost", { family: 4 });
  await tryIt("literal4", "127.0.0.1");
  await tryIt("literal6", "::1");
  await tryIt("literal6 as 4", "::1", { family: 4 });
  await tryIt("both", "both.test");
  await tryIt("both 4", "both.test", { family: 4 });
  await tryIt("both 6", "both.test", { family: 6 });
  await tryIt("v6only 4", "v6only.test", { family: 4 });
  await tryIt("gone", "gone.test");
  await tryIt("broken", "broken.test");
  await tryIt("slow", "slow.test", { timeout: 0.3 });
  console.log("done");
});
`

const want = `localhost 127.0.0.1
literal4 127.0.0.1
literal6 ::1
literal6 as 4 ! dns.lookup ::1: no IPv4 address [NOTFOUND]
both 192.0.2.1,2001:db8::1
both 4 192.0.2.1
both 6 2001:db8::1
v6only 4 ! dns.lookup v6only.test: no IPv4 address [NOTFOUND]
gone ! dns.lookup gone.test: no such host [NOTFOUND]
broken ! dns.lookup broken.test: server misbehaving [SERVFAIL]
slow ! dns.lookup slow.test: timed out after 300ms [TIMEOUT]
done
`

// TestLookup: localhost and IP literals (no DNS asked), names of the fake
// server (two families, the family filter, NXDOMAIN, SERVFAIL, no answer
// within the timeout).
func TestLookup(t *testing.T) {
	fakeDNS(t)
	for _, lang := range scripttest.Langs {
		t.Run(lang, func(t *testing.T) {
			src := luaScript
			if lang == "js" {
				src = jsScript
			}
			h := scripttest.Start(t, scripttest.Options{Lang: lang, Src: src})
			h.Expect("done", want)
		})
	}
}

func TestLookupUsage(t *testing.T) {
	inst := scripttest.NewInstance(t)
	lookup := imdns.Module(inst).(script.Map)["lookup"].(script.Function)
	for _, c := range []struct {
		args []script.Value
		want string
	}{
		{nil, "dns.lookup: bad argument #1 (name): string expected, got no value"},
		{[]script.Value{""}, "the name is empty"},
		{[]script.Value{"x", script.Map{"family": int64(5)}}, "dns.lookup: option family: want 4 or 6, got 5"},
		{[]script.Value{"x", script.Map{"type": "A"}}, `dns.lookup: unknown option "type" (options: family, timeout)`},
	} {
		if r := inst.Invoke(lookup, nil, c.args...); !strings.Contains(r.Usage, c.want) {
			t.Errorf("lookup%v: usage %q, want %q", c.args, r.Usage, c.want)
		}
	}
}

// TestLookupInvoke: the callback form on a fake instance, and a lookup
// that ends with its instance.
func TestLookupInvoke(t *testing.T) {
	fakeDNS(t)
	inst := scripttest.NewInstance(t)
	lookup := imdns.Module(inst).(script.Map)["lookup"].(script.Function)
	var got []script.Value
	cb := inst.Func(func(args ...script.Value) script.Value { got = args; return nil })
	v, err := inst.Invoke(lookup, nil, "both.test", script.Map{"family": int64(6)}, cb).Await(scripttest.WaitLimit)
	if l, ok := v.(script.List); err != nil || !ok || len(l) != 1 || l[0] != "2001:db8::1" {
		t.Errorf("lookup = %v, %v", v, err)
	}
	if !inst.Next(scripttest.WaitLimit) || len(got) != 1 {
		t.Errorf("the callback got %v", got)
	}
	r := inst.Invoke(lookup, nil, "slow.test", script.Map{"timeout": 30.0})
	inst.Close()
	if _, err := r.Await(5 * time.Second); script.ErrorCode(err) != "CANCELLED" {
		t.Errorf("a lookup when its instance closes: %v [%v]", err, script.ErrorCode(err))
	}
}

// TestSuspendingLua: inside a handler, lookup without a callback suspends
// it and returns the addresses, or nil, the message and the code.
func TestSuspendingLua(t *testing.T) {
	out, _ := scripttest.Run(t, scripttest.Options{Lang: "lua", Src: `print("sleep " .. type(imscript.sleep))`}, "sleep ")
	if !strings.Contains(out, "sleep function") {
		t.Skip("suspending Lua handlers not in this build yet")
	}
	fakeDNS(t)
	h := scripttest.Start(t, scripttest.Options{Lang: "lua", Src: `
imscript.after(1, function()
  print("both " .. table.concat(imscript.dns.lookup("both.test"), ","))
  local v, err, code = imscript.dns.lookup("gone.test")
  print("gone " .. tostring(v) .. " " .. err .. " [" .. code .. "]")
  print("done")
end)
`})
	h.Expect("done", "both 192.0.2.1,2001:db8::1\ngone nil dns.lookup gone.test: no such host [NOTFOUND]\ndone\n")
}
