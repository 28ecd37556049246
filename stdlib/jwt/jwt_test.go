package jwt_test

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/hmac"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/pem"
	"fmt"
	"io"
	"net/http"
	"regexp"
	"strings"
	"sync"
	"testing"

	gojwt "github.com/golang-jwt/jwt/v5"

	"github.com/imscript/imscript/script"
	"github.com/imscript/imscript/script/scripttest"
	imjwt "github.com/imscript/imscript/stdlib/jwt"
)

// keys are the test's keys, made once: two RSA keys, two P-256 keys and a
// P-384 key, as PEM text.
type keys struct {
	rsaPriv, rsaPriv1, rsaPub, rsaPub1, rsa2Pub string
	ecPriv, ecPriv8, ecPub, ec2Pub, ec384Pub    string
	rsa                                         *rsa.PrivateKey
	ec                                          *ecdsa.PrivateKey
}

var testKeys = sync.OnceValue(func() *keys {
	must := func(b []byte, err error) []byte {
		if err != nil {
			panic(err)
		}
		return b
	}
	enc := func(typ string, der []byte) string {
		return string(pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der}))
	}
	r1, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		panic(err)
	}
	r2, _ := rsa.GenerateKey(rand.Reader, 2048)
	e1, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	e2, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	e3, _ := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	return &keys{
		rsaPriv:  enc("PRIVATE KEY", must(x509.MarshalPKCS8PrivateKey(r1))),
		rsaPriv1: enc("RSA PRIVATE KEY", x509.MarshalPKCS1PrivateKey(r1)),
		rsaPub:   enc("PUBLIC KEY", must(x509.MarshalPKIXPublicKey(&r1.PublicKey))),
		rsaPub1:  enc("RSA PUBLIC KEY", x509.MarshalPKCS1PublicKey(&r1.PublicKey)),
		rsa2Pub:  enc("PUBLIC KEY", must(x509.MarshalPKIXPublicKey(&r2.PublicKey))),
		ecPriv:   enc("EC PRIVATE KEY", must(x509.MarshalECPrivateKey(e1))),
		ecPriv8:  enc("PRIVATE KEY", must(x509.MarshalPKCS8PrivateKey(e1))),
		ecPub:    enc("PUBLIC KEY", must(x509.MarshalPKIXPublicKey(&e1.PublicKey))),
		ec2Pub:   enc("PUBLIC KEY", must(x509.MarshalPKIXPublicKey(&e2.PublicKey))),
		ec384Pub: enc("PUBLIC KEY", must(x509.MarshalPKIXPublicKey(&e3.PublicKey))),
		rsa:      r1,
		ec:       e1,
	}
})

func b64(s string) string { return base64.RawURLEncoding.EncodeToString([]byte(s)) }

// hs256 signs header.payload with secret by hand, as an attacker would.
func hs256(header, payload, secret string) string {
	in := b64(header) + "." + b64(payload)
	m := hmac.New(sha256.New, []byte(secret))
	m.Write([]byte(in))
	return in + "." + base64.RawURLEncoding.EncodeToString(m.Sum(nil))
}

// env gives the scripts the keys and the hand-made tokens.
func env(t *testing.T) map[string]string {
	k := testKeys()
	goTok, err := gojwt.NewWithClaims(gojwt.SigningMethodRS256, gojwt.MapClaims{"sub": "go", "n": 7}).SignedString(k.rsa)
	if err != nil {
		t.Fatal(err)
	}
	return map[string]string{
		"RSA_PRIV": k.rsaPriv, "RSA_PRIV1": k.rsaPriv1, "RSA_PUB": k.rsaPub, "RSA_PUB1": k.rsaPub1, "RSA2_PUB": k.rsa2Pub,
		"EC_PRIV": k.ecPriv, "EC_PRIV8": k.ecPriv8, "EC_PUB": k.ecPub, "EC2_PUB": k.ec2Pub, "EC384_PUB": k.ec384Pub,
		// alg "none": no signature at all.
		"NONE":  b64(`{"alg":"none","typ":"JWT"}`) + "." + b64(`{"sub":"mallory"}`) + ".",
		"NONE2": b64(`{"alg":"None"}`) + "." + b64(`{"sub":"mallory"}`) + ".",
		// The algorithm-confusion forgery: HS256 with the RSA public
		// key's PEM text as the HMAC secret.
		"FORGED": hs256(`{"alg":"HS256","typ":"JWT"}`, `{"sub":"mallory"}`, k.rsaPub),
		"NOALG":  hs256(`{"typ":"JWT"}`, `{"sub":"mallory"}`, "s3cret"),
		"GO_RS":  goTok,
	}
}

