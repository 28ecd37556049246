// The tests of server.js: `imscript test` starts the server on a free
// port (imscript.env.PORT), then runs each test.it in order. A failed
// t.equal, t.ok or any exception fails the test.
const t = imscript.test;
const base = "http://127.0.0.1:" + (imscript.env.PORT || "8080");

// request makes an HTTP request; the test awaits the answer.
function request(method, path, body) {
  return imscript.http.request({
    method, url: base + path, body,
    headers: body ? { "Content-Type": "application/json" } : undefined,
  });
}

t.it("GET / says hello", async () => {
  const res = await request("GET", "/");
  t.equal(res.status, 200);
  t.equal(res.body, "Hello from imscript\n");
});

t.it("GET /hello/:name greets in JSON", async () => {
  const res = await request("GET", "/hello/ada");
  t.equal(res.status, 200);
  t.equal(JSON.parse(res.body.toString()), { greeting: "Hello, ada!" });
});

t.it("POST /sum adds the numbers", async () => {
  const res = await request("POST", "/sum", JSON.stringify({ numbers: [1, 2, 3.5] }));
  t.equal(res.status, 200);
  t.equal(JSON.parse(res.body.toString()), { sum: 6.5 });
});

t.it("POST /sum refuses a body that is not JSON", async () => {
  t.equal((await request("POST", "/sum", "{not json")).status, 400);
});

t.it("an unknown path is 404", async () => {
  t.equal((await request("GET", "/nowhere")).status, 404);
});
