package js

import (
	"crypto/rand"
	_ "embed"
	"encoding/base64"
	"encoding/hex"
	"strings"
	"sync"
	"time"
	"unicode/utf16"
	"unicode/utf8"

	"github.com/imscript/imscript/bindings/js/internal/goja"
	nodeerrors "github.com/imscript/imscript/bindings/js/internal/gojanode/errors"
)

// web.js gives the web platform globals their shapes; the Go functions
// below (the h it is called with) do the work.
//
//go:embed web.js
var webSrc string

// fetch.js adds fetch and its classes, EventTarget, AbortController and
// structuredClone, after web.js.
//
//go:embed fetch.js
var fetchSrc string

// webProgram is web.js compiled once for every VM, fetchProgram fetch.js.
var (
	webProgram = sync.OnceValue(func() *goja.Program {
		return goja.MustCompile("imscript:web.js", webSrc, true)
	})
	fetchProgram = sync.OnceValue(func() *goja.Program {
		return goja.MustCompile("imscript:fetch.js", fetchSrc, true)
	})
)

// webGlobals are the globals web.js defines, fetchGlobals fetch.js's.
var (
	webGlobals   = []string{"DOMException", "TextEncoder", "TextDecoder", "atob", "btoa", "crypto"}
	fetchGlobals = []string{"Event", "EventTarget", "AbortController", "AbortSignal", "Headers", "Request",
		"Response", "fetch", "structuredClone", "performance"}
)

// installWeb adds DOMException, TextEncoder, TextDecoder, atob, btoa and
// crypto (randomUUID, getRandomValues) (web.js), and fetch (Headers,
// Request, Response), Event, EventTarget, AbortController, AbortSignal
// structuredClone and performance (now, timeOrigin) (fetch.js), as
// browsers and Node have them. They
// cost a VM about 100 µs a file to make, so each starts as an accessor
// that makes its file's globals the first time one is read or assigned.
func (v *vm) installWeb() {
	v.lazyGlobals(webGlobals, v.ensureWeb)
	v.lazyGlobals(fetchGlobals, v.ensureFetch)
}

func (v *vm) lazyGlobals(names []string, ensure func()) {
	rt := v.rt
	g := rt.GlobalObject()
	for _, name := range names {
		get := func(goja.FunctionCall) goja.Value {
			ensure()
			return g.Get(name)
		}
		set := func(fc goja.FunctionCall) goja.Value {
			ensure()
			_ = g.Set(name, fc.Argument(0))
			return goja.Undefined()
		}
		_ = g.DefineAccessorProperty(name, rt.ToValue(get), rt.ToValue(set), goja.FLAG_TRUE, goja.FLAG_FALSE)
	}
}

// ensureWeb runs web.js once, replacing the accessors with the globals.
func (v *vm) ensureWeb() {
	if v.webDone {
		return
	}
	v.webDone = true
	if err := v.makeWeb(); err != nil {
		panic(v.rt.NewGoError(err))
	}
}

// ensureFetch runs fetch.js once (after web.js).
func (v *vm) ensureFetch() {
	if v.fetchDone {
		return
	}
	v.fetchDone = true
	v.ensureWeb()
	if err := v.makeFetch(); err != nil {
		panic(v.rt.NewGoError(err))
	}
}

func (v *vm) makeWeb() error {
	rt := v.rt
	fnv, err := rt.RunProgram(webProgram())
	if err != nil {
		return err
	}
	fn, ok := goja.AssertFunction(fnv)
	if !ok {
		panic("web.js is not a function")
	}
	h := rt.NewObject()
	_ = h.Set("encode", func(fc goja.FunctionCall) goja.Value {
		return rt.ToValue(rt.NewArrayBuffer([]byte(fc.Argument(0).String())))
	})
	_ = h.Set("encodeInto", v.encodeInto)
	_ = h.Set("decode", v.decodeUTF8)
	_ = h.Set("btoa", func(fc goja.FunctionCall) goja.Value {
		s := jsString(fc.Argument(0))
		b := make([]byte, s.Length())
		for i := range b {
			c := s.CharAt(i)
			if c > 0xFF {
				return goja.Null()
			}
			b[i] = byte(c)
		}
		return rt.ToValue(base64.StdEncoding.EncodeToString(b))
	})
	_ = h.Set("atob", func(fc goja.FunctionCall) goja.Value {
		b, ok := forgivingBase64(jsString(fc.Argument(0)))
		if !ok {
			return goja.Null()
		}
		return latin1(rt, b)
	})
	_ = h.Set("uuid", func(goja.FunctionCall) goja.Value { return rt.ToValue(randomUUID()) })
	_ = h.Set("fill", func(fc goja.FunctionCall) goja.Value {
		var b []byte
		if err := rt.ExportTo(fc.Argument(0), &b); err != nil {
			panic(rt.NewTypeError(err.Error()))
		}
		_, _ = rand.Read(b)
		return goja.Undefined()
	})
	ret, err := fn(goja.Undefined(), rt.GlobalObject(), h)
	if err != nil {
		return err
	}
	r := ret.ToObject(rt)
	v.webcrypto = r.Get("webcrypto").ToObject(rt)
	v.web = r
	isView, ok := goja.AssertFunction(rt.Get("ArrayBuffer").ToObject(rt).Get("isView"))
	if !ok {
		panic("no ArrayBuffer.isView")
	}
	v.isView = isView
	return nil
}