const luaScript = `
local jwt, env = imscript.jwt, imscript.env
local now = math.floor(imscript.now() / 1000)
local function check(name, claims, err)
  if claims then print(name .. " ok " .. tostring(claims.sub)) else print(name .. " ! " .. tostring(err)) end
end
local function raises(name, frag, f)
  local ok, err = pcall(f)
  print(name .. " raised " .. tostring(not ok and string.find(tostring(err), frag, 1, true) ~= nil))
  if ok or not string.find(tostring(err), frag, 1, true) then print("  got: " .. tostring(err)) end
end
local function v(name, ...) check(name, jwt.verify(...)) end

-- round trips
local hs = jwt.sign({ sub = "alice", n = 42, f = 1.5, admin = true, roles = { "a", "b" }, deep = { x = { y = "z" } } }, "s3cret", { expires_in = 60 })
local c = jwt.verify(hs, "s3cret")
print("hs claims " .. c.sub .. " " .. c.n .. " " .. c.f .. " " .. tostring(c.admin) .. " " .. c.roles[2] .. " " .. c.deep.x.y .. " " .. (c.exp - c.iat) .. " " .. tostring(math.abs(c.iat - now) <= 2))
v("hs alg", hs, "s3cret", { alg = "HS256" })
local rs = jwt.sign({ sub = "bob" }, env.RSA_PRIV, { alg = "RS256" })
v("rs pub", rs, env.RSA_PUB)
v("rs pub pkcs1", rs, env.RSA_PUB1)
v("rs priv", rs, env.RSA_PRIV)
v("rs derived", jwt.sign({ sub = "bob1" }, env.RSA_PRIV1), env.RSA_PUB)
local es = jwt.sign({ sub = "carol" }, env.EC_PRIV, { alg = "ES256" })
v("es pub", es, env.EC_PUB)
v("es pkcs8", jwt.sign({ sub = "carol8" }, env.EC_PRIV8), env.EC_PUB, { alg = "ES256" })
v("go token", env.GO_RS, env.RSA_PUB)
print("go claims " .. jwt.verify(env.GO_RS, env.RSA_PUB).n)

-- time
v("expired", jwt.sign({ sub = "x", exp = now - 100 }, "s3cret"), "s3cret")
v("expires_in 0", jwt.sign({ sub = "x" }, "s3cret", { expires_in = 0 }), "s3cret")
v("nbf future", jwt.sign({ sub = "x", nbf = now + 100 }, "s3cret"), "s3cret")
v("exp leeway", jwt.sign({ sub = "lee", exp = now - 5 }, "s3cret"), "s3cret", { leeway = 30 })
v("nbf leeway", jwt.sign({ sub = "lee", nbf = now + 5 }, "s3cret"), "s3cret", { leeway = 30 })
v("exp past leeway", jwt.sign({ sub = "lee", exp = now - 60 }, "s3cret"), "s3cret", { leeway = 30 })
v("bad exp", jwt.sign({ sub = "x", exp = "tomorrow" }, "s3cret"), "s3cret")

-- keys
v("wrong secret", hs, "other")
v("wrong rsa", rs, env.RSA2_PUB)
v("wrong ec", es, env.EC2_PUB)
local parts = {}
for p in string.gmatch(hs, "[^.]+") do parts[#parts + 1] = p end
v("tampered", parts[1] .. "." .. parts[1] .. "." .. parts[3], "s3cret")
v("malformed", "abc", "s3cret")
v("malformed b64", "a.b.c", "s3cret")

-- claims
local aud = jwt.sign({ sub = "a", aud = "api", iss = "me" }, "s3cret")
v("aud ok", aud, "s3cret", { aud = "api" })
v("aud list", aud, "s3cret", { aud = { "web", "api" } })
v("aud mismatch", aud, "s3cret", { aud = "web" })
v("aud missing", hs, "s3cret", { aud = "api" })
v("aud array", jwt.sign({ sub = "arr", aud = { "x", "api" } }, "s3cret"), "s3cret", { aud = "api" })
v("iss ok", aud, "s3cret", { iss = "me", aud = "api" })
v("iss mismatch", aud, "s3cret", { iss = "you" })
v("iss missing", hs, "s3cret", { iss = "me" })

-- algorithms
v("none secret", env.NONE, "s3cret")
v("none rsa", env.NONE, env.RSA_PUB)
v("None", env.NONE2, "s3cret")
v("no alg", env.NOALG, "s3cret")
raises("none opt", 'alg: "none" is never accepted', function() jwt.verify(env.NONE, "s3cret", { alg = "none" }) end)
raises("bad alg opt", 'want "HS256", "RS256" or "ES256", got "HS512"', function() jwt.verify(hs, "s3cret", { alg = "HS512" }) end)
v("rs with secret", rs, "s3cret")
raises("rs with pub as HS256", "HS256 needs a secret, got an RSA key (PEM)", function() jwt.verify(rs, env.RSA_PUB, { alg = "HS256" }) end)
v("forged", env.FORGED, env.RSA_PUB)
v("forged priv", env.FORGED, env.RSA_PRIV)
raises("forged as HS256", "HS256 needs a secret, got an RSA key (PEM)", function() jwt.verify(env.FORGED, env.RSA_PUB, { alg = "HS256" }) end)
v("hs with rsa", hs, env.RSA_PUB)
v("es with rsa", es, env.RSA_PUB)
v("rs with ec", rs, env.EC_PUB)
raises("es as RS256", "RS256 needs an RSA key (PEM), got a P-256 EC key (PEM)", function() jwt.verify(es, env.EC_PUB, { alg = "RS256" }) end)
raises("p384", "ES256 needs P-256", function() jwt.verify(es, env.EC384_PUB) end)

-- signing misuse
raises("sign pub", "RS256 needs the private key, got a public one", function() jwt.sign({}, env.RSA_PUB) end)
raises("sign pem as HS256", "HS256 needs a secret, got an RSA key (PEM)", function() jwt.sign({}, env.RSA_PRIV, { alg = "HS256" }) end)
raises("sign empty key", "the key is empty", function() jwt.sign({}, "") end)
raises("sign bad pem", "no PEM key found", function() jwt.sign({}, "-----BEGIN nothing") end)
raises("sign function claim", "claim f: cannot put a function in a token", function() jwt.sign({ f = print }, "k") end)
raises("unknown option", 'unknown option "algo"', function() jwt.sign({}, "k", { algo = "HS256" }) end)
print("done")
`

