package crypto_test

import (
	"fmt"
	"io"
	"net/http"
	"net/url"
	"regexp"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/imscript/imscript/script"
	"github.com/imscript/imscript/script/scripttest"
	imcrypto "github.com/imscript/imscript/stdlib/crypto"
)

// refHash is the argon2 reference implementation's own test vector
// (phc-winner-argon2, src/test.c): "password", salt "somesalt", t=2,
// m=2^16, p=1.
const refHash = "$argon2id$v=19$m=65536,t=2,p=1$c29tZXNhbHQ$CTFhFdXPJO1aFaMaO6Mm5c8y7cJHAph8ArZWb2GRPPc"

const luaScript = `
local c = imscript.crypto
local function p(...) local t = {} for i = 1, select("#", ...) do t[i] = tostring((select(i, ...))) end print(table.concat(t, " ")) end
local function raises(name, frag, f)
  local ok, err = pcall(f)
  p(name, "raised", not ok and string.find(tostring(err), frag, 1, true) ~= nil)
end
imscript.after(1, function()
  -- digests: FIPS 180-2 and RFC 4231 / RFC 2202 vectors
  p("sha256 abc", c.hex(c.sha256("abc")))
  p("sha256 empty", c.hex(c.sha256("")))
  p("sha256 raw", #c.sha256("abc"), type(c.sha256("abc")) == "string" and "bytes")
  p("hmac 4231.1", c.hex(c.hmac("sha256", string.rep("\11", 20), "Hi There")))
  p("hmac 4231.2", c.hex(c.hmac("sha256", "Jefe", "what do ya want for nothing?")))
  p("hmac 4231.6", c.hex(c.hmac("sha256", string.rep("\170", 131), "Test Using Larger Than Block-Size Key - Hash Key First")))
  p("hmac sha512", c.hex(c.hmac("sha512", "Jefe", "what do ya want for nothing?")))
  p("hmac sha1", c.hex(c.hmac("sha1", "Jefe", "what do ya want for nothing?")))
  p("hmac raw", #c.hmac("sha256", "k", "d"))
  raises("hmac md5", 'want "sha256", "sha1" or "sha512", got "md5"', function() c.hmac("md5", "k", "d") end)
  p("hex", c.hex("\0\255\16"), c.hex(""))
  -- randomness
  local seen, ok = {}, true
  for i = 1, 1000 do
    local u = c.uuid()
    if seen[u] or u ~= u:lower() or not u:match("^%x%x%x%x%x%x%x%x%-%x%x%x%x%-4%x%x%x%-[89ab]%x%x%x%-%x%x%x%x%x%x%x%x%x%x%x%x$") then ok = false end
    seen[u] = true
  end
  p("uuid", ok)
  p("random_bytes", #c.random_bytes(0), #c.random_bytes(16), #c.random_bytes(1048576), c.random_bytes(32) ~= c.random_bytes(32))
  raises("random_bytes big", "want 0 to 1048576, got 1048577", function() c.random_bytes(1048577) end)
  raises("random_bytes negative", "want 0 to 1048576, got -1", function() c.random_bytes(-1) end)
  -- base64, equal
  p("base64", c.base64("hello"), c.base64(""), c.unbase64("aGVsbG8="), c.unbase64("aGVsbG8"), c.hex(c.unbase64("-_8")))
  p("unbase64 bad", c.unbase64("!!"))
  p("equal", c.equal("abc", "abc"), c.equal("abc", "abd"), c.equal("a", "ab"))
  -- passwords
  local h = c.password_hash("correct horse")
  p("hash", h:sub(1, 31), #h, h ~= c.password_hash("correct horse"))
  p("verify right", c.password_verify("correct horse", h))
  p("verify wrong", c.password_verify("battery staple", h))
  p("verify reference", c.password_verify("password", "` + refHash + `"), c.password_verify("passwort", "` + refHash + `"))
  p("verify malformed", c.password_verify("x", "$argon2id$v=19$m=19456,t=2,p=1$bad"))
  p("verify argon2i", c.password_verify("x", "$argon2i$v=19$m=19456,t=2,p=1$c29tZXNhbHQ$CTFhFdXPJO1aFaMaO6Mm5c8y7cJHAph8ArZWb2GRPPc"))
  p("verify huge m", c.password_verify("x", "$argon2id$v=19$m=99999999,t=2,p=1$c29tZXNhbHQ$CTFhFdXPJO1aFaMaO6Mm5c8y7cJHAph8ArZWb2GRPPc"))
  p("verify empty", c.password_verify("x", ""))
  raises("hash no password", "bad argument #1 (password)", function() c.password_hash() end)
  -- the callback form; the lines are printed, sorted, once all is done
  local pending, lines = 3, {}
  local function finish(line)
    lines[#lines + 1] = line
    pending = pending - 1
    if pending > 0 then return end
    table.sort(lines)
    for _, l in ipairs(lines) do if l ~= "" then print(l) end end
    print("done")
  end
  c.password_verify("correct horse", h, function(ok, err) finish("callback " .. tostring(ok) .. " " .. tostring(err)) end)
  c.password_verify("correct horse", "junk", function(ok, err) finish("callback malformed " .. tostring(ok) .. " " .. tostring(err)) end)
  -- the worker runs other events while a hash is computed
  imscript.after(2, function() p("timer while hashing") end)
  c.password_hash("slow")
  p("hashed")
  finish("")
end)
`

