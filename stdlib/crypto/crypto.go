// Package crypto is imscript.crypto: password hashing (argon2id), HMAC,
// SHA-256, random bytes, UUIDs and hex / base64 from scripts, the same in
// both languages.
//
// password_hash and password_verify cost tens of milliseconds of CPU each,
// so they run off the worker, settling through Call.Async (a Lua handler
// suspends in them, JS gets a Promise); at most GOMAXPROCS of them run at
// once per host, so that a burst of logins cannot take more than that many
// times the hash's memory. Everything else is cheap and synchronous.
package crypto

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/sha512"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"hash"
	"runtime"
	"strings"

	"github.com/imscript/imscript/script"
)

// MaxRandomBytes bounds random_bytes(n).
const MaxRandomBytes = 1 << 20

// Module builds imscript.crypto for one instance.
func Module(inst script.Instance) script.Value {
	shared(inst) // the gate, made once per host
	return script.Funcs(API.Funcs)
}

// API describes imscript.crypto for editors.
var API = &script.API{
	Doc: "Password hashes, HMAC, SHA-256, random bytes and encodings.",
	Funcs: map[string]script.Method{
		"password_hash":   {Fn: func(c script.Call) { shared(c.Instance()).passwordHash(c) }, Args: "password: string|bytes", Returns: "async string", Doc: "An argon2id hash of the password (salted), off the worker."},
		"password_verify": {Fn: func(c script.Call) { shared(c.Instance()).passwordVerify(c) }, Args: "password: string|bytes, hash: string", Returns: "async boolean", Doc: "Whether the password matches a password_hash."},
		"hmac":            {Fn: hmacFn, Args: `alg: "sha1"|"sha256"|"sha384"|"sha512", key: string|bytes, data: string|bytes`, Returns: "bytes", Doc: "The HMAC of data."},
		"sha256":          {Fn: sha256Fn, Args: "data: string|bytes", Returns: "bytes", Doc: "The SHA-256 digest of data."},
		"random_bytes":    {Fn: randomBytes, Args: "n: integer", Returns: "bytes", Doc: "n cryptographically random bytes."},
		"hex":             {Fn: hexFn, Args: "data: string|bytes", Returns: "string", Doc: "data in lower-case hex."},
		"uuid":            {Fn: uuidFn, Returns: "string", Doc: "A random (version 4) UUID."},
		"base64":          {Fn: base64Fn, Args: "data: string|bytes", Returns: "string", Doc: "data in standard base64."},
		"unbase64":        {Fn: unbase64Fn, Args: "text: string", Returns: "bytes|false, string?", Doc: "Decodes base64; false (and why) when it is not base64."},
		"equal":           {Fn: equalFn, Args: "a: string|bytes, b: string|bytes", Returns: "boolean", Doc: "Compares in constant time."},
	},
}

// gate bounds the password hashes running at once in one host.
type gate struct{ slots chan struct{} }

const sharedKey = "imscript/stdlib/crypto"

func shared(inst script.Instance) *gate {
	return inst.Shared(sharedKey, func() any {
		return &gate{slots: make(chan struct{}, max(1, runtime.GOMAXPROCS(0)))}
	}).(*gate)
}

// Hashes are the hmac algorithms by name.
var hashes = map[string]func() hash.Hash{
	"sha1":   sha1.New,
	"sha256": sha256.New,
	"sha512": sha512.New,
}

// hmacFn is imscript.crypto.hmac(alg, key, data) → the raw MAC (bytes).
func hmacFn(c script.Call) {
	alg := c.Str(0, "alg")
	h, ok := hashes[strings.ToLower(alg)]
	if !ok {
		script.Usagef("crypto.hmac: bad argument #1 (alg): want \"sha256\", \"sha1\" or \"sha512\", got %q", alg)
	}
	m := hmac.New(h, c.Bytes(1, "key"))
	m.Write(c.Bytes(2, "data"))
	c.Return(m.Sum(nil))
}

// sha256Fn is imscript.crypto.sha256(data) → the raw digest (bytes).
func sha256Fn(c script.Call) {
	sum := sha256.Sum256(c.Bytes(0, "data"))
	c.Return(sum[:])
}

// randomBytes is imscript.crypto.random_bytes(n) → n bytes from
// crypto/rand.
func randomBytes(c script.Call) {
	n := c.Int(0, "n")
	if n < 0 || n > MaxRandomBytes {
		script.Usagef("crypto.random_bytes: bad argument #1 (n): want 0 to %d, got %d", MaxRandomBytes, n)
	}
	b := make([]byte, n)
	_, _ = rand.Read(b) // never fails (crypto/rand panics rather)
	c.Return(b)
}

// hexFn is imscript.crypto.hex(bytes) → lower-case hex.
func hexFn(c script.Call) { c.ReturnStr(hex.EncodeToString(c.Bytes(0, "data"))) }

// uuidFn is imscript.crypto.uuid() → a random (version 4) UUID.
func uuidFn(c script.Call) { c.ReturnStr(UUID()) }