const jsScript = `
const jwt = imscript.jwt, env = imscript.env;
const now = Math.floor(imscript.now() / 1000);
function check(name, claims) {
  if (claims) console.log(name + " ok " + claims.sub); else console.log(name + " ! " + claims);
}
function raises(name, frag, f) {
  let err = null;
  try { f(); } catch (e) { err = e; }
  const ok = err !== null && err instanceof TypeError && String(err.message).includes(frag);
  console.log(name + " raised " + ok);
  if (!ok) console.log("  got: " + err);
}
const v = (name, ...args) => check(name, jwt.verify(...args));

// round trips
const hs = jwt.sign({ sub: "alice", n: 42, f: 1.5, admin: true, roles: ["a", "b"], deep: { x: { y: "z" } } }, "s3cret", { expires_in: 60 });
const c = jwt.verify(hs, "s3cret");
console.log("hs claims " + c.sub + " " + c.n + " " + c.f + " " + c.admin + " " + c.roles[1] + " " + c.deep.x.y + " " + (c.exp - c.iat) + " " + (Math.abs(c.iat - now) <= 2));
v("hs alg", hs, "s3cret", { alg: "HS256" });
const rs = jwt.sign({ sub: "bob" }, env.RSA_PRIV, { alg: "RS256" });
v("rs pub", rs, env.RSA_PUB);
v("rs pub pkcs1", rs, env.RSA_PUB1);
v("rs priv", rs, env.RSA_PRIV);
v("rs derived", jwt.sign({ sub: "bob1" }, env.RSA_PRIV1), env.RSA_PUB);
const es = jwt.sign({ sub: "carol" }, env.EC_PRIV, { alg: "ES256" });
v("es pub", es, env.EC_PUB);
v("es pkcs8", jwt.sign({ sub: "carol8" }, env.EC_PRIV8), env.EC_PUB, { alg: "ES256" });
v("go token", env.GO_RS, env.RSA_PUB);
console.log("go claims " + jwt.verify(env.GO_RS, env.RSA_PUB).n);

// time
v("expired", jwt.sign({ sub: "x", exp: now - 100 }, "s3cret"), "s3cret");
v("expires_in 0", jwt.sign({ sub: "x" }, "s3cret", { expires_in: 0 }), "s3cret");
v("nbf future", jwt.sign({ sub: "x", nbf: now + 100 }, "s3cret"), "s3cret");
v("exp leeway", jwt.sign({ sub: "lee", exp: now - 5 }, "s3cret"), "s3cret", { leeway: 30 });
v("nbf leeway", jwt.sign({ sub: "lee", nbf: now + 5 }, "s3cret"), "s3cret", { leeway: 30 });
v("exp past leeway", jwt.sign({ sub: "lee", exp: now - 60 }, "s3cret"), "s3cret", { leeway: 30 });
v("bad exp", jwt.sign({ sub: "x", exp: "tomorrow" }, "s3cret"), "s3cret");

// keys
v("wrong secret", hs, "other");
v("wrong rsa", rs, env.RSA2_PUB);
v("wrong ec", es, env.EC2_PUB);
const parts = hs.split(".");
v("tampered", parts[0] + "." + parts[0] + "." + parts[2], "s3cret");
v("malformed", "abc", "s3cret");
v("malformed b64", "a.b.c", "s3cret");

// claims
const aud = jwt.sign({ sub: "a", aud: "api", iss: "me" }, "s3cret");
v("aud ok", aud, "s3cret", { aud: "api" });
v("aud list", aud, "s3cret", { aud: ["web", "api"] });
v("aud mismatch", aud, "s3cret", { aud: "web" });
v("aud missing", hs, "s3cret", { aud: "api" });
v("aud array", jwt.sign({ sub: "arr", aud: ["x", "api"] }, "s3cret"), "s3cret", { aud: "api" });
v("iss ok", aud, "s3cret", { iss: "me", aud: "api" });
v("iss mismatch", aud, "s3cret", { iss: "you" });
v("iss missing", hs, "s3cret", { iss: "me" });

// algorithms
v("none secret", env.NONE, "s3cret");
v("none rsa", env.NONE, env.RSA_PUB);
v("None", env.NONE2, "s3cret");
v("no alg", env.NOALG, "s3cret");
raises("none opt", 'alg: "none" is never accepted', () => jwt.verify(env.NONE, "s3cret", { alg: "none" }));
raises("bad alg opt", 'want "HS256", "RS256" or "ES256", got "HS512"', () => jwt.verify(hs, "s3cret", { alg: "HS512" }));
v("rs with secret", rs, "s3cret");
raises("rs with pub as HS256", "HS256 needs a secret, got an RSA key (PEM)", () => jwt.verify(rs, env.RSA_PUB, { alg: "HS256" }));
v("forged", env.FORGED, env.RSA_PUB);
v("forged priv", env.FORGED, env.RSA_PRIV);
raises("forged as HS256", "HS256 needs a secret, got an RSA key (PEM)", () => jwt.verify(env.FORGED, env.RSA_PUB, { alg: "HS256" }));
v("hs with rsa", hs, env.RSA_PUB);
v("es with rsa", es, env.RSA_PUB);
v("rs with ec", rs, env.EC_PUB);
raises("es as RS256", "RS256 needs an RSA key (PEM), got a P-256 EC key (PEM)", () => jwt.verify(es, env.EC_PUB, { alg: "RS256" }));
raises("p384", "ES256 needs P-256", () => jwt.verify(es, env.EC384_PUB));

// signing misuse
raises("sign pub", "RS256 needs the private key, got a public one", () => jwt.sign({}, env.RSA_PUB));
raises("sign pem as HS256", "HS256 needs a secret, got an RSA key (PEM)", () => jwt.sign({}, env.RSA_PRIV, { alg: "HS256" }));
raises("sign empty key", "the key is empty", () => jwt.sign({}, ""));
raises("sign bad pem", "no PEM key found", () => jwt.sign({}, "-----BEGIN nothing"));
raises("sign function claim", "claim f: cannot put a function in a token", () => jwt.sign({ f: console.log }, "k"));
raises("unknown option", 'unknown option "algo"', () => jwt.sign({}, "k", { algo: "HS256" }));
console.log("done");
`

