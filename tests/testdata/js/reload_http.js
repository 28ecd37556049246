// Test helper for TestReloadDrainsRequests: an HTTP server whose answers
// name its version (the test rewrites the VERSION line and saves).
//   /slow    answers "slow <version>" after awaiting a 400 ms timer
//   /never   never answers
//   /        answers "<version>"
// Each request prints "got <path> <version>" when its handler runs.
// Env: PORT.
VERSION = "v1";
const srv = imscript.server({
  host: "127.0.0.1",
  port: Number(imscript.env.PORT),
  type: "http",
  worker_num: 2,
  max_wait_time: 1.5,
});

srv.on("request", async (req, res) => {
  const version = VERSION;
  console.log("got " + req.path + " " + version);
  if (req.path === "/slow") {
    await new Promise((resolve) => setTimeout(resolve, 400));
    res.send("slow " + version);
  } else if (req.path !== "/never") {
    res.send(version);
  }
});
