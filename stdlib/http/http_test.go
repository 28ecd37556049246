package http_test

import (
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/imscript/imscript/internal/testutil"
	"github.com/imscript/imscript/script/scripttest"
)

// peer is the Go HTTP server the scripts talk to.
func peer() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("/echo", func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		w.Header().Add("X-Reply", "a")
		w.Header().Add("X-Reply", "b")
		w.WriteHeader(201)
		ua := r.Header.Get("User-Agent")
		fmt.Fprintf(w, "%s %s x-test=%s ua=%s body=%s", r.Method, r.URL.RequestURI(), r.Header.Get("X-Test"),
			strings.SplitN(ua, "/", 2)[0], body)
	})
	mux.HandleFunc("/redirect", func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, "/echo?from=redirect", http.StatusFound)
	})
	mux.HandleFunc("/loop", func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, "/loop", http.StatusFound)
	})
	mux.HandleFunc("/slow", func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-time.After(5 * time.Second):
		case <-r.Context().Done():
		}
	})
	mux.HandleFunc("/binary", func(w http.ResponseWriter, r *http.Request) {
		b := make([]byte, 256)
		for i := range b {
			b[i] = byte(i)
		}
		_, _ = w.Write(b)
	})
	mux.HandleFunc("/big", func(w http.ResponseWriter, r *http.Request) {
		_, _ = w.Write(make([]byte, 4096))
	})
	return mux
}

// The Lua test runs its requests one after another in a coroutine, with a
// small await helper over the callback API.
const luaScript = `
local http = imscript.http
local base, tlsBase, ca = imscript.env.BASE, imscript.env.TLS, imscript.env.CA
local function await(opts)
  local co = coroutine.running()
  http.request(opts, function(res, err) assert(coroutine.resume(co, res, err)) end)
  return coroutine.yield()
end
coroutine.wrap(function()
  local res, err = await{ method = "post", url = base .. "/echo?x=1", headers = { ["X-Test"] = "yes" }, body = "hello" }
  print("echo " .. res.status .. " " .. res.headers["content-type"] .. " | " .. res.headers["x-reply"] .. " | " .. res.body)
  res = await{ url = base .. "/redirect" }
  print("redirect " .. res.status .. " " .. res.url:sub(#base + 1) .. " " .. res.body)
  res = await{ url = base .. "/redirect", redirects = 0 }
  print("manual " .. res.status .. " " .. res.headers.location)
  res, err = await{ url = base .. "/loop", redirects = 3 }
  print("loop " .. tostring(res) .. " " .. err:gsub(base, "BASE"))
  res, err = await{ url = base .. "/slow", timeout = 0.2 }
  print("slow " .. tostring(res) .. " " .. err:gsub(base, "BASE"))
  local stop
  imscript.after(50, function() stop() end)
  res, err = await{ url = base .. "/slow", cancel = function(c) stop = c end }
  print("canceled " .. tostring(res) .. " " .. err:gsub(base, "BASE"))
  res = await{ url = base .. "/binary" }
  local ok = #res.body == 256
  for i = 1, 256 do ok = ok and res.body:byte(i) == i - 1 end
  print("binary " .. tostring(ok))
  res, err = await{ url = base .. "/big", max_body_size = 100 }
  print("big " .. tostring(res) .. " " .. err:gsub(base, "BASE"))
  res = await{ url = tlsBase .. "/echo", ca_file = ca }
  print("tls " .. res.status .. " " .. res.body)
  res, err = await{ url = tlsBase .. "/echo" }
  print("untrusted " .. tostring(res) .. " " .. tostring(err:find("certificate signed by unknown authority", 1, true) ~= nil))
  res, err = await{ url = "http://127.0.0.1:1/" }
  print("refused " .. tostring(res) .. " " .. err)
  print("done")
end)()
`

// The JS test uses async/await, from inside a timer callback.
const jsScript = `
const http = imscript.http;
const { BASE: base, TLS: tlsBase, CA: ca } = imscript.env;
const fail = async (p) => { try { await p; return "resolved?!"; } catch (e) { return e.message; } };
imscript.after(1, async () => {
  let res = await http.request({ method: "post", url: base + "/echo?x=1", headers: { "X-Test": "yes" }, body: "hello" });
  console.log("echo " + res.status + " " + res.headers["content-type"] + " | " + res.headers["x-reply"] + " | " + res.body);
  res = await http.request({ url: base + "/redirect" });
  console.log("redirect " + res.status + " " + res.url.slice(base.length) + " " + res.body);
  res = await http.request({ url: base + "/redirect", redirects: 0 });
  console.log("manual " + res.status + " " + res.headers.location);
  console.log("loop null " + (await fail(http.request({ url: base + "/loop", redirects: 3 }))).split(base).join("BASE"));
  console.log("slow null " + (await fail(http.request({ url: base + "/slow", timeout: 0.2 }))).split(base).join("BASE"));
  let stop;
  imscript.after(50, () => stop());
  console.log("canceled null " + (await fail(http.request({ url: base + "/slow", cancel: (c) => { stop = c; } }))).split(base).join("BASE"));
  res = await http.request({ url: base + "/binary" });
  let ok = res.body.length === 256;
  for (let i = 0; i < 256; i++) ok = ok && res.body[i] === i;
  console.log("binary " + ok);
  console.log("big null " + (await fail(http.request({ url: base + "/big", max_body_size: 100 }))).split(base).join("BASE"));
  res = await http.request({ url: tlsBase + "/echo", ca_file: ca });
  console.log("tls " + res.status + " " + res.body);
  const untrusted = await fail(http.request({ url: tlsBase + "/echo" }));
  console.log("untrusted null " + untrusted.includes("certificate signed by unknown authority"));
  console.log("refused null " + (await fail(http.request({ url: "http://127.0.0.1:1/" }))));
  console.log("done");
});
`