const jsScript = `
const c = imscript.crypto;
const p = (...a) => console.log(a.map(String).join(" "));
const raises = (name, frag, f) => {
  let err = null;
  try { f(); } catch (e) { err = e; }
  p(name, "raised", err instanceof TypeError && err.message.includes(frag));
};
imscript.after(1, async () => {
  p("sha256 abc", c.hex(c.sha256("abc")));
  p("sha256 empty", c.hex(c.sha256("")));
  p("sha256 raw", c.sha256("abc").length, Buffer.isBuffer(c.sha256("abc")) ? "bytes" : "not a Buffer");
  p("hmac 4231.1", c.hex(c.hmac("sha256", Buffer.alloc(20, 0x0b), "Hi There")));
  p("hmac 4231.2", c.hex(c.hmac("sha256", "Jefe", "what do ya want for nothing?")));
  p("hmac 4231.6", c.hex(c.hmac("sha256", Buffer.alloc(131, 0xaa), "Test Using Larger Than Block-Size Key - Hash Key First")));
  p("hmac sha512", c.hex(c.hmac("sha512", "Jefe", "what do ya want for nothing?")));
  p("hmac sha1", c.hex(c.hmac("sha1", "Jefe", "what do ya want for nothing?")));
  p("hmac raw", c.hmac("sha256", "k", "d").length);
  raises("hmac md5", 'want "sha256", "sha1" or "sha512", got "md5"', () => c.hmac("md5", "k", "d"));
  p("hex", c.hex(Buffer.from([0, 255, 16])), c.hex(""));
  const seen = new Set();
  let ok = true;
  for (let i = 0; i < 1000; i++) {
    const u = c.uuid();
    if (seen.has(u) || !/^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/.test(u)) ok = false;
    seen.add(u);
  }
  p("uuid", ok);
  p("random_bytes", c.random_bytes(0).length, c.random_bytes(16).length, c.random_bytes(1048576).length, !c.random_bytes(32).equals(c.random_bytes(32)));
  raises("random_bytes big", "want 0 to 1048576, got 1048577", () => c.random_bytes(1048577));
  raises("random_bytes negative", "want 0 to 1048576, got -1", () => c.random_bytes(-1));
  p("base64", c.base64("hello"), c.base64(""), c.unbase64("aGVsbG8="), c.unbase64("aGVsbG8"), c.hex(c.unbase64("-_8")));
  p("unbase64 bad", c.unbase64("!!"));
  p("equal", c.equal("abc", "abc"), c.equal("abc", "abd"), c.equal("a", "ab"));
  const h = await c.password_hash("correct horse");
  p("hash", h.slice(0, 31), h.length, h !== await c.password_hash("correct horse"));
  p("verify right", await c.password_verify("correct horse", h));
  p("verify wrong", await c.password_verify("battery staple", h));
  p("verify reference", await c.password_verify("password", "` + refHash + `"), await c.password_verify("passwort", "` + refHash + `"));
  p("verify malformed", await c.password_verify("x", "$argon2id$v=19$m=19456,t=2,p=1$bad"));
  p("verify argon2i", await c.password_verify("x", "$argon2i$v=19$m=19456,t=2,p=1$c29tZXNhbHQ$CTFhFdXPJO1aFaMaO6Mm5c8y7cJHAph8ArZWb2GRPPc"));
  p("verify huge m", await c.password_verify("x", "$argon2id$v=19$m=99999999,t=2,p=1$c29tZXNhbHQ$CTFhFdXPJO1aFaMaO6Mm5c8y7cJHAph8ArZWb2GRPPc"));
  p("verify empty", await c.password_verify("x", ""));
  raises("hash no password", "bad argument #1 (password)", () => c.password_hash());
  const later = [
    c.password_verify("correct horse", h).then((ok) => "callback " + ok + " nil"),
    c.password_verify("correct horse", "junk").then((ok) => "callback malformed " + ok + " nil"),
  ];
  imscript.after(2, () => p("timer while hashing"));
  await c.password_hash("slow");
  p("hashed");
  (await Promise.all(later)).sort().forEach((l) => p(l));
  p("done");
});
`

