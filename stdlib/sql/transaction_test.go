package sql_test

import (
	"strings"
	"testing"

	"github.com/imscript/imscript/script/scripttest"
)

// The Lua transactions are today's: fn issues its statements with
// callbacks (here through await in a coroutine of its own) and returns;
// the transaction commits once they have all settled.
const luaTransactions = luaPrelude + `
local db = sql.open(env.DSN)
local ins = "INSERT INTO " .. T .. " (id, t) VALUES (" .. phs(2) .. ")"
coroutine.wrap(function()
  must(await(db, "exec", "DROP TABLE IF EXISTS " .. T))
  must(await(db, "exec", (env.CREATE:gsub("{T}", T))))
  local function count(where) return must(await(db, "queryRow", "SELECT COUNT(*) AS c FROM " .. T .. " WHERE " .. where)).c end
  local res, err, code = await(db, "transaction", function(tx)
    coroutine.wrap(function()
      must(await(tx, "exec", ins, 10, "a"))
      must(await(tx, "exec", ins, 11, "b"))
      print("inside " .. must(await(tx, "queryRow", "SELECT COUNT(*) AS c FROM " .. T)).c)
    end)()
    return "committed"
  end)
  print("commit " .. tostring(res) .. " " .. tostring(err) .. " " .. count("id >= 10"))
  res, err = await(db, "transaction", function(tx)
    tx:exec(ins, 30, "first", function() end)
    tx:exec("UPDATE " .. T .. " SET t = " .. ph(1) .. " WHERE id = " .. ph(2), "second", 30, function() end)
    tx:queryRow("SELECT t FROM " .. T .. " WHERE id = " .. ph(1), 30, function(row) print("in order " .. row.t) end)
    return { n = 3 }
  end)
  print("ordered " .. tostring(res and res.n) .. " " .. tostring(err))
  local saved
  res, err, code = await(db, "transaction", function(tx)
    saved = tx
    tx:exec(ins, 20, "lost", function(r, e) print("first " .. tostring(e)) end)
    tx:exec(ins, 10, "duplicate", function(r, e, c) print("second " .. tostring(c)) end)
    return "never"
  end)
  print("rollback " .. tostring(res) .. " " .. tostring(code) .. " " ..
    tostring(err:find("sql.transaction: rolled back: sql.exec: ", 1, true) == 1) .. " " .. count("id = 20"))
  res, err = await(saved, "exec", ins, 21, "late")
  print("ended " .. tostring(res) .. " " .. err)
  print("done")
end)()
`

const jsTransactions = jsPrelude + `
const db = sql.open(env.DSN);
const ins = "INSERT INTO " + T + " (id, t) VALUES (" + phs(2) + ")";
imscript.after(1, async () => {
  await db.exec("DROP TABLE IF EXISTS " + T);
  await db.exec(env.CREATE.replace("{T}", T));
  const count = async (where) => (await db.queryRow("SELECT COUNT(*) AS c FROM " + T + " WHERE " + where)).c;
  let res = await db.transaction(async (tx) => {
    await tx.exec(ins, 10, "a");
    await tx.exec(ins, 11, "b");
    console.log("inside " + (await tx.queryRow("SELECT COUNT(*) AS c FROM " + T)).c);
    return "committed";
  });
  console.log("commit " + res + " null " + await count("id >= 10"));
  res = await db.transaction((tx) => {
    tx.exec(ins, 30, "first");
    tx.exec("UPDATE " + T + " SET t = " + ph(1) + " WHERE id = " + ph(2), "second", 30);
    tx.queryRow("SELECT t FROM " + T + " WHERE id = " + ph(1), 30).then((row) => console.log("in order " + row.t));
    return { n: 3 };
  });
  console.log("ordered " + res.n + " null");
  let saved;
  let [r, err, code] = await fail(db.transaction(async (tx) => {
    saved = tx;
    await tx.exec(ins, 20, "lost");
    console.log("first null");
    try { await tx.exec(ins, 10, "duplicate"); } catch (e) { console.log("second " + e.code); }
    return "never";
  }));
  console.log("rollback " + r + " " + code + " " + err.startsWith("sql.transaction: rolled back: sql.exec: ") + " " + await count("id = 20"));
  [r, err, code] = await fail(db.transaction(async (tx) => {
    await tx.exec(ins, 40, "thrown");
    throw new Error("boom");
  }));
  console.log("thrown " + r + " " + code + " " + err + " " + await count("id = 40"));
  [r, err] = await fail(saved.exec(ins, 21, "late"));
  console.log("ended " + r + " " + err);
  console.log("done");
});
`

