// notes_api: an HTTP JSON API for notes, stored in SQLite, with async
// handlers: each awaits its query while the worker serves other requests.
//   imscript run scripts/js/notes_api.js
//   curl -s localhost:9511/notes -d '{"title":"milk","body":"2 l"}'
//   curl -s localhost:9511/notes          curl -s localhost:9511/notes/1
//   curl -s -X DELETE localhost:9511/notes/1
// The database is NOTES_DB (default notes.db beside this script).
const port = Number(imscript.env.PORT || 9511);
const db = imscript.sql.open("sqlite:" + (imscript.env.NOTES_DB || "notes.db"));

const srv = imscript.server({ host: "0.0.0.0", port, type: "http", worker_num: 2 });

// The table is made on first use, once per worker (IF NOT EXISTS makes
// the second one a no-op).
let ready = null;
function schema() {
  ready ??= db.exec(`CREATE TABLE IF NOT EXISTS notes (
      id INTEGER PRIMARY KEY AUTOINCREMENT,
      title TEXT NOT NULL,
      body TEXT NOT NULL DEFAULT '',
      created INTEGER NOT NULL)`).catch((err) => { ready = null; throw err; });
  return ready;
}

const fail = (res, status, message) => res.status(status).json({ error: message });

// id reads :id as a positive integer, or answers 400.
function id(req, res) {
  const n = Number(req.params.id);
  if (!Number.isInteger(n) || n < 1) {
    fail(res, 400, "id must be a positive integer");
    return null;
  }
  return n;
}

const note = (row) => ({ id: row.id, title: row.title, body: row.body, created: row.created });

// route runs an async handler and answers 500 with the error's message
// when a query fails.
const route = (method, path, fn) =>
  srv.route(method, path, async (req, res) => {
    try {
      await fn(req, res);
    } catch (err) {
      fail(res, 500, err.message);
    }
  });

route("GET", "/notes", async (req, res) => {
  await schema();
  const limit = Number(req.query.limit || 100);
  if (!Number.isInteger(limit) || limit < 1 || limit > 1000) return fail(res, 400, "limit must be 1 to 1000");
  const rows = await db.query("SELECT id, title, body, created FROM notes ORDER BY id LIMIT ?", limit);
  res.json(rows.map(note));
});

route("GET", "/notes/:id", async (req, res) => {
  const n = id(req, res);
  if (n === null) return;
  await schema();
  const row = await db.queryRow("SELECT id, title, body, created FROM notes WHERE id = ?", n);
  if (!row) return fail(res, 404, "no note " + n);
  res.json(note(row));
});

srv.route("POST", "/notes", async (req, res) => {
  const input = req.json(); // a body that is not JSON has been answered 400
  if (input === null || typeof input !== "object" || Array.isArray(input)) {
    return fail(res, 422, "the body must be a JSON object");
  }
  const title = input.title, body = input.body ?? "";
  if (typeof title !== "string" || title.length === 0 || Buffer.byteLength(title) > 200) {
    return fail(res, 422, "title: a string of 1 to 200 bytes is required");
  }
  if (typeof body !== "string" || Buffer.byteLength(body) > 10000) {
    return fail(res, 422, "body: a string of at most 10000 bytes");
  }
  try {
    await schema();
    const created = Math.floor(imscript.now());
    const r = await db.exec("INSERT INTO notes (title, body, created) VALUES (?, ?, ?)", title, body, created);
    res.status(201).header("Location", "/notes/" + r.last_insert_id)
      .json({ id: r.last_insert_id, title, body, created });
  } catch (err) {
    fail(res, 500, err.message);
  }
});

route("DELETE", "/notes/:id", async (req, res) => {
  const n = id(req, res);
  if (n === null) return;
  await schema();
  const r = await db.exec("DELETE FROM notes WHERE id = ?", n);
  if (r.rows_affected === 0) return fail(res, 404, "no note " + n);
  res.status(204).send();
});

srv.on("start", (srv) => {
  console.log("notes API on http://127.0.0.1:" + srv.port + "/notes");
});
