package redis_test

import (
	"strings"
	"testing"

	"github.com/imscript/imscript/internal/testserver"
	"github.com/imscript/imscript/internal/testutil"
	"github.com/imscript/imscript/script/scripttest"
)

// needSuspending skips unless Lua handlers can suspend on a call without a
// callback (the host has imscript.sleep then).
func needSuspending(t *testing.T) {
	t.Helper()
	out, _ := scripttest.Run(t, scripttest.Options{Lang: "lua", Src: `print("sleep " .. type(imscript.sleep))`}, "sleep ")
	if !strings.Contains(out, "sleep function") {
		t.Skip("suspending Lua handlers not in this build yet")
	}
}

// TestSuspendingLua: inside a handler, a call without a callback suspends
// it and returns the reply, or nil, the message and the code.
func TestSuspendingLua(t *testing.T) {
	needSuspending(t)
	srv := testserver.Redis(t)
	h := run(t, srv, "lua", "", map[string]string{"lua": `
imscript.after(1, function()
  print("set " .. show(r:call("SET", "k", "v")))
  local v, err = r:call("GET", "k")
  print("get " .. show(v) .. " " .. tostring(err))
  print("missing " .. show(r:call("GET", "nope")))
  local bad, msg, code = r:call("LPUSH", "k", "x")
  print("lpush " .. tostring(bad) .. " " .. msg .. " [" .. code .. "]")
  print("pipe " .. show(r:pipeline({ {"INCR", "n"}, {"GET", "nope"} })))
  local sub = r:subscribe("s", function(ch, m) print("msg " .. ch .. " " .. m) end)
  print("ready " .. tostring(sub:ready()))
  print("publish " .. show(r:call("PUBLISH", "s", "hi")))
  local ok, got = pcall(function() return r:call("GET", "k") end)
  print("pcall " .. tostring(ok) .. " " .. show(got))
  print("done")
end)
`}, scripttest.Options{})
	out := h.WaitStdout("done")
	h.WaitStdout("msg s hi")
	testutil.WantAll(t, "stdout", out,
		"set \"OK\"\n", "get \"v\" nil\n", "missing nil\n",
		"lpush nil redis.call LPUSH: WRONGTYPE Operation against a key holding the wrong kind of value [WRONGTYPE]\n",
		"pipe [1,null]\n", "ready true\n", "publish 1\n", "pcall true \"v\"\n")
}
