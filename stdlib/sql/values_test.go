package sql_test

import (
	"strings"
	"testing"

	"github.com/imscript/imscript/script/scripttest"
)

// luaPrelude is the Lua tests' helpers: ph(i) is the i-th placeholder,
// await(obj, method, ...) calls an asynchronous method with a callback
// from inside a coroutine and returns what the callback got (the Lua of
// today: no suspending handlers yet).
const luaPrelude = `
local sql, env = imscript.sql, imscript.env
local T, A = env.T, env.A
local function ph(i) if env.PH == "$" then return "$" .. i end return "?" end
local function phs(n) local t = {} for i = 1, n do t[i] = ph(i) end return table.concat(t, ", ") end
local function await(obj, method, ...)
  local co = coroutine.running()
  local n = select("#", ...)
  local args = {...}
  args[n + 1] = function(res, err, code) assert(coroutine.resume(co, res, err, code)) end
  obj[method](obj, unpack(args, 1, n + 1))
  return coroutine.yield()
end
local function show(v)
  if v == sql.null then return "null" end
  return type(v) .. " " .. tostring(v)
end
local function must(r, err) if err then error(err) end return r end
`

const jsPrelude = `
const sql = imscript.sql, env = imscript.env;
const T = env.T, A = env.A;
const ph = (i) => env.PH === "$" ? "$" + i : "?";
const phs = (n) => Array.from({ length: n }, (_, i) => ph(i + 1)).join(", ");
const show = (v) => v === null ? "null" : (Buffer.isBuffer(v) ? "bytes" : typeof v) + " " + String(v);
const fail = async (p) => { try { const v = await p; return [v, "resolved?!", undefined]; } catch (e) { return [null, e.message, e.code]; } };
`

const luaValues = luaPrelude + `
local db = sql.open(env.DSN)
coroutine.wrap(function()
  must(await(db, "exec", "DROP TABLE IF EXISTS " .. T))
  must(await(db, "exec", (env.CREATE:gsub("{T}", T))))
  local blob = {} for i = 0, 255 do blob[#blob + 1] = string.char(i) end blob = table.concat(blob)
  local text = "héllo ✓ 日本"
  local r = must(await(db, "exec", "INSERT INTO " .. T .. " (id, i, f, t, b, n, bo, d, ts, num) VALUES (" .. phs(10) .. ")",
    1, 42, 2.5, text, blob, nil, true, "2024-02-29", "2024-02-29 12:34:56.5", "12345678901234567890.0123456789"))
  print("insert " .. r.rows_affected)
  must(await(db, "exec", "INSERT INTO " .. T .. " (id, n) VALUES (" .. phs(2) .. ")", 2, sql.null))
  must(await(db, "exec", "INSERT INTO " .. T .. " (id, n) VALUES (" .. phs(2) .. ")", 3, "not null"))
  local row = must(await(db, "queryRow", "SELECT * FROM " .. T .. " WHERE id = " .. ph(1), 1))
  for _, k in ipairs{"id", "i", "f", "t", "n", "bo", "d", "ts", "num"} do print(k .. " " .. show(row[k])) end
  local ok = #row.b == 256
  for i = 1, 256 do ok = ok and row.b:byte(i) == i - 1 end
  print("b " .. #row.b .. " " .. tostring(ok) .. " text exact " .. tostring(row.t == text))
  for _, x in ipairs(must(await(db, "query", "SELECT id, n FROM " .. T .. " ORDER BY id"))) do print("row " .. x.id .. " " .. show(x.n)) end
  print("nulls " .. must(await(db, "queryRow", "SELECT COUNT(*) AS c FROM " .. T .. " WHERE n IS NULL")).c)
  print("none " .. tostring(await(db, "queryRow", "SELECT id FROM " .. T .. " WHERE id = " .. ph(1), 99)))
  print("empty " .. #must(await(db, "query", "SELECT id FROM " .. T .. " WHERE id > " .. ph(1), 99)))
  row = must(await(db, "queryRow", env.BIG))
  print(string.format("int64 %.0f %.0f %.0f %s", row.max, row.big, row.min, tostring(row.big == 2^53)))
  must(await(db, "exec", "UPDATE " .. T .. " SET i = 9007199254740993 WHERE id = 3"))
  print(string.format("stored %.0f", must(await(db, "queryRow", "SELECT i FROM " .. T .. " WHERE id = 3")).i))
  print(string.format("as string %.0f", must(await(db, "queryRow", env.CASTBIG, "9223372036854775807")).x))
  print("as text " .. must(await(db, "queryRow", env.BIGTEXT)).x)
  must(await(db, "exec", "DROP TABLE IF EXISTS " .. A))
  must(await(db, "exec", (env.AUTO:gsub("{T}", A))))
  must(await(db, "exec", "INSERT INTO " .. A .. " (v) VALUES (" .. ph(1) .. ")", "a"))
  r = must(await(db, "exec", "INSERT INTO " .. A .. " (v) VALUES (" .. ph(1) .. ")", "b"))
  print("auto " .. r.rows_affected .. " " .. tostring(r.last_insert_id))
  r = must(await(db, "exec", "UPDATE " .. T .. " SET t = " .. ph(1) .. " WHERE id < " .. ph(2), "x", 3))
  print("updated " .. r.rows_affected)
  local res, err, code = await(db, "query", "SELEC 1")
  print("syntax " .. tostring(res) .. " " .. tostring(code) .. " " .. err)
  res, err, code = await(db, "exec", "INSERT INTO " .. T .. " (id) VALUES (" .. ph(1) .. ")", 1)
  print("duplicate " .. tostring(res) .. " " .. tostring(code) .. " " .. tostring(err:find("sql.exec: ", 1, true) == 1))
  local quick = sql.open(env.DSN, { timeout = 0.2 })
  res, err, code = await(quick, "query", env.SLOW)
  print("slow " .. tostring(res) .. " " .. tostring(code) .. " " .. err)
  print("after " .. must(await(quick, "queryRow", "SELECT 1 AS one")).one)
  local other = sql.open(env.DSN)
  other:close()
  res, err = await(other, "query", "SELECT 1 AS one")
  print("closed " .. tostring(res) .. " " .. err)
  print("still " .. must(await(db, "queryRow", "SELECT 1 AS one")).one)
  print("done")
end)()
`