// want is what the Lua script prints. JS gets null where Lua gets nil and
// the reason (a synchronous routine failure gives JS only the first
// value, as json.decode's false): jsWant.
const want = `hs claims alice 42 1.5 true b z 60 true
hs alg ok alice
rs pub ok bob
rs pub pkcs1 ok bob
rs priv ok bob
rs derived ok bob1
es pub ok carol
es pkcs8 ok carol8
go token ok go
go claims 7
expired ! token expired
expires_in 0 ! token expired
nbf future ! token not valid yet
exp leeway ok lee
nbf leeway ok lee
exp past leeway ! token expired
bad exp ! token claims invalid: exp has the wrong type
wrong secret ! signature invalid
wrong rsa ! signature invalid
wrong ec ! signature invalid
tampered ! signature invalid
malformed ! token malformed
malformed b64 ! token malformed
aud ok ok a
aud list ok a
aud mismatch ! audience mismatch
aud missing ! audience missing
aud array ok arr
iss ok ok a
iss mismatch ! issuer mismatch
iss missing ! issuer missing
none secret ! algorithm none not allowed
none rsa ! algorithm none not allowed
None ! algorithm None not allowed
no alg ! algorithm missing
none opt raised true
bad alg opt raised true
rs with secret ! algorithm RS256 not allowed
rs with pub as HS256 raised true
forged ! algorithm HS256 not allowed
forged priv ! algorithm HS256 not allowed
forged as HS256 raised true
hs with rsa ! algorithm HS256 not allowed
es with rsa ! algorithm ES256 not allowed
rs with ec ! algorithm RS256 not allowed
es as RS256 raised true
p384 raised true
sign pub raised true
sign pem as HS256 raised true
sign empty key raised true
sign bad pem raised true
sign function claim raised true
unknown option raised true
done
`