// UUID returns a random RFC 9562 version 4 UUID in its lower-case text
// form.
func UUID() string {
	var u [16]byte
	_, _ = rand.Read(u[:])
	u[6] = u[6]&0x0f | 0x40
	u[8] = u[8]&0x3f | 0x80
	var out [36]byte
	hex.Encode(out[0:8], u[0:4])
	out[8] = '-'
	hex.Encode(out[9:13], u[4:6])
	out[13] = '-'
	hex.Encode(out[14:18], u[6:8])
	out[18] = '-'
	hex.Encode(out[19:23], u[8:10])
	out[23] = '-'
	hex.Encode(out[24:], u[10:])
	return string(out[:])
}

// base64Fn is imscript.crypto.base64(bytes) → standard base64 with
// padding.
func base64Fn(c script.Call) { c.ReturnStr(base64.StdEncoding.EncodeToString(c.Bytes(0, "data"))) }

// unbase64Fn is imscript.crypto.unbase64(text) → bytes. It takes the
// standard and the URL alphabet, with or without padding; text that is not
// base64 is a routine failure (Lua nil, err; JS null).
func unbase64Fn(c script.Call) {
	s := c.Str(0, "text")
	for i := 0; i < 2 && strings.HasSuffix(s, "="); i++ {
		s = s[:len(s)-1]
	}
	if strings.ContainsAny(s, "-_") {
		s = strings.NewReplacer("-", "+", "_", "/").Replace(s)
	}
	b, err := base64.RawStdEncoding.DecodeString(s)
	if err != nil {
		c.Return(nil, "crypto.unbase64: not base64")
		return
	}
	c.Return(b)
}

// equalFn is imscript.crypto.equal(a, b) → whether the two strings or
// byte strings are equal, in time that depends only on their lengths (for
// comparing MACs).
func equalFn(c script.Call) {
	c.ReturnBool(subtle.ConstantTimeCompare(c.Bytes(0, "a"), c.Bytes(1, "b")) == 1)
}

// callbackAt returns the number of arguments before a trailing callback
// and the callback's index (n when there is none).
func callbackAt(c script.Call) (n, cb int) {
	n = c.NArgs()
	cb = n
	if n > 0 {
		if _, ok := c.Arg(n - 1).(script.Callback); ok {
			n, cb = n-1, n-1
		}
	}
	return n, cb
}

// passwordHash is imscript.crypto.password_hash(pw [, fn]) → a PHC string
// (argon2id, a fresh 16-byte salt), off the worker.
func (g *gate) passwordHash(c script.Call) {
	n, cb := callbackAt(c)
	if n < 1 {
		script.Usagef("crypto.password_hash: bad argument #1 (password): string expected, got no value")
	}
	pw := append([]byte(nil), c.Bytes(0, "password")...)
	if len(pw) > MaxPassword {
		script.Usagef("crypto.password_hash: the password is %d bytes, more than %d", len(pw), MaxPassword)
	}
	settle := c.Async(cb)
	ctx := c.Instance().Context()
	go func() {
		if !g.take(ctx) {
			settle(nil, cancelled("crypto.password_hash"))
			return
		}
		defer g.give()
		settle(Hash(pw, DefaultParams), nil)
	}()
}

// passwordVerify is imscript.crypto.password_verify(pw, hash [, fn]) →
// whether pw is the password hash was made from, off the worker. A hash
// that is not an argon2id PHC string (or has parameters past the bounds)
// is false at once: a Lua handler gets false and the reason without
// suspending; JS a Promise of false; a Lua callback fn(false).
func (g *gate) passwordVerify(c script.Call) {
	n, cb := callbackAt(c)
	if n < 2 {
		script.Usagef("crypto.password_verify: bad argument #%d (%s): string expected, got no value", n+1, []string{"password", "hash"}[n])
	}
	pw := append([]byte(nil), c.Bytes(0, "password")...)
	ph, err := ParseHash(c.Str(1, "hash"))
	if err == nil && len(pw) > MaxPassword {
		err = errTooLong
	}
	if err != nil {
		if cb == c.NArgs() && c.Suspends() { // a Lua handler, no callback
			c.Fail("crypto.password_verify: " + err.Error())
			return
		}
		c.Async(cb)(false, nil)
		return
	}
	settle := c.Async(cb)
	ctx := c.Instance().Context()
	go func() {
		if !g.take(ctx) {
			settle(nil, cancelled("crypto.password_verify"))
			return
		}
		defer g.give()
		settle(ph.Verify(pw), nil)
	}()
}

// take waits for a slot, or for ctx to end (false).
func (g *gate) take(ctx context.Context) bool {
	select {
	case g.slots <- struct{}{}:
		return true
	case <-ctx.Done():
		return false
	}
}

func (g *gate) give() { <-g.slots }

func cancelled(what string) error {
	return &script.CodedError{Msg: what + ": cancelled: the script version has ended", Code: "CANCELLED"}
}