// want is what the Lua script prints; JS gets only the first value of a
// routine failure (false, null): jsWant.
const want = `sha256 abc ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad
sha256 empty e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855
sha256 raw 32 bytes
hmac 4231.1 b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7
hmac 4231.2 5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843
hmac 4231.6 60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54
hmac sha512 164b7a7bfcf819e2e395fbe73b56e0a387bd64222e831fd610270cd7ea2505549758bf75c05a994a6d034f65f8f0e6fdcaeab1a34d4a6b4b636e070a38bce737
hmac sha1 effcdf6ae5eb2fa2d27416d5f184df9c259a7c79
hmac raw 32
hmac md5 raised true
hex 00ff10 
uuid true
random_bytes 0 16 1048576 true
random_bytes big raised true
random_bytes negative raised true
base64 aGVsbG8=  hello hello fbff
unbase64 bad nil crypto.unbase64: not base64
equal true false false
hash $argon2id$v=19$m=19456,t=2,p=1$ 97 true
verify right true
verify wrong false
verify reference true false
verify malformed false crypto.password_verify: malformed argon2id hash
verify argon2i false crypto.password_verify: not an argon2id hash ("argon2i")
verify huge m false crypto.password_verify: argon2 parameter m=99999999 is not in 8..1048576
verify empty false crypto.password_verify: not an argon2id hash
hash no password raised true
timer while hashing
hashed
callback malformed false nil
callback true nil
done
`

func jsWant() string {
	w := regexp.MustCompile(`(?m)^(unbase64 bad) nil .*$`).ReplaceAllString(want, "$1 null")
	w = regexp.MustCompile(`(?m)^(verify [a-z0-9 ]+ false) crypto\.password_verify: .*$`).ReplaceAllString(w, "$1")
	return w
}

// TestModule: digests against published vectors, random bytes and UUIDs,
// base64, and argon2id: a round trip, the wrong password, the reference
// implementation's hash, malformed hashes false (never a crash), and a
// hash that lets the worker run a timer meanwhile.
func TestModule(t *testing.T) {
	for _, lang := range scripttest.Langs {
		t.Run(lang, func(t *testing.T) {
			src, w := luaScript, want
			if lang == "js" {
				src, w = jsScript, jsWant()
			}
			h := scripttest.Start(t, scripttest.Options{Lang: lang, Src: src})
			h.Expect("done", w)
		})
	}
}

// FuzzParseHash: no hash string makes ParseHash panic, and what it
// accepts is within the bounds.
func FuzzParseHash(f *testing.F) {
	for _, s := range []string{refHash, "", "$", "$$$$$", "$argon2id$v=19$m=,t=,p=$$", "$argon2id$v=19$m=8,t=1,p=1$c29tZXNhbHQ$AAAA",
		"$argon2id$v=19$m=65536,t=2,p=1,p=1$c29tZXNhbHQ$AAAA", "$argon2id$v=19$m=+8,t=1,p=1$c29tZXNhbHQ$AAAA",
		"$argon2id$v=19$m=4294967296,t=1,p=1$c29tZXNhbHQ$AAAA", "$argon2id$v=19$t=1,m=8,p=0$c29tZXNhbHQ$AAAA"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		ph, err := imcrypto.ParseHash(s)
		if err != nil {
			return
		}
		if ph.Memory > imcrypto.MaxMemory || ph.Time > imcrypto.MaxTime || ph.Threads < 1 || ph.Threads > imcrypto.MaxThreads ||
			ph.Memory < 8*uint32(ph.Threads) || len(ph.Salt) < 8 || len(ph.Key) < 4 {
			t.Fatalf("ParseHash(%q) accepted %+v", s, ph.Params)
		}
	})
}