var reason = regexp.MustCompile(`(?m) ! .*$`)

func jsWant() string { return reason.ReplaceAllString(want, " ! null") }

// TestSignVerify: round trips in the three algorithms (and a token Go's
// golang-jwt signed), exp / nbf / leeway, wrong keys, aud and iss, and
// every way of getting another algorithm past verify: alg none, an RS256
// token checked as HS256 with the public key, an HS256 token forged with
// the public key's PEM as the secret.
func TestSignVerify(t *testing.T) {
	for _, lang := range scripttest.Langs {
		t.Run(lang, func(t *testing.T) {
			src, w := luaScript, want
			if lang == "js" {
				src, w = jsScript, jsWant()
			}
			h := scripttest.Start(t, scripttest.Options{Lang: lang, Src: src, Env: env(t)})
			h.Expect("done", w)
		})
	}
}

// TestGoInterop: what sign makes, golang-jwt verifies, with the claims'
// types kept; what golang-jwt makes, verify reads, integers exactly.
func TestGoInterop(t *testing.T) {
	k := testKeys()
	inst := scripttest.NewInstance(t)
	m := imjwt.Module(inst).(script.Map)
	sign := m["sign"].(script.Function)
	for _, c := range []struct {
		key  string
		opts script.Map
		vkey any
	}{
		{"s3cret", nil, []byte("s3cret")},
		{k.rsaPriv, script.Map{"alg": "RS256"}, &k.rsa.PublicKey},
		{k.ecPriv, nil, &k.ec.PublicKey},
	} {
		r := inst.Invoke(sign, nil, script.Map{"sub": "s", "n": 42.0, "f": 1.5, "l": script.List{"a"}}, c.key, c.opts)
		tok, ok := r.Value().(string)
		if !ok || r.Usage != "" {
			t.Fatalf("sign: %+v", r)
		}
		claims := gojwt.MapClaims{}
		if _, err := gojwt.NewParser(gojwt.WithJSONNumber()).ParseWithClaims(tok, claims, func(*gojwt.Token) (any, error) { return c.vkey, nil }); err != nil {
			t.Fatalf("golang-jwt refuses %s: %v", tok, err)
		}
		if got := fmt.Sprintf("%v %v %v %v", claims["sub"], claims["n"], claims["f"], claims["l"]); got != "s 42 1.5 [a]" {
			t.Errorf("claims %s", got)
		}
	}
	tok, err := gojwt.NewWithClaims(gojwt.SigningMethodES256, gojwt.MapClaims{"big": int64(1<<53 + 1), "f": 0.25, "m": map[string]any{"l": []any{1, "x"}}}).SignedString(k.ec)
	if err != nil {
		t.Fatal(err)
	}
	r := inst.Invoke(m["verify"].(script.Function), nil, tok, k.ecPub)
	got, ok := r.Value().(script.Map)
	if !ok || got["big"] != int64(1<<53+1) || got["f"] != 0.25 || fmt.Sprint(got["m"]) != "map[l:[1 x]]" {
		t.Errorf("verify of a golang-jwt token: %#v", r.Values)
	}
	if l := got["m"].(script.Map)["l"].(script.List); l[0] != int64(1) {
		t.Errorf("a number in a list: %#v", l[0])
	}
}