func TestRequest(t *testing.T) {
	srv := httptest.NewServer(peer())
	defer srv.Close()
	ca := testutil.NewCA(t)
	tlsSrv := httptest.NewUnstartedServer(peer())
	tlsSrv.TLS = ca.Server
	tlsSrv.StartTLS()
	defer tlsSrv.Close()

	want := `echo 201 text/plain; charset=utf-8 | a, b | POST /echo?x=1 x-test=yes ua=imscript body=hello
redirect 201 /echo?from=redirect GET /echo?from=redirect x-test= ua=imscript body=
manual 302 /echo?from=redirect
loop nil GET BASE/loop: stopped after 3 redirects
slow nil GET BASE/slow: timed out after 200ms
canceled nil GET BASE/slow: canceled
binary true
big nil GET BASE/big: response body larger than max_body_size (100 bytes)
tls 201 GET /echo x-test= ua=imscript body=
untrusted nil true
refused nil GET http://127.0.0.1:1/: dial tcp 127.0.0.1:1: connect: connection refused
done
`
	for _, lang := range scripttest.Langs {
		t.Run(lang, func(t *testing.T) {
			src := luaScript
			if lang == "js" {
				src = jsScript
			}
			h := scripttest.Start(t, scripttest.Options{Lang: lang, Src: src, Env: map[string]string{"BASE": srv.URL, "TLS": tlsSrv.URL, "CA": ca.CAFile}})
			w := want
			if lang == "js" {
				w = strings.ReplaceAll(w, " nil ", " null ")
			}
			h.Expect("done", w)
		})
	}
}

// Misuse is an error at the call, naming the option.
func TestRequestUsage(t *testing.T) {
	srcs := map[string]string{"lua": `
local function try(name, opts)
  local ok, err = pcall(imscript.http.request, opts, function() end)
  print(name .. ": " .. tostring(err):gsub("^.-:%d+: ", ""))
end
try("no url", {})
try("scheme", { url = "ftp://x/" })
try("unknown", { url = "http://x/", retries = 3 })
try("timeout", { url = "http://x/", timeout = "soon" })
print("done")
`, "js": `
function tryIt(name, opts) {
  try { imscript.http.request(opts); console.log(name + ": no error?!"); } catch (e) { console.log(name + ": " + e.message); }
}
tryIt("no url", {});
tryIt("scheme", { url: "ftp://x/" });
tryIt("unknown", { url: "http://x/", retries: 3 });
tryIt("timeout", { url: "http://x/", timeout: "soon" });
console.log("done");
`}
	for _, lang := range scripttest.Langs {
		t.Run(lang, func(t *testing.T) {
			h := scripttest.Start(t, scripttest.Options{Lang: lang, Src: srcs[lang]})
			out := h.WaitStdout("done")
			testutil.WantAll(t, "out", out,
				`no url: http.request: option url is required`,
				`scheme: http.request: option url: "ftp://x/" is not an http:// or https:// URL`,
				`unknown: http.request: unknown option "retries" (options: body, ca_file, cancel, headers, insecure, max_body_size, method, redirects, timeout, url)`,
				`timeout: http.request: option timeout: want a number, got string`,
			)
		})
	}
}

// TestRequestEndsWithItsVersion: a reload cancels the requests the old
// version has in flight (the instance's Context): the server sees its
// client go within seconds, not at the request's 30 s timeout, and the
// old version's callback never runs.
func TestRequestEndsWithItsVersion(t *testing.T) {
	srcs := map[string]string{
		"lua": `
imscript.http.request({ url = imscript.env.URL .. "/block" }, function(res, err) print("v1 settled " .. tostring(err)) end)
print("v1 sent")
`,
		"js": `
imscript.http.request({ url: imscript.env.URL + "/block" }).then(
  () => console.log("v1 settled"), (e) => console.log("v1 settled " + e.message));
console.log("v1 sent");
`,
	}
	v2 := map[string]string{"lua": `print("v2")`, "js": `console.log("v2")`}
	for _, lang := range scripttest.Langs {
		t.Run(lang, func(t *testing.T) {
			t.Parallel()
			b := newBlocker(t)
			h := scripttest.Start(t, scripttest.Options{Lang: lang, Src: srcs[lang], Env: map[string]string{"URL": b.URL}})
			h.WaitStdout("v1 sent")
			b.waitArrived(t)
			h.Reload(v2[lang])
			h.WaitStdout("v2")
			b.waitCancelled(t)
			if out := h.Stdout(); strings.Contains(out, "settled") {
				t.Errorf("the old version's callback ran after its close:\n%s", out)
			}
		})
	}
}
