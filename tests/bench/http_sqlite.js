// Bench SQLite (tests/bench): GET /user?id=N answers row N of the bench's
// table as JSON, one point SELECT by primary key per request (await).
//   BENCH_SQLITE=/tmp/bench.db BENCH_POOL=4 PORT=9501 imscript run --workers 2 --no-watch tests/bench/http_sqlite.js
const db = imscript.sql.open("sqlite:" + imscript.env.BENCH_SQLITE,
  { max_open: Number(imscript.env.BENCH_POOL || 4) });

const srv = imscript.server({
  host: "127.0.0.1",
  port: Number(imscript.env.PORT || 9501),
  type: "http",
  worker_num: 2,
});

srv.route("GET", "/user", async (req, res) => {
  const id = Number(req.query.id);
  if (!Number.isInteger(id)) {
    res.json({ error: "bad id" }, 400);
    return;
  }
  let row;
  try {
    row = await db.queryRow("SELECT id, name, email, created FROM users WHERE id = ?", id);
  } catch (err) {
    res.json({ error: String(err.message) }, 500);
    return;
  }
  if (!row) {
    res.json({ error: "not found" }, 404);
    return;
  }
  res.json(row);
});