// TestKeyCache: a PEM key is parsed once per instance, and the cache
// stays within its bound.
func TestKeyCache(t *testing.T) {
	k := testKeys()
	inst := scripttest.NewInstance(t)
	m, cached := imjwt.ModuleWithCache(inst)
	sign := m["sign"].(script.Function)
	tok := inst.Invoke(sign, nil, script.Map{"sub": "s"}, k.rsaPriv).Value()
	verify := m["verify"].(script.Function)
	n := testing.AllocsPerRun(100, func() { inst.Invoke(verify, nil, tok, k.rsaPub) })
	before := imjwt.Parsed()
	inst.Invoke(verify, nil, tok, k.rsaPub)
	if imjwt.Parsed() != before {
		t.Errorf("verify parsed the key again")
	}
	t.Logf("%.0f allocations per RS256 verify", n)
	for i := range 3 * imjwt.KeyCacheSize {
		// The same key with a comment line in front: other text, another entry.
		pemText := fmt.Sprintf("key %d\n%s", i, k.ecPub)
		inst.Invoke(verify, nil, "a.b.c", pemText)
	}
	if got := cached(); got > imjwt.KeyCacheSize || got < imjwt.KeyCacheSize/2 {
		t.Errorf("%d keys cached, want up to %d", got, imjwt.KeyCacheSize)
	}
}