const jsValues = jsPrelude + `
const db = sql.open(env.DSN);
imscript.after(1, async () => {
  await db.exec("DROP TABLE IF EXISTS " + T);
  await db.exec(env.CREATE.replace("{T}", T));
  const blob = Buffer.from(Array.from({ length: 256 }, (_, i) => i));
  const text = "héllo ✓ 日本";
  let r = await db.exec("INSERT INTO " + T + " (id, i, f, t, b, n, bo, d, ts, num) VALUES (" + phs(10) + ")",
    1, 42, 2.5, text, blob, undefined, true, "2024-02-29", "2024-02-29 12:34:56.5", "12345678901234567890.0123456789");
  console.log("insert " + r.rows_affected);
  await db.exec("INSERT INTO " + T + " (id, n) VALUES (" + phs(2) + ")", 2, sql.null);
  await db.exec("INSERT INTO " + T + " (id, n) VALUES (" + phs(2) + ")", 3, "not null");
  let row = await db.queryRow("SELECT * FROM " + T + " WHERE id = " + ph(1), 1);
  for (const k of ["id", "i", "f", "t", "n", "bo", "d", "ts", "num"]) console.log(k + " " + show(row[k]));
  let ok = Buffer.isBuffer(row.b) && row.b.length === 256;
  for (let i = 0; i < 256; i++) ok = ok && row.b[i] === i;
  console.log("b " + row.b.length + " " + ok + " text exact " + (row.t === text));
  for (const x of await db.query("SELECT id, n FROM " + T + " ORDER BY id")) console.log("row " + x.id + " " + show(x.n));
  console.log("nulls " + (await db.queryRow("SELECT COUNT(*) AS c FROM " + T + " WHERE n IS NULL")).c);
  console.log("none " + (await db.queryRow("SELECT id FROM " + T + " WHERE id = " + ph(1), 99)));
  console.log("empty " + (await db.query("SELECT id FROM " + T + " WHERE id > " + ph(1), 99)).length);
  row = await db.queryRow(env.BIG);
  console.log("int64 " + String(row.max) + " " + String(row.big) + " " + String(row.min) + " " + (row.big === 2 ** 53));
  await db.exec("UPDATE " + T + " SET i = 9007199254740993 WHERE id = 3");
  console.log("stored " + String((await db.queryRow("SELECT i FROM " + T + " WHERE id = 3")).i));
  console.log("as string " + String((await db.queryRow(env.CASTBIG, "9223372036854775807")).x));
  console.log("as text " + (await db.queryRow(env.BIGTEXT)).x);
  await db.exec("DROP TABLE IF EXISTS " + A);
  await db.exec(env.AUTO.replace("{T}", A));
  await db.exec("INSERT INTO " + A + " (v) VALUES (" + ph(1) + ")", "a");
  r = await db.exec("INSERT INTO " + A + " (v) VALUES (" + ph(1) + ")", "b");
  console.log("auto " + r.rows_affected + " " + r.last_insert_id);
  r = await db.exec("UPDATE " + T + " SET t = " + ph(1) + " WHERE id < " + ph(2), "x", 3);
  console.log("updated " + r.rows_affected);
  let [res, err, code] = await fail(db.query("SELEC 1"));
  console.log("syntax " + res + " " + code + " " + err);
  [res, err, code] = await fail(db.exec("INSERT INTO " + T + " (id) VALUES (" + ph(1) + ")", 1));
  console.log("duplicate " + res + " " + code + " " + err.startsWith("sql.exec: "));
  const quick = sql.open(env.DSN, { timeout: 0.2 });
  [res, err, code] = await fail(quick.query(env.SLOW));
  console.log("slow " + res + " " + code + " " + err);
  console.log("after " + (await quick.queryRow("SELECT 1 AS one")).one);
  const other = sql.open(env.DSN);
  other.close();
  [res, err] = await fail(other.query("SELECT 1 AS one"));
  console.log("closed " + res + " " + err);
  console.log("still " + (await db.queryRow("SELECT 1 AS one")).one);
  console.log("done");
});
`

