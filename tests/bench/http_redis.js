// Bench Redis (tests/bench): GET /get?k=KEY answers the value of KEY as
// text, one Redis GET per request (await).
//   BENCH_REDIS=redis://127.0.0.1:6379/0 BENCH_POOL=4 PORT=9501 imscript run --workers 2 --no-watch tests/bench/http_redis.js
const r = imscript.redis.open(imscript.env.BENCH_REDIS,
  { pool_size: Number(imscript.env.BENCH_POOL || 4) });

const srv = imscript.server({
  host: "127.0.0.1",
  port: Number(imscript.env.PORT || 9501),
  type: "http",
  worker_num: 2,
});

srv.route("GET", "/get", async (req, res) => {
  let v;
  try {
    v = await r.call("GET", req.query.k || "");
  } catch (err) {
    res.status(500).end(String(err.message));
    return;
  }
  if (v === null || v === undefined) {
    res.status(404).end("not found");
    return;
  }
  res.header("Content-Type", "text/plain");
  res.end(v);
});
