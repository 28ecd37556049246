-- notes_api: an HTTP JSON API for notes, stored in SQLite, in the
-- suspending style: each handler waits for its query as an OpenResty or
-- Swoole handler would, while the worker serves other requests.
--   imscript run scripts/lua/notes_api.lua
--   curl -s localhost:9511/notes -d '{"title":"milk","body":"2 l"}'
--   curl -s localhost:9511/notes          curl -s localhost:9511/notes/1
--   curl -s -X DELETE localhost:9511/notes/1
-- The database is NOTES_DB (default notes.db beside this script).
local port = tonumber(imscript.env.PORT or "9511")
local db = imscript.sql.open("sqlite:" .. (imscript.env.NOTES_DB or "notes.db"))

local srv = imscript.server{ host = "0.0.0.0", port = port, type = "http", worker_num = 2 }

-- The table is made on first use, once per worker (IF NOT EXISTS makes
-- the second one a no-op): the main chunk cannot wait for a query.
local ready = false
local function schema()
    if ready then return true end
    local ok, err = db:exec([[CREATE TABLE IF NOT EXISTS notes (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        title TEXT NOT NULL,
        body TEXT NOT NULL DEFAULT '',
        created INTEGER NOT NULL)]])
    ready = ok ~= nil
    return ready, err
end

local function fail(res, status, message)
    return res:status(status):json{ error = message }
end

-- id reads :id as a positive integer, or answers 400.
local function id(req, res)
    local n = tonumber(req.params.id)
    if not n or n < 1 or n ~= math.floor(n) then
        fail(res, 400, "id must be a positive integer")
        return nil
    end
    return n
end

local function note(row)
    return { id = row.id, title = row.title, body = row.body, created = row.created }
end

srv:route("GET", "/notes", function(req, res)
    local ok, err = schema()
    if not ok then return fail(res, 500, err) end
    local limit = tonumber(req.query.limit or "100")
    if not limit or limit < 1 or limit > 1000 then return fail(res, 400, "limit must be 1 to 1000") end
    local rows, qerr = db:query("SELECT id, title, body, created FROM notes ORDER BY id LIMIT ?", math.floor(limit))
    if not rows then return fail(res, 500, qerr) end
    local out = {}
    for i, row in ipairs(rows) do out[i] = note(row) end
    if #out == 0 then out = imscript.json.empty_array end
    res:json(out)
end)

srv:route("GET", "/notes/:id", function(req, res)
    local n = id(req, res)
    if not n then return end
    local ok, err = schema()
    if not ok then return fail(res, 500, err) end
    local row, qerr = db:queryRow("SELECT id, title, body, created FROM notes WHERE id = ?", n)
    if qerr then return fail(res, 500, qerr) end
    if not row then return fail(res, 404, "no note " .. n) end
    res:json(note(row))
end)

srv:route("POST", "/notes", function(req, res)
    local input = req:json() -- a body that is not JSON has been answered 400
    if type(input) ~= "table" or input[1] ~= nil then return fail(res, 422, "the body must be a JSON object") end
    local title, body = input.title, input.body or ""
    if type(title) ~= "string" or #title == 0 or #title > 200 then
        return fail(res, 422, "title: a string of 1 to 200 bytes is required")
    end
    if type(body) ~= "string" or #body > 10000 then
        return fail(res, 422, "body: a string of at most 10000 bytes")
    end
    local ok, err = schema()
    if not ok then return fail(res, 500, err) end
    local created = math.floor(imscript.now())
    local r, qerr = db:exec("INSERT INTO notes (title, body, created) VALUES (?, ?, ?)", title, body, created)
    if not r then return fail(res, 500, qerr) end
    res:status(201):header("Location", "/notes/" .. r.last_insert_id)
        :json{ id = r.last_insert_id, title = title, body = body, created = created }
end)

srv:route("DELETE", "/notes/:id", function(req, res)
    local n = id(req, res)
    if not n then return end
    local ok, err = schema()
    if not ok then return fail(res, 500, err) end
    local r, qerr = db:exec("DELETE FROM notes WHERE id = ?", n)
    if not r then return fail(res, 500, qerr) end
    if r.rows_affected == 0 then return fail(res, 404, "no note " .. n) end
    res:status(204):send()
end)

srv:on("start", function(srv)
    print("notes API on http://127.0.0.1:" .. srv.port .. "/notes")
end)