// TestHashVerifyGo: Hash and ParseHash agree, in Go.
func TestHashVerifyGo(t *testing.T) {
	ph, err := imcrypto.ParseHash(imcrypto.Hash([]byte("pw"), imcrypto.DefaultParams))
	if err != nil || !ph.Verify([]byte("pw")) || ph.Verify([]byte("pW")) {
		t.Fatalf("round trip: %v", err)
	}
	if ph.Params != imcrypto.DefaultParams {
		t.Errorf("params %+v", ph.Params)
	}
	ref, err := imcrypto.ParseHash(refHash)
	if err != nil || !ref.Verify([]byte("password")) {
		t.Errorf("the reference hash: %v", err)
	}
}

// TestCancelled: at most GOMAXPROCS hashes run at once; one still
// waiting for its turn when its instance closes ends with CANCELLED.
func TestCancelled(t *testing.T) {
	inst := scripttest.NewInstance(t)
	m := imcrypto.Module(inst).(script.Map)
	hash := m["password_hash"].(script.Function)
	var rs []*scripttest.Result
	for range 64 {
		rs = append(rs, inst.Invoke(hash, nil, "pw"))
	}
	procs := runtime.GOMAXPROCS(0)
	for range 20 {
		if n := imcrypto.Running(inst); n > procs {
			t.Fatalf("%d hashes at once, more than GOMAXPROCS (%d)", n, procs)
		}
		time.Sleep(time.Millisecond)
	}
	inst.Close()
	cancelled := 0
	for _, r := range rs {
		v, err := r.Await(scripttest.WaitLimit)
		switch {
		case err == nil && strings.HasPrefix(fmt.Sprint(v), "$argon2id$"):
		case script.ErrorCode(err) == "CANCELLED":
			cancelled++
		default:
			t.Fatalf("a hash: %v, %v", v, err)
		}
	}
	t.Logf("%d of %d cancelled", cancelled, len(rs))
	if procs < len(rs)/4 && cancelled == 0 {
		t.Errorf("no hash was cancelled")
	}
}

// The login server: two workers, each request hashing or checking a
// password without holding its worker.
const luaServer = `
local srv = imscript.server{ host = "127.0.0.1", port = 0, type = "http" }
local users = {}
srv:route("POST", "/register", function(req, res)
  users[req.post.name] = imscript.crypto.password_hash(req.post.password)
  res:send("ok")
end)
srv:route("POST", "/login", function(req, res)
  local h = users[req.post.name] or "none"
  local ok, err = imscript.crypto.password_verify(req.post.password, h)
  res:send(tostring(ok) .. (err and " " .. err or ""))
end)
`

const jsServer = `
const srv = imscript.server({ host: "127.0.0.1", port: 0, type: "http" });
const users = {};
srv.route("POST", "/register", async (req, res) => {
  users[req.post.name] = await imscript.crypto.password_hash(req.post.password);
  res.send("ok");
});
srv.route("POST", "/login", async (req, res) => {
  const ok = await imscript.crypto.password_verify(req.post.password, users[req.post.name] || "none");
  res.send(String(ok));
});
`

// TestServer: register and log in through handlers on two workers; users
// live per worker, so each client keeps its connection (and its worker).
func TestServer(t *testing.T) {
	for _, lang := range scripttest.Langs {
		t.Run(lang, func(t *testing.T) {
			src := luaServer
			malformed := "false crypto.password_verify: not an argon2id hash"
			if lang == "js" {
				src, malformed = jsServer, "false"
			}
			h := scripttest.Start(t, scripttest.Options{Lang: lang, Src: src, Workers: 2})
			base := fmt.Sprintf("http://127.0.0.1:%d", h.Port(0))
			var wg sync.WaitGroup
			for i := range 4 {
				wg.Add(1)
				go func() {
					defer wg.Done()
					cl := &http.Client{Transport: &http.Transport{}}
					post := func(path, name, pw string) string {
						resp, err := cl.PostForm(base+path, url.Values{"name": {name}, "password": {pw}})
						if err != nil {
							t.Error(err)
							return ""
						}
						defer resp.Body.Close()
						b, _ := io.ReadAll(resp.Body)
						return string(b)
					}
					name := fmt.Sprint("u", i)
					for _, c := range []struct{ path, name, pw, want string }{
						{"/register", name, "pw" + name, "ok"},
						{"/login", name, "pw" + name, "true"},
						{"/login", name, "nope", "false"},
						{"/login", "nobody", "x", malformed},
					} {
						if got := post(c.path, c.name, c.pw); got != c.want {
							t.Errorf("%s %s %s: %q, want %q", c.path, c.name, c.pw, got, c.want)
						}
					}
				}()
			}
			wg.Wait()
		})
	}
}
