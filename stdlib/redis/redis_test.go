package redis_test

import (
	"testing"

	"github.com/imscript/imscript/internal/testserver"
	"github.com/imscript/imscript/internal/testutil"
	"github.com/imscript/imscript/script/scripttest"
)

var replies = map[string]string{"lua": `
main(function()
  line("set", call("SET", "s", "hello"))
  line("get", call("GET", "s"))
  line("missing", call("GET", "nope"))
  line("incr", call("INCR", "n"))
  line("incrby", call("INCRBY", "n", 41))
  line("float", call("INCRBYFLOAT", "f", 1.5))
  line("push", call("RPUSH", "l", "a", "b", "c"))
  line("range", call("LRANGE", "l", 0, -1))
  line("empty", call("LRANGE", "nolist", 0, -1))
  line("mget", call("MGET", "s", "nope", "n"))
  line("hset", call("HSET", "h", "f1", "v1"))
  line("hgetall", call("HGETALL", "h"))
  line("wrongtype", call("LPUSH", "s", "x"))
  line("unknown", call("NOSUCH", "a"))
  line("ping", call("ping"))
  line("nested", call("EVAL", "return {1, 'two', {3, false}}", 0))
  line("errelem", call("EVAL", "return {1, redis.error_reply('MY oops')}", 0))
  print("done")
end)
`, "js": `
main(async () => {
  await line("set", call("SET", "s", "hello"));
  await line("get", call("GET", "s"));
  await line("missing", call("GET", "nope"));
  await line("incr", call("INCR", "n"));
  await line("incrby", call("INCRBY", "n", 41));
  await line("float", call("INCRBYFLOAT", "f", 1.5));
  await line("push", call("RPUSH", "l", "a", "b", "c"));
  await line("range", call("LRANGE", "l", 0, -1));
  await line("empty", call("LRANGE", "nolist", 0, -1));
  await line("mget", call("MGET", "s", "nope", "n"));
  await line("hset", call("HSET", "h", "f1", "v1"));
  await line("hgetall", call("HGETALL", "h"));
  await line("wrongtype", call("LPUSH", "s", "x"));
  await line("unknown", call("NOSUCH", "a"));
  await line("ping", call("ping"));
  await line("nested", call("EVAL", "return {1, 'two', {3, false}}", 0));
  await line("errelem", call("EVAL", "return {1, redis.error_reply('MY oops')}", 0));
  console.log("done");
});
`}

const repliesWant = `set "OK"
get "hello"
missing nil
incr 1
incrby 42
float "1.5"
push 3
range ["a","b","c"]
empty []
mget ["hello",null,"42"]
hset 1
hgetall ["f1","v1"]
wrongtype ! redis.call LPUSH: WRONGTYPE Operation against a key holding the wrong kind of value [WRONGTYPE]
unknown ! redis.call NOSUCH: ERR unknown command 'NOSUCH', with args beginning with: 'a'  [ERR]
ping "PONG"
nested [1,"two",[3,null]]
errelem [1,{code="MY",err="MY oops"}]
done
`

// TestReplies: every kind of reply (status, bulk, integer, nil, arrays
// with nils, nested arrays, error replies with their code, an error inside
// an array), numbers as arguments, RESP2 shapes (HGETALL a flat list).
func TestReplies(t *testing.T) {
	srv := testserver.Redis(t)
	for _, lang := range scripttest.Langs {
		t.Run(lang, func(t *testing.T) {
			srv.MustDo("FLUSHALL")
			h := run(t, srv, lang, "", replies, scripttest.Options{})
			h.Expect("done", want(lang, repliesWant))
		})
	}
}