// TestValues: every value type both ways, NULL both ways, bytes with all
// 256 values, UTF-8 text, 64-bit integers (exact in JS; the nearest
// float64 in Lua), exec's counts and ids, a syntax error's and a
// duplicate key's codes, a timeout that leaves the handle usable, and a
// closed handle beside an open one on the same pool.
func TestValues(t *testing.T) {
	eachDatabase(t, func(t *testing.T, d *database, lang string) {
		src := map[string]string{"lua": luaValues, "js": jsValues}[lang]
		h := scripttest.Start(t, scripttest.Options{Lang: lang, Src: src, Env: d.env(t, lang), Files: files})
		// Lua numbers are float64: an int64 beyond 2^53 reads as the
		// nearest one (printed exactly by %.0f). JS gets it exact, as a
		// BigInt. CAST(... AS TEXT) is exact in both.
		int64s := "int64 9223372036854775808 9007199254740992 -9223372036854775808 true\nstored 9007199254740992\nas string 9223372036854775808\n"
		null := "nil"
		if lang == "js" {
			int64s = "int64 9223372036854775807 9007199254740993 -9223372036854775808 false\nstored 9007199254740993\nas string 9223372036854775807\n"
			null = "null"
		}
		int64s += "as text 9223372036854775807\n"
		syntaxCode := d.syntaxCode
		want := "insert 1\n" +
			"id number 1\ni number 42\nf number 2.5\nt string héllo ✓ 日本\nn null\nbo " + d.boolShow + "\n" +
			"d string 2024-02-29\nts string 2024-02-29T12:34:56.5Z\nnum string 12345678901234567890.0123456789\n" +
			"b 256 true text exact true\n" +
			"row 1 null\nrow 2 null\nrow 3 string not null\nnulls 2\n" +
			"none " + null + "\nempty 0\n" + int64s +
			"auto 1 " + orWord(d.autoID, lang) + "\nupdated 2\n" +
			"syntax " + null + " " + syntaxCode + " " + d.syntaxMsg + "\n" +
			"duplicate " + null + " " + d.dupCode + " true\n" +
			"slow " + null + " timeout sql.query: query timed out after 200ms\n" +
			"after 1\n" +
			"closed " + null + " sql.query: the handle is closed (db:close() was called, or its script version has ended)\n" +
			"still 1\ndone\n"
		got := h.WaitStdout("done")
		if got != want {
			t.Fatalf("the script printed:\n%s\nwant:\n%s\ndiff at: %s", got, want, firstDiff(got, want))
		}
	})
}

// firstDiff is the first line that differs.
func firstDiff(got, want string) string {
	g, w := strings.Split(got, "\n"), strings.Split(want, "\n")
	for i := range w {
		if i >= len(g) || g[i] != w[i] {
			if i < len(g) {
				return "got " + g[i] + " | want " + w[i]
			}
			return "missing " + w[i]
		}
	}
	return "(extra lines)"
}
