package js

import (
	"crypto/hmac"
	"crypto/md5"
	"crypto/rand"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/sha512"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"hash"
	"strings"

	"github.com/imscript/imscript/bindings/js/internal/goja"
	"github.com/imscript/imscript/bindings/js/internal/gojanode/buffer"
	nodeerrors "github.com/imscript/imscript/bindings/js/internal/gojanode/errors"

	"github.com/imscript/imscript/script"
)

// nodeBuiltins are the Node core modules require() serves that a
// registered module of the same name does not shadow: require("crypto")
// (and "node:crypto") is Node's, which also carries imscript.crypto's
// members when that module is registered.
//
// nodeYields are the exceptions: a registered module keeps the bare name
// (require("process") is imscript.process); "node:process" is Node's.
var nodeYields = map[string]bool{"process": true}

var nodeBuiltins = map[string]func(*vm) goja.Value{
	"crypto":  (*vm).nodeCrypto,
	"events":  (*vm).nodeEvents,
	"process": (*vm).nodeProcess,
	"util":    (*vm).nodeUtil,
	"path":    (*vm).nodePath,
	"url":     (*vm).nodeURL,
	"console": (*vm).nodeConsole,
	"timers":  (*vm).nodeTimers,

	"diagnostics_channel": (*vm).nodeDiagnosticsChannel,
}

// builtin returns the Node core module name names ("crypto",
// "node:crypto"), made on first use, or nil.
func (v *vm) builtin(name string) goja.Value {
	base := strings.TrimPrefix(name, "node:")
	mk, ok := nodeBuiltins[base]
	if !ok {
		return nil
	}
	if _, kept := v.mods[base]; kept && nodeYields[base] && base != name {
		mod := mk(v)
		v.mods[name] = mod
		return mod
	}
	mod := mk(v)
	v.mods[base], v.mods["node:"+base] = mod, mod
	return mod
}

// MaxRandomBytes bounds crypto.randomBytes(n), as imscript.crypto's
// random_bytes.
const MaxRandomBytes = 1 << 20

// hashes are the digests createHash and createHmac know.
var hashes = map[string]func() hash.Hash{
	"md5":    md5.New,
	"sha1":   sha1.New,
	"sha224": sha256.New224,
	"sha256": sha256.New,
	"sha384": sha512.New384,
	"sha512": sha512.New,
}

func hashByName(name string) (func() hash.Hash, bool) {
	h, ok := hashes[strings.ReplaceAll(strings.ToLower(name), "-", "")]
	return h, ok
}

// nodeCrypto is require("crypto"): randomUUID, randomBytes,
// getRandomValues, createHash, createHmac, timingSafeEqual, getHashes and
// webcrypto (the global crypto), with Node's errors.
func (v *vm) nodeCrypto() goja.Value {
	rt := v.rt
	v.ensureWeb()
	o := rt.NewObject()
	wc := v.webcrypto
	_ = o.Set("webcrypto", wc)
	_ = o.Set("randomUUID", wc.Get("randomUUID"))
	_ = o.Set("getRandomValues", wc.Get("getRandomValues"))
	_ = o.Set("randomBytes", v.randomBytes)
	_ = o.Set("createHash", func(fc goja.FunctionCall) goja.Value {
		name := fc.Argument(0)
		if name.ExportType() != typeString {
			panic(nodeerrors.NewTypeError(rt, nodeerrors.ErrCodeInvalidArgType, `The "algorithm" argument must be of type string`))
		}
		h, ok := hashByName(name.String())
		if !ok {
			panic(nodeerrors.NewError(rt, nil, "ERR_OSSL_EVP_UNSUPPORTED", "Digest method not supported"))
		}
		return v.hasher(h())
	})
	_ = o.Set("createHmac", func(fc goja.FunctionCall) goja.Value {
		name := fc.Argument(0)
		if name.ExportType() != typeString {
			panic(nodeerrors.NewTypeError(rt, nodeerrors.ErrCodeInvalidArgType, `The "hmac" argument must be of type string`))
		}
		h, ok := hashByName(name.String())
		if !ok {
			panic(nodeerrors.NewTypeError(rt, "ERR_CRYPTO_INVALID_DIGEST", "Invalid digest: %s", name.String()))
		}
		key := v.bytesArg(fc.Argument(1), goja.Undefined(), "key")
		return v.hasher(hmac.New(h, append([]byte(nil), key...)))
	})
	_ = o.Set("timingSafeEqual", func(fc goja.FunctionCall) goja.Value {
		a, b := v.bufferArg(fc.Argument(0), "buf1"), v.bufferArg(fc.Argument(1), "buf2")
		if len(a) != len(b) {
			panic(nodeerrors.NewRangeError(rt, "ERR_CRYPTO_TIMING_SAFE_EQUAL_LENGTH", "Input buffers must have the same byte length"))
		}
		return rt.ToValue(subtle.ConstantTimeCompare(a, b) == 1)
	})
	_ = o.Set("getHashes", func(goja.FunctionCall) goja.Value {
		return rt.ToValue([]any{"md5", "sha1", "sha224", "sha256", "sha384", "sha512"})
	})
	// imscript.crypto's members, for a script that asks require("crypto")
	// for them as Lua does.
	if _, ok := v.inst.Module("crypto"); ok {
		if ims, ok := v.mods["imscript"].(*goja.Object); ok {
			if m, ok := ims.Get("crypto").(*goja.Object); ok {
				for _, k := range m.Keys() {
					if cur := o.Get(k); cur == nil {
						_ = o.Set(k, m.Get(k))
					}
				}
			}
		}
	}
	return o
}