var binary = map[string]string{"lua": `
main(function()
  local b = {}
  for i = 0, 255 do b[#b + 1] = string.char(i) end
  local all = table.concat(b)
  line("set", call("SET", "bin", all))
  local v = call("GET", "bin")
  print("bin " .. tostring(v == all) .. " " .. #v)
  line("strlen", call("STRLEN", "bin"))
  line("range", call("GETRANGE", "bin", 65, 67))
  local big = string.rep(all, 4096)
  line("setbig", call("SET", "big", big))
  v = call("GET", "big")
  print("big " .. tostring(v == big) .. " " .. #v)
  local u = "héllo wörld ✓"
  call("SET", "utf", u)
  print("utf " .. tostring(call("GET", "utf") == u))
  local list = call("MGET", "bin", "utf")
  print("mget " .. tostring(list[1] == all) .. " " .. tostring(list[2] == u))
  print("done")
end)
`, "js": `
main(async () => {
  const all = Buffer.alloc(256);
  for (let i = 0; i < 256; i++) all[i] = i;
  const same = (a, b) => Buffer.isBuffer(a) && a.equals(b);
  await line("set", call("SET", "bin", all));
  let v = await call("GET", "bin");
  console.log("bin " + same(v, all) + " " + v.length);
  await line("strlen", call("STRLEN", "bin"));
  await line("range", call("GETRANGE", "bin", 65, 67));
  const big = Buffer.concat(new Array(4096).fill(all));
  await line("setbig", call("SET", "big", big));
  v = await call("GET", "big");
  console.log("big " + same(v, big) + " " + v.length);
  const u = "héllo wörld ✓";
  await call("SET", "utf", u);
  console.log("utf " + ((await call("GET", "utf")) === u));
  const list = await call("MGET", "bin", "utf");
  console.log("mget " + same(list[0], all) + " " + (list[1] === u));
  console.log("done");
});
`}

// TestBinary: every byte value both ways, a 1 MiB value, UTF-8 text; JS
// gets a Buffer for a value that is not UTF-8 and a string for one that
// is.
func TestBinary(t *testing.T) {
	srv := testserver.Redis(t)
	for _, lang := range scripttest.Langs {
		t.Run(lang, func(t *testing.T) {
			srv.MustDo("FLUSHALL")
			h := run(t, srv, lang, "", binary, scripttest.Options{})
			h.Expect("done", `set "OK"
bin true 256
strlen 256
range "ABC"
setbig "OK"
big true 1048576
utf true
mget true true
done
`)
			if got := srv.MustDo("STRLEN", "big"); got != "1048576" {
				t.Errorf("STRLEN big = %s", got)
			}
		})
	}
}

var pipelines = map[string]string{"lua": `
main(function()
  line("pipe", pipeline({ {"SET", "a", "1"}, {"INCR", "a"}, {"GET", "missing"}, {"LPUSH", "a", "x"}, {"MGET", "a", "missing"}, {"INCRBY", "a", 10} }))
  line("tx", pipeline({ {"MULTI"}, {"INCR", "t"}, {"LPUSH", "a", "x"}, {"INCR", "t"}, {"EXEC"} }))
  line("empty", pipeline({}))
  line("one", pipeline({ {"PING"} }))
  print("done")
end)
`, "js": `
main(async () => {
  await line("pipe", pipeline([["SET", "a", "1"], ["INCR", "a"], ["GET", "missing"], ["LPUSH", "a", "x"], ["MGET", "a", "missing"], ["INCRBY", "a", 10]]));
  await line("tx", pipeline([["MULTI"], ["INCR", "t"], ["LPUSH", "a", "x"], ["INCR", "t"], ["EXEC"]]));
  await line("empty", pipeline([]));
  await line("one", pipeline([["PING"]]));
  console.log("done");
});
`}

// TestPipeline: replies in order, a nil reply and an error reply in their
// slots, MULTI/EXEC inside a pipeline (an error inside EXEC's reply).
func TestPipeline(t *testing.T) {
	srv := testserver.Redis(t)
	for _, lang := range scripttest.Langs {
		t.Run(lang, func(t *testing.T) {
			srv.MustDo("FLUSHALL")
			h := run(t, srv, lang, "", pipelines, scripttest.Options{})
			h.Expect("done", `pipe ["OK",2,null,{code="WRONGTYPE",err="WRONGTYPE Operation against a key holding the wrong kind of value"},["2",null],12]
tx ["OK","QUEUED","QUEUED","QUEUED",[1,{code="WRONGTYPE",err="WRONGTYPE Operation against a key holding the wrong kind of value"},2]]
empty []
one ["PONG"]
done
`)
		})
	}
}