// TestTransactions: commit (fn's result comes back), statements in the
// order they were called without waiting, rollback when a statement
// fails (even one whose error the script caught), rollback when a JS
// async fn throws, and a transaction's object refusing calls once it
// ended.
func TestTransactions(t *testing.T) {
	eachDatabase(t, func(t *testing.T, d *database, lang string) {
		src := map[string]string{"lua": luaTransactions, "js": jsTransactions}[lang]
		h := scripttest.Start(t, scripttest.Options{Lang: lang, Src: src, Env: d.env(t, lang), Files: files})
		null, thrown := "nil", ""
		if lang == "js" {
			null = "null"
			thrown = "thrown null undefined sql.transaction: rolled back: Error: boom 0\n"
		}
		want := "inside 2\ncommit committed " + null + " 2\n" +
			"in order second\nordered 3 " + null + "\n" +
			"first " + null + "\nsecond " + d.dupCode + "\n" +
			"rollback " + null + " " + d.dupCode + " true 0\n" + thrown +
			"ended " + null + " sql.exec: the transaction has ended\ndone\n"
		if got := h.WaitStdout("done"); got != want {
			t.Fatalf("the script printed:\n%s\nwant:\n%s\ndiff at: %s", got, want, firstDiff(got, want))
		}
	})
}

// TestTransactionRollsBackWhenFnRaises: fn raising at once (Lua, or a JS
// function that is not async) rolls back what its statements did (the
// host reports the raise through Instance.CallErr).
func TestTransactionRollsBackWhenFnRaises(t *testing.T) {
	srcs := map[string]string{
		"lua": luaPrelude + `
local db = sql.open("sqlite:data/raise.db")
coroutine.wrap(function()
  must(await(db, "exec", "CREATE TABLE t (id INTEGER PRIMARY KEY)"))
  local res, err = await(db, "transaction", function(tx)
    tx:exec("INSERT INTO t (id) VALUES (1)", function() end)
    error("boom")
  end)
  print("raised " .. tostring(res) .. " " .. tostring(err:find("sql.transaction: rolled back: ", 1, true) == 1) ..
    " " .. tostring(err:find("boom", 1, true) ~= nil) .. " " .. must(await(db, "queryRow", "SELECT COUNT(*) AS c FROM t")).c)
end)()
`,
		"js": jsPrelude + `
const db = sql.open("sqlite:data/raise.db");
imscript.after(1, async () => {
  await db.exec("CREATE TABLE t (id INTEGER PRIMARY KEY)");
  const [res, err] = await fail(db.transaction((tx) => { tx.exec("INSERT INTO t (id) VALUES (1)"); throw new Error("boom"); }));
  console.log("raised " + (res === null ? "nil" : res) + " " + err.startsWith("sql.transaction: rolled back: ") + " " +
    err.includes("boom") + " " + (await db.queryRow("SELECT COUNT(*) AS c FROM t")).c);
});
`,
	}
	for _, lang := range scripttest.Langs {
		t.Run(lang, func(t *testing.T) {
			h := scripttest.Start(t, scripttest.Options{Lang: lang, Src: srcs[lang], Files: files})
			if got := h.WaitStdout("raised"); !strings.Contains(got, "raised nil true true 0") {
				t.Fatalf("got %q, want a rollback naming the error", got)
			}
		})
	}
}