// The server test: an HTTP server on two workers that takes a bearer
// token per request, as a handler checks a session.
const luaServer = `
local srv = imscript.server{ host = "127.0.0.1", port = 0, type = "http", worker_num = 2 }
local pub = imscript.env.RSA_PUB
srv:route("GET", "/me", function(req, res)
  local tok = (req.header.authorization or ""):match("^Bearer (.+)$") or ""
  local claims, err = imscript.jwt.verify(tok, pub, { aud = "api", leeway = 5 })
  if not claims then return res:status(401):send(err) end
  res:send(claims.sub .. " on " .. imscript.worker_id)
end)
srv:route("GET", "/token", function(req, res)
  res:send(imscript.jwt.sign({ sub = req.query.sub, aud = "api" }, imscript.env.RSA_PRIV, { expires_in = 60 }))
end)
`

const jsServer = `
const srv = imscript.server({ host: "127.0.0.1", port: 0, type: "http", worker_num: 2 });
const pub = imscript.env.RSA_PUB;
srv.route("GET", "/me", (req, res) => {
  const m = /^Bearer (.+)$/.exec(req.header.authorization || "");
  const claims = imscript.jwt.verify(m ? m[1] : "", pub, { aud: "api", leeway: 5 });
  if (!claims) return res.status(401).send("refused");
  res.send(claims.sub + " on " + imscript.worker_id);
});
srv.route("GET", "/token", (req, res) => {
  res.send(imscript.jwt.sign({ sub: req.query.sub, aud: "api" }, imscript.env.RSA_PRIV, { expires_in: 60 }));
});
`

// TestServer: tokens signed and checked by request handlers on two
// workers (one keep-alive connection on each), a bad and a forged token
// answered 401.
func TestServer(t *testing.T) {
	for _, lang := range scripttest.Langs {
		t.Run(lang, func(t *testing.T) {
			src := luaServer
			refused, forged := "token malformed", "algorithm HS256 not allowed"
			if lang == "js" {
				src, refused, forged = jsServer, "refused", "refused"
			}
			h := scripttest.Start(t, scripttest.Options{Lang: lang, Src: src, Env: env(t), Workers: 2})
			base := fmt.Sprintf("http://127.0.0.1:%d", h.Port(0))
			get := func(cl *http.Client, path, auth string) (int, string) {
				req, _ := http.NewRequest("GET", base+path, nil)
				if auth != "" {
					req.Header.Set("Authorization", "Bearer "+auth)
				}
				resp, err := cl.Do(req)
				if err != nil {
					t.Fatal(err)
				}
				defer resp.Body.Close()
				b, _ := io.ReadAll(resp.Body)
				return resp.StatusCode, string(b)
			}
			// Two clients, each with its connection open all along: two
			// fds side by side, so both workers serve.
			clients := []*http.Client{{Transport: &http.Transport{}}, {Transport: &http.Transport{}}}
			workers := map[string]bool{}
			for i := range 20 {
				cl := clients[i%2]
				code, tok := get(cl, "/token?sub=u"+fmt.Sprint(i), "")
				if code != 200 {
					t.Fatalf("/token: %d %s", code, tok)
				}
				code, body := get(clients[(i+1)%2], "/me", tok)
				w, ok := strings.CutPrefix(body, fmt.Sprintf("u%d on ", i))
				if code != 200 || !ok {
					t.Fatalf("/me: %d %s", code, body)
				}
				workers[w] = true
			}
			if len(workers) != 2 {
				t.Errorf("workers %v answered, want 0 and 1", workers)
			}
			if code, body := get(clients[0], "/me", "junk"); code != 401 || body != refused {
				t.Errorf("/me with a bad token: %d %q", code, body)
			}
			if code, body := get(clients[1], "/me", env(t)["FORGED"]); code != 401 || body != forged {
				t.Errorf("/me with the forged token: %d %q", code, body)
			}
		})
	}
}