var usage = map[string]string{"lua": `
local function try(name, f, ...)
  local ok, err = pcall(f, ...)
  print(name .. ": " .. tostring(err):gsub("^.-:%d+: ", ""))
end
try("no command", r.call, r)
try("empty name", r.call, r, "")
try("bad arg", r.call, r, "SET", "k", true)
try("table arg", r.call, r, "SET", "k", {})
try("subscribe", r.call, r, "SUBSCRIBE", "x")
try("select", r.call, r, "select", 2)
try("multi", r.call, r, "MULTI")
try("pipe type", r.pipeline, r, "GET")
try("pipe entry", r.pipeline, r, { "GET" })
try("pipe multi", r.pipeline, r, { {"MULTI"}, {"INCR", "a"} })
try("pipe forever", r.pipeline, r, { {"BLPOP", "q", 0} })
try("open url", imscript.redis.open, "http://127.0.0.1/")
try("open option", imscript.redis.open, imscript.env.URL, { pool = 3 })
try("open type", imscript.redis.open, imscript.env.URL, { timeout = "soon" })
try("handler", r.subscribe, r, "ch")
print("done")
`, "js": `
function tryIt(name, f) {
  try { f(); console.log(name + ": no error?!"); } catch (e) { console.log(name + ": " + e.message); }
}
tryIt("no command", () => r.call());
tryIt("empty name", () => r.call(""));
tryIt("bad arg", () => r.call("SET", "k", true));
tryIt("table arg", () => r.call("SET", "k", {}));
tryIt("subscribe", () => r.call("SUBSCRIBE", "x"));
tryIt("select", () => r.call("select", 2));
tryIt("multi", () => r.call("MULTI"));
tryIt("pipe type", () => r.pipeline("GET"));
tryIt("pipe entry", () => r.pipeline(["GET"]));
tryIt("pipe multi", () => r.pipeline([["MULTI"], ["INCR", "a"]]));
tryIt("pipe forever", () => r.pipeline([["BLPOP", "q", 0]]));
tryIt("open url", () => imscript.redis.open("http://127.0.0.1/"));
tryIt("open option", () => imscript.redis.open(imscript.env.URL, { pool: 3 }));
tryIt("open type", () => imscript.redis.open(imscript.env.URL, { timeout: "soon" }));
tryIt("handler", () => r.subscribe("ch"));
console.log("done");
`}

// TestUsage: misuse raises at the call, naming what is wrong.
func TestUsage(t *testing.T) {
	srv := testserver.Redis(t)
	for _, lang := range scripttest.Langs {
		t.Run(lang, func(t *testing.T) {
			h := run(t, srv, lang, "", usage, scripttest.Options{})
			out := h.WaitStdout("done")
			testutil.WantAll(t, "stdout", out,
				"no command: redis.call: the command name is missing",
				"empty name: redis.call: argument 1: the command name must be a non-empty string",
				"bad arg: redis.call: argument 3: want a string, bytes or a number, got boolean",
				"table arg: redis.call: argument 3: want a string, bytes or a number, got ",
				"subscribe: redis.call: SUBSCRIBE is not available on a shared connection: use r:subscribe(channel, fn)",
				"select: redis.call: SELECT is not available on a shared connection: put the database in the URL",
				"multi: redis.call: MULTI needs the commands around it on one connection",
				"pipe type: redis.pipeline: want a list of commands, got string",
				`pipe entry: redis.pipeline: command 1: want a list like {"GET", "key"}, got string`,
				"pipe multi: redis.pipeline: MULTI without EXEC or DISCARD",
				"pipe forever: redis.pipeline: command 1: BLPOP with no timeout blocks forever: run it with r:call",
				"open url: redis.open: http://127.0.0.1/ is not a Redis URL",
				`open option: redis.open: unknown option "pool" (options: dial_timeout, min_idle, pool_size, read_timeout, timeout, write_timeout)`,
				"open type: redis.open: option timeout: want a number, got string",
				"handler: ", "(handler)",
			)
		})
	}
}
