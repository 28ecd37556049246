package js_test

import (
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/imscript/imscript/bindings/js"
	"github.com/imscript/imscript/script"
	"github.com/imscript/imscript/script/scripttest"
)

// fetchServer is an HTTP server whose /run handler fetches from the
// server itself and answers what it saw, one line per step.
const fetchServer = `
const srv = imscript.server({ host: "127.0.0.1", port: 0, type: "http", worker_num: 2 });
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
srv.route("GET", "/json", (req, res) => {
  res.status(201).header("X-Reply", "yes").json({ q: req.query.q, n: [1, 2] });
});
srv.route("POST", "/echo", (req, res) => {
  res.header("Content-Type", "text/plain").send([req.method, req.header["x-test"], req.header["content-type"], String(req.body)].join(" "));
});
srv.route("GET", "/slow", async (req, res) => {
  await sleep(4000);
  res.send("late");
});
srv.route("GET", "/run", async (req, res) => {
  const out = [];
  const base = "http://127.0.0.1:" + srv.port;
  const r = await fetch(base + "/json?q=hi");
  out.push([r.status, r.ok, r.statusText, r.headers.get("x-reply"), r.headers.get("Content-Type"), r instanceof Response, r.url === base + "/json?q=hi"].join(" "));
  out.push(JSON.stringify(await r.json()) + " " + r.bodyUsed);
  try { await r.text(); out.push("read twice?!"); } catch (e) { out.push(e.name + ": " + e.message); }
  const e = await fetch(new Request(base + "/echo", { method: "post", headers: new Headers({ "X-Test": "t1" }), body: "abc" }));
  out.push(e.status + " " + (await e.text()));
  const bin = await fetch(base + "/echo", { method: "POST", body: new Uint8Array([104, 105]), headers: [["content-type", "application/octet-stream"]] });
  out.push(new TextDecoder().decode(await bin.arrayBuffer()));
  const chunks = [];
  for await (const c of (await fetch(base + "/json?q=stream")).body) chunks.push(new TextDecoder().decode(c));
  const rd = (await fetch(base + "/json?q=reader")).body.getReader();
  const first = await rd.read(), second = await rd.read();
  out.push(chunks.join("|") + " " + JSON.parse(new TextDecoder().decode(first.value)).q + " " + first.done + " " + second.done);
  const nf = await fetch(base + "/nope");
  out.push(nf.status + " " + nf.ok);
  const closed = srv.stats().close_count;
  try { await fetch(base + "/slow", { signal: AbortSignal.timeout(100) }); out.push("no timeout?!"); } catch (err) { out.push(err.name + " " + (err instanceof DOMException)); }
  const ac = new AbortController();
  setTimeout(() => ac.abort(), 100);
  try { await fetch(base + "/slow", { signal: ac.signal }); out.push("not aborted?!"); } catch (err) { out.push(err.name + " " + err.code + " " + ac.signal.aborted); }
  // Both requests were canceled: the server sees their connections close
  // (not answered 4 s later on connections kept for reuse).
  let n = 0;
  for (let i = 0; i < 200 && n < 2; i++) { await sleep(10); n = srv.stats().close_count - closed; }
  out.push("canceled connections closed " + (n >= 2));
  try { await fetch(base + "/json", { signal: AbortSignal.abort() }); } catch (err) { out.push("pre-aborted " + err.name); }
  try { await fetch("http://127.0.0.1:1/"); } catch (err) { out.push(err.name + ": " + err.message + " (" + String(err.cause && err.cause.message).includes("127.0.0.1:1") + ")"); }
  try { await fetch("ftp://x/"); } catch (err) { out.push(err.name + ": " + err.message); }
  try { new Request(base, { method: "GET", body: "x" }); } catch (err) { out.push(err.name + ": " + err.message); }
  const made = Response.json({ ok: 1 }, { status: 202 });
  out.push(made.status + " " + made.headers.get("content-type") + " " + (await made.text()));
  res.send(out.join("\n") + "\nworker " + imscript.worker_id + "\n");
});
`

// TestFetch: fetch against the script's own HTTP server, from a request
// handler on each of two workers: status, headers, a JSON body read with
// res.json(), a body read twice, POST bodies (text, bytes), a 404, a
// timeout (AbortSignal.timeout), an abort (AbortController), both
// canceling their requests (the server sees the connections close), a
// signal aborted before, a refused connection, an unsupported URL.
func TestFetch(t *testing.T) {
	h := scripttest.Start(t, scripttest.Options{Lang: "js", Src: fetchServer, Workers: 2, Languages: []script.Language{js.New()}})
	url := fmt.Sprintf("http://127.0.0.1:%d/run", h.Port(0))
	want := `201 true Created yes application/json; charset=utf-8 true true
{"n":[1,2],"q":"hi"} true
TypeError: Body is unusable: Body has already been read
200 POST t1 text/plain;charset=UTF-8 abc
POST  application/octet-stream hi
{"n":[1,2],"q":"stream"} reader false true
404 false
TimeoutError true
AbortError 20 true
canceled connections closed true
pre-aborted AbortError
TypeError: fetch failed (true)
TypeError: fetch failed
TypeError: Request with GET/HEAD method cannot have body.
202 application/json {"ok":1}
`
	// Two clients, each keeping its connection: two fds, so both workers
	// serve /run.
	clients := []*http.Client{{Transport: &http.Transport{}}, {Transport: &http.Transport{}}}
	workers := map[string]bool{}
	for i := 0; i < 10 && len(workers) < 2; i++ {
		resp, err := clients[i%2].Get(url)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		got, w, ok := strings.Cut(string(b), "worker ")
		if !ok || got != want {
			t.Fatalf("/run: %d\n%s\nwant:\n%s", resp.StatusCode, b, want)
		}
		workers[w] = true
	}
	if len(workers) != 2 {
		t.Errorf("fetch ran on workers %v, want 2", workers)
	}
}
