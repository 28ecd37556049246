package sql_test

import (
	"strings"
	"testing"

	"github.com/imscript/imscript/script/scripttest"
)

// luaSuspends says whether Lua handlers can suspend (API.md, "Suspending
// calls"): imscript.sleep exists where they can.
func luaSuspends(t *testing.T) bool {
	t.Helper()
	out, _ := scripttest.Run(t, scripttest.Options{Lang: "lua", Src: `print("sleep " .. type(imscript.sleep))`}, "sleep ")
	return strings.Contains(out, "sleep function")
}

// The Lua of API.md: inside a handler, calls without a callback suspend
// it and return the result (or nil, err, code); a transaction's fn
// suspends the same way, and raising in it rolls back.
const luaSuspending = `
local sql, env = imscript.sql, imscript.env
local function ph(i) if env.PH == "$" then return "$" .. i end return "?" end
imscript.after(1, function()
  local db = sql.open(env.DSN)
  local T = env.T
  assert(db:exec("DROP TABLE IF EXISTS " .. T))
  assert(db:exec((env.CREATE:gsub("{T}", T))))
  local r, err = db:exec("INSERT INTO " .. T .. " (id, t) VALUES (" .. ph(1) .. ", " .. ph(2) .. ")", 1, "a")
  print("insert " .. tostring(r and r.rows_affected) .. " " .. tostring(err))
  local rows = db:query("SELECT id, t, n FROM " .. T)
  print("rows " .. #rows .. " " .. rows[1].t .. " " .. tostring(rows[1].n == sql.null))
  print("none " .. tostring(db:queryRow("SELECT id FROM " .. T .. " WHERE id = " .. ph(1), 99)))
  local res, msg, code = db:query("SELEC 1")
  print("syntax " .. tostring(res) .. " " .. tostring(code))
  local ok, perr = pcall(function() return db:queryRow("SELECT 1 AS one").one end)
  print("pcall " .. tostring(ok) .. " " .. tostring(perr))
  local out = db:transaction(function(tx)
    tx:exec("INSERT INTO " .. T .. " (id, t) VALUES (" .. ph(1) .. ", " .. ph(2) .. ")", 2, "b")
    return tx:queryRow("SELECT COUNT(*) AS c FROM " .. T).c
  end)
  print("tx " .. tostring(out))
  res, msg = db:transaction(function(tx)
    tx:exec("INSERT INTO " .. T .. " (id, t) VALUES (" .. ph(1) .. ", " .. ph(2) .. ")", 3, "c")
    error("boom")
  end)
  print("raised " .. tostring(res) .. " " .. tostring(msg and msg:find("boom", 1, true) ~= nil) .. " " ..
    db:queryRow("SELECT COUNT(*) AS c FROM " .. T).c)
  res, msg, code = db:transaction(function(tx)
    tx:exec("INSERT INTO " .. T .. " (id, t) VALUES (" .. ph(1) .. ", " .. ph(2) .. ")", 4, "d")
    local _, e = tx:exec("INSERT INTO " .. T .. " (id, t) VALUES (" .. ph(1) .. ", " .. ph(2) .. ")", 1, "dup")
    return "never"
  end)
  print("failed " .. tostring(res) .. " " .. tostring(code) .. " " .. db:queryRow("SELECT COUNT(*) AS c FROM " .. T).c)
  print("done")
end)
`

// TestLuaSuspending runs the suspending style on every database once the
// host has it; until then it skips.
func TestLuaSuspending(t *testing.T) {
	if !luaSuspends(t) {
		t.Skip("suspending Lua handlers not in this build yet")
	}
	for _, d := range databases() {
		t.Run(d.name, func(t *testing.T) {
			h := scripttest.Start(t, scripttest.Options{Lang: "lua", Src: luaSuspending, Env: d.env(t, "lua"), Files: files})
			want := "insert 1 nil\nrows 1 a true\nnone nil\nsyntax nil " + d.syntaxCode + "\npcall true 1\n" +
				"tx 2\nraised nil true 2\nfailed nil " + d.dupCode + " 2\ndone\n"
			if got := h.WaitStdout("done"); got != want {
				t.Fatalf("the script printed:\n%s\nwant:\n%s\ndiff at: %s", got, want, firstDiff(got, want))
			}
		})
	}
}