// makeFetch runs fetch.js, with imscript.http.request (when the host has
// the http module) to do the requests.
func (v *vm) makeFetch() error {
	rt := v.rt
	fnv, err := rt.RunProgram(fetchProgram())
	if err != nil {
		return err
	}
	fn, ok := goja.AssertFunction(fnv)
	if !ok {
		panic("fetch.js is not a function")
	}
	h := rt.NewObject()
	_ = h.Set("now", func(goja.FunctionCall) goja.Value {
		return rt.ToValue(float64(time.Since(v.born).Nanoseconds()) / 1e6)
	})
	_ = h.Set("timeOrigin", float64(v.born.UnixNano())/1e6)
	if mod, ok := v.mods["http"]; ok {
		if m, ok := mod.(*goja.Object); ok {
			_ = h.Set("request", m.Get("request"))
		}
	}
	_, err = fn(goja.Undefined(), rt.GlobalObject(), h, v.web)
	return err
}

// encodeInto is TextEncoder#encodeInto's work: as much of the string as
// fits, whole characters only; it returns {read (UTF-16 units), written}.
func (v *vm) encodeInto(fc goja.FunctionCall) goja.Value {
	rt := v.rt
	s := fc.Argument(0).String() // lone surrogates are U+FFFD already
	var dst []byte
	if err := rt.ExportTo(fc.Argument(1), &dst); err != nil {
		panic(rt.NewTypeError(err.Error()))
	}
	read, written := 0, 0
	for _, r := range s {
		n := utf8.RuneLen(r)
		if written+n > len(dst) {
			break
		}
		utf8.EncodeRune(dst[written:], r)
		written += n
		read++
		if r > 0xFFFF {
			read++
		}
	}
	o := rt.NewObject()
	_ = o.Set("read", read)
	_ = o.Set("written", written)
	return o
}

// decodeUTF8 is TextDecoder#decode's work: h.decode(bytes, pending,
// fatal, stream, stripBOM) → [text, pending bytes or null, whether a
// character came out].
func (v *vm) decodeUTF8(fc goja.FunctionCall) goja.Value {
	rt := v.rt
	var b []byte
	if err := rt.ExportTo(fc.Argument(0), &b); err != nil {
		panic(rt.NewTypeError(err.Error()))
	}
	if ab, ok := fc.Argument(1).Export().(goja.ArrayBuffer); ok && len(ab.Bytes()) > 0 {
		b = append(append([]byte(nil), ab.Bytes()...), b...)
	}
	fatal, stream, stripBOM := fc.Argument(2).ToBoolean(), fc.Argument(3).ToBoolean(), fc.Argument(4).ToBoolean()
	s, rest, ok := DecodeUTF8(b, fatal, stream)
	if !ok {
		panic(nodeerrors.NewTypeError(rt, "ERR_ENCODING_INVALID_ENCODED_DATA", "The encoded data was not valid for encoding utf-8"))
	}
	emitted := len(s) > 0
	if stripBOM {
		s = strings.TrimPrefix(s, "\uFEFF")
	}
	pending := goja.Null()
	if len(rest) > 0 {
		pending = rt.ToValue(rt.NewArrayBuffer(append([]byte(nil), rest...)))
	}
	return rt.NewArray(s, pending, emitted)
}