// randomBytes is crypto.randomBytes(size [, callback]): a Buffer, or
// callback(null, buf) on the worker's next turn.
func (v *vm) randomBytes(fc goja.FunctionCall) goja.Value {
	rt := v.rt
	n := fc.Argument(0)
	switch n.ExportType() {
	case typeInt, typeFloat:
	default:
		panic(nodeerrors.NewTypeError(rt, nodeerrors.ErrCodeInvalidArgType, `The "size" argument must be of type number`))
	}
	f := n.ToFloat()
	if f != f || f < 0 || f > MaxRandomBytes || f != float64(int64(f)) {
		panic(nodeerrors.NewRangeError(rt, nodeerrors.ErrCodeOutOfRange,
			`The value of "size" is out of range. It must be >= 0 && <= %d. Received %v`, MaxRandomBytes, n.String()))
	}
	b := make([]byte, int(f))
	_, _ = rand.Read(b)
	buf := v.buf.WrapBytes(b)
	cb := fc.Argument(1)
	if absent(cb) {
		return buf
	}
	fn, ok := goja.AssertFunction(cb)
	if !ok {
		panic(nodeerrors.NewTypeError(rt, nodeerrors.ErrCodeInvalidArgType, `The "callback" argument must be of type function`))
	}
	v.inst.AddTimer(0, false, &callback{vm: v, fn: fn, v: cb}, script.List{&jsValue{goja.Null()}, &jsValue{buf}})
	return goja.Undefined()
}

// hasher is a Hash or Hmac object: update(data [, inputEncoding]) returns
// it; digest([encoding]) ends it.
func (v *vm) hasher(h hash.Hash) goja.Value {
	rt := v.rt
	o := rt.NewObject()
	done := false
	finalized := func() {
		panic(nodeerrors.NewError(rt, nil, "ERR_CRYPTO_HASH_FINALIZED", "Digest already called"))
	}
	_ = o.Set("update", func(fc goja.FunctionCall) goja.Value {
		if done {
			finalized()
		}
		h.Write(v.bytesArg(fc.Argument(0), fc.Argument(1), "data"))
		return o
	})
	_ = o.Set("digest", func(fc goja.FunctionCall) goja.Value {
		if done {
			finalized()
		}
		done = true
		return v.encodeBytes(h.Sum(nil), fc.Argument(0))
	})
	return o
}

// bytesArg reads a string (in encoding enc, UTF-8 by default), a Buffer,
// any TypedArray, a DataView or an ArrayBuffer. The bytes may be the
// VM's: use them before the call returns.
func (v *vm) bytesArg(a, enc goja.Value, name string) []byte {
	if a.ExportType() == typeString {
		return decodeString(a, enc)
	}
	if b, ok := v.viewBytes(a); ok {
		return b
	}
	panic(nodeerrors.NewTypeError(v.rt, nodeerrors.ErrCodeInvalidArgType,
		`The "%s" argument must be of type string or an instance of Buffer, TypedArray, DataView, or ArrayBuffer.`, name))
}

// bufferArg reads a Buffer, TypedArray, DataView or ArrayBuffer.
func (v *vm) bufferArg(a goja.Value, name string) []byte {
	if b, ok := v.viewBytes(a); ok {
		return b
	}
	panic(nodeerrors.NewTypeError(v.rt, nodeerrors.ErrCodeInvalidArgType,
		`The "%s" argument must be an instance of ArrayBuffer, Buffer, TypedArray, or DataView.`, name))
}

// viewBytes returns the bytes of an ArrayBuffer or an ArrayBuffer view
// (the VM's own: not to be kept).
func (v *vm) viewBytes(a goja.Value) ([]byte, bool) {
	o, ok := a.(*goja.Object)
	if !ok {
		return nil, false
	}
	if o.ExportType() == typeAB {
		return o.Export().(goja.ArrayBuffer).Bytes(), true
	}
	if is, err := v.isView(goja.Undefined(), o); err == nil && is.ToBoolean() {
		var b []byte
		if err := v.rt.ExportTo(o, &b); err == nil {
			return b, true
		}
	}
	return nil, false
}

// decodeString turns a JS string into bytes as Buffer.from(s, enc) does.
func decodeString(s, enc goja.Value) []byte {
	name := "utf8"
	if !absent(enc) {
		name = strings.ToLower(enc.String())
	}
	switch name {
	case "hex", "base64", "base64url":
		c := buffer.StringCodecByName(name)
		if name == "base64url" {
			c = buffer.StringCodecByName("base64") // it reads both alphabets
		}
		return c.Decode(s.String())
	case "latin1", "binary", "ascii":
		str := jsString(s)
		b := make([]byte, str.Length())
		for i := range b {
			b[i] = byte(str.CharAt(i))
		}
		return b
	}
	return []byte(s.String())
}

// encodeBytes renders a digest: a Buffer, or a string in encoding enc.
func (v *vm) encodeBytes(b []byte, enc goja.Value) goja.Value {
	if absent(enc) {
		return v.buf.WrapBytes(b)
	}
	switch strings.ToLower(enc.String()) {
	case "hex":
		return v.rt.ToValue(hex.EncodeToString(b))
	case "base64":
		return v.rt.ToValue(base64.StdEncoding.EncodeToString(b))
	case "base64url":
		return v.rt.ToValue(base64.RawURLEncoding.EncodeToString(b))
	case "latin1", "binary":
		return latin1(v.rt, b)
	case "utf8", "utf-8":
		return v.rt.ToValue(strings.ToValidUTF8(string(b), "\uFFFD"))
	}
	return v.buf.WrapBytes(b)
}