// DecodeUTF8 decodes b as the WHATWG Encoding Standard's UTF-8 decoder
// does: each maximal invalid subpart becomes one U+FFFD, or, when fatal,
// the decoding fails (ok false). With stream, an incomplete sequence at
// the end is returned in rest instead, for the next chunk.
func DecodeUTF8(b []byte, fatal, stream bool) (s string, rest []byte, ok bool) {
	if utf8.Valid(b) {
		return string(b), nil, true
	}
	var sb strings.Builder
	sb.Grow(len(b) + 8)
	needed, seen, start := 0, 0, 0
	var cp rune
	lower, upper := byte(0x80), byte(0xBF)
	for i := 0; i < len(b); i++ {
		c := b[i]
		if needed == 0 {
			start = i
			switch {
			case c <= 0x7F:
				sb.WriteByte(c)
			case c >= 0xC2 && c <= 0xDF:
				needed, cp = 1, rune(c&0x1F)
			case c >= 0xE0 && c <= 0xEF:
				if c == 0xE0 {
					lower = 0xA0
				} else if c == 0xED {
					upper = 0x9F
				}
				needed, cp = 2, rune(c&0x0F)
			case c >= 0xF0 && c <= 0xF4:
				if c == 0xF0 {
					lower = 0x90
				} else if c == 0xF4 {
					upper = 0x8F
				}
				needed, cp = 3, rune(c&0x07)
			default:
				if fatal {
					return "", nil, false
				}
				sb.WriteRune(utf8.RuneError)
			}
			continue
		}
		if c < lower || c > upper {
			needed, seen, cp = 0, 0, 0
			lower, upper = 0x80, 0xBF
			if fatal {
				return "", nil, false
			}
			sb.WriteRune(utf8.RuneError)
			i-- // the byte starts what comes next
			continue
		}
		lower, upper = 0x80, 0xBF
		cp = cp<<6 | rune(c&0x3F)
		if seen++; seen == needed {
			sb.WriteRune(cp)
			needed, seen, cp = 0, 0, 0
		}
	}
	if needed != 0 {
		if stream {
			return sb.String(), b[start:], true
		}
		if fatal {
			return "", nil, false
		}
		sb.WriteRune(utf8.RuneError)
	}
	return sb.String(), nil, true
}

// forgivingBase64 decodes s as the HTML standard's forgiving-base64
// decode (atob): ASCII whitespace is dropped, padding is optional, the
// bits past the last byte are ignored; anything else fails.
func forgivingBase64(s goja.String) ([]byte, bool) {
	b := make([]byte, 0, s.Length())
	for i := range s.Length() {
		c := s.CharAt(i)
		switch {
		case c == '\t' || c == '\n' || c == '\f' || c == '\r' || c == ' ':
			continue
		case c > 0x7F:
			return nil, false
		}
		b = append(b, byte(c))
	}
	if len(b)%4 == 0 {
		for i := 0; i < 2 && len(b) > 0 && b[len(b)-1] == '='; i++ {
			b = b[:len(b)-1]
		}
	}
	if len(b)%4 == 1 {
		return nil, false
	}
	for _, c := range b {
		if !(c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '+' || c == '/') {
			return nil, false
		}
	}
	out, err := base64.RawStdEncoding.DecodeString(string(b))
	return out, err == nil
}

// jsString is v converted to a string, with its UTF-16 units.
func jsString(v goja.Value) goja.String {
	if s, ok := v.ToString().(goja.String); ok {
		return s
	}
	return goja.StringFromUTF16(utf16.Encode([]rune(v.String())))
}

// latin1 makes a JS string of one UTF-16 unit per byte (atob's result).
func latin1(rt *goja.Runtime, b []byte) goja.Value {
	ascii := true
	for _, c := range b {
		if c > 0x7F {
			ascii = false
			break
		}
	}
	if ascii {
		return rt.ToValue(string(b))
	}
	u := make([]uint16, len(b))
	for i, c := range b {
		u[i] = uint16(c)
	}
	return goja.StringFromUTF16(u)
}

// randomUUID returns a random (version 4) UUID, lower-case.
func randomUUID() string {
	var u [16]byte
	_, _ = rand.Read(u[:])
	u[6] = u[6]&0x0f | 0x40
	u[8] = u[8]&0x3f | 0x80
	var out [36]byte
	hex.Encode(out[0:8], u[0:4])
	hex.Encode(out[9:13], u[4:6])
	hex.Encode(out[14:18], u[6:8])
	hex.Encode(out[19:23], u[8:10])
	hex.Encode(out[24:], u[10:])
	out[8], out[13], out[18], out[23] = '-', '-', '-', '-'
	return string(out[:])
}
