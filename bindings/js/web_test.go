package js_test

import (
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/imscript/imscript/bindings/js"
)

// TestTextEncoding: TextEncoder / TextDecoder round trips with non-ASCII
// text, lone surrogates, the WHATWG replacement of invalid bytes, fatal
// decoding, the BOM, streaming, the inputs decode takes.
func TestTextEncoding(t *testing.T) {
	src := `
const enc = new TextEncoder(), dec = new TextDecoder();
const s = "héllo wörld – €𝄞 日本";
const b = enc.encode(s);
console.log(enc.encoding, b instanceof Uint8Array, b.length, Array.from(enc.encode("é€𝄞")).join(","));
console.log(dec.decode(b) === s, dec.encoding, dec.fatal, dec.ignoreBOM, dec.decode(), enc.encode().length);
console.log(Array.from(enc.encode("a\ud800b")).join(","));
const into = new Uint8Array(5);
console.log(JSON.stringify(enc.encodeInto("a€𝄞", into)), Array.from(into).join(","), JSON.stringify(enc.encodeInto("𝄞a", new Uint8Array(8))));
console.log(JSON.stringify(dec.decode(new Uint8Array([0x61, 0xe2, 0x82, 0x62, 0xff, 0xc0, 0x80, 0xed, 0xa0, 0x80, 0xf0, 0x9f]))));
const fatal = new TextDecoder("utf-8", { fatal: true });
try { fatal.decode(new Uint8Array([0x61, 0xc3])); console.log("no error?!"); } catch (e) { console.log(e instanceof TypeError, e.code, e.message); }
console.log(fatal.fatal, fatal.decode(Buffer.from("ok é")));
console.log(JSON.stringify(dec.decode(new Uint8Array([0xef, 0xbb, 0xbf, 0x61]))), new TextDecoder("utf8", { ignoreBOM: true }).decode(new Uint8Array([0xef, 0xbb, 0xbf, 0x61])).length);
const st = new TextDecoder();
console.log(JSON.stringify(st.decode(new Uint8Array([0xef, 0xbb]), { stream: true }) + st.decode(new Uint8Array([0xbf, 0xe2, 0x82]), { stream: true }) + st.decode(new Uint8Array([0xac]))));
console.log(JSON.stringify(st.decode(new Uint8Array([0xe2, 0x82]), { stream: true }) + "|" + st.decode()));
const ab = enc.encode("buf").buffer;
console.log(dec.decode(ab), dec.decode(new DataView(ab)), dec.decode(Buffer.from("Buffer")), dec.decode(new Uint16Array([0x6968])), dec.decode(enc.encode("xyz").subarray(1)));
for (const bad of [() => new TextDecoder("latin1"), () => dec.decode("text"), () => enc.encodeInto("a", [])]) {
  try { bad(); console.log("no error?!"); } catch (e) { console.log(e.name + ": " + e.message); }
}
`
	out, _ := run(t, 1, src, "", nil)
	want := `utf-8 true 32 195,169,226,130,172,240,157,132,158
true utf-8 false false  0
97,239,191,189,98
{"read":2,"written":4} 97,226,130,172,0 {"read":3,"written":5}
"a�b�������"
true ERR_ENCODING_INVALID_ENCODED_DATA The encoded data was not valid for encoding utf-8
true ok é
"a" 2
"€"
"|�"
buf buf Buffer hi yz
RangeError: The "latin1" encoding is not supported
TypeError: The "input" argument must be an instance of ArrayBuffer or ArrayBufferView
TypeError: The "dest" argument must be an instance of Uint8Array
`
	if out != want {
		t.Errorf("got:\n%s\nwant:\n%s", out, want)
	}
}

// TestDecodeUTF8: the decoder against Go's on every 1-3 byte input where
// they must agree (valid text; invalid text has one U+FFFD per maximal
// subpart, which Go's ToValidUTF8 merges), and on the standard's own
// examples.
func TestDecodeUTF8(t *testing.T) {
	for _, c := range []struct{ in, want string }{
		{"\xf0\x90\x80", "\ufffd"},             // truncated 4-byte: one
		{"\xf0\x80\x80", "\ufffd\ufffd\ufffd"}, // overlong lead: each byte
		{"\xed\xa0\x80", "\ufffd\ufffd\ufffd"}, // a surrogate
		{"\xf4\x90\x80\x80", "\ufffd\ufffd\ufffd\ufffd"},
		{"a\x80b", "a\ufffdb"},
	} {
		if got, _, ok := js.DecodeUTF8([]byte(c.in), false, false); !ok || got != c.want {
			t.Errorf("DecodeUTF8(%q) = %q, want %q", c.in, got, c.want)
		}
		if _, _, ok := js.DecodeUTF8([]byte(c.in), true, false); ok {
			t.Errorf("fatal DecodeUTF8(%q) succeeded", c.in)
		}
	}
	// Every 1- and 2-byte input, and 3- and 4-byte ones made of every lead
	// byte and the edges of the continuation ranges: valid text comes out
	// as it is, anything else as UTF-8 with U+FFFD (fatal: an error), and
	// decoding in two streamed pieces, split anywhere, gives the same.
	edges := []byte{0x00, 0x41, 0x7f, 0x80, 0x8f, 0x90, 0x9f, 0xa0, 0xbf, 0xc0, 0xc2, 0xdf, 0xe0, 0xed, 0xef, 0xf0, 0xf4, 0xf5, 0xff}
	var inputs [][]byte
	for i := range 1 << 16 {
		inputs = append(inputs, []byte{byte(i)}, []byte{byte(i), byte(i >> 8)})
	}
	for lead := range 256 {
		for _, b := range edges {
			for _, c := range edges {
				inputs = append(inputs, []byte{byte(lead), b, c}, []byte{byte(lead), b, c, 0x80})
			}
		}
	}
	for _, b := range inputs {
		got, _, _ := js.DecodeUTF8(b, false, false)
		_, _, fatalOK := js.DecodeUTF8(b, true, false)
		valid := utf8.Valid(b)
		if !utf8.ValidString(got) || valid != (got == string(b)) || valid != fatalOK || (!valid && !strings.ContainsRune(got, utf8.RuneError)) {
			t.Fatalf("DecodeUTF8(%x) = %q (fatal ok: %v)", b, got, fatalOK)
		}
		for cut := 1; cut < len(b); cut++ {
			head, rest, _ := js.DecodeUTF8(b[:cut], false, true)
			tail, _, _ := js.DecodeUTF8(append(append([]byte(nil), rest...), b[cut:]...), false, false)
			if head+tail != got {
				t.Fatalf("DecodeUTF8(%x) streamed at %d: %q + %q, whole %q", b, cut, head, tail, got)
			}
		}
	}
}

// TestBase64Globals: btoa / atob as browsers have them, with their
// InvalidCharacterError DOMExceptions.
func TestBase64Globals(t *testing.T) {
	src := `
console.log(btoa(""), btoa("f"), btoa("fo"), btoa("foo"), btoa("foobar"), btoa("Hello, World!"), btoa("\xff\xfe\x00"), btoa(null));
console.log(atob("Zm9vYmFy"), atob("Zm9vYg=="), atob("Zm9vYg"), atob(" Zm9v\nYmFy\t"), JSON.stringify(atob("//4A")), atob(""), atob("YR=="));
for (const bad of [() => btoa("€"), () => btoa("\u0100"), () => atob("Zm9vY"), () => atob("Zm9v!"), () => atob("Zm9=vYg"), () => atob("Zg="), () => atob("é")]) {
  try { bad(); console.log("no error?!"); }
  catch (e) { console.log(e.name, e.code, e instanceof DOMException, e instanceof Error, String(e)); }
}
try { atob(); } catch (e) { console.log(e.name); }
console.log(String(new DOMException("m", "AbortError")), new DOMException().name, new DOMException("x", "QuotaExceededError").code);
`
	out, _ := run(t, 1, src, "", nil)
	want := ` Zg== Zm8= Zm9v Zm9vYmFy SGVsbG8sIFdvcmxkIQ== //4A bnVsbA==
foobar foob foob foobar "ÿþ\u0000"  a
InvalidCharacterError 5 true true InvalidCharacterError: Invalid character
InvalidCharacterError 5 true true InvalidCharacterError: Invalid character
InvalidCharacterError 5 true true InvalidCharacterError: The string to be decoded is not correctly encoded.
InvalidCharacterError 5 true true InvalidCharacterError: The string to be decoded is not correctly encoded.
InvalidCharacterError 5 true true InvalidCharacterError: The string to be decoded is not correctly encoded.
InvalidCharacterError 5 true true InvalidCharacterError: The string to be decoded is not correctly encoded.
InvalidCharacterError 5 true true InvalidCharacterError: The string to be decoded is not correctly encoded.
TypeError
AbortError: m Error 22
`
	if out != want {
		t.Errorf("got:\n%s\nwant:\n%s", out, want)
	}
}

// TestWebCrypto: crypto.randomUUID and crypto.getRandomValues (in place,
// integer arrays only, 65536 bytes at most).
func TestWebCrypto(t *testing.T) {
	src := `
const re = /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;
const seen = new Set();
for (let i = 0; i < 1000; i++) seen.add(crypto.randomUUID());
console.log(seen.size, [...seen].every((u) => re.test(u)));
const a = new Uint8Array(64), r = crypto.getRandomValues(a);
console.log(r === a, a.some((x) => x !== 0), new Set(a).size > 16);
const w = new Uint32Array(8);
console.log(crypto.getRandomValues(w) === w, w.some((x) => x > 0xffffff));
const big = new BigUint64Array(2);
crypto.getRandomValues(big);
console.log(typeof big[0], big[0] !== 0n || big[1] !== 0n);
const part = new Uint8Array(8);
crypto.getRandomValues(part.subarray(2, 4));
console.log(part[0], part[1], part[4], part[7], crypto.getRandomValues(new Uint8Array(65536)).length);
for (const bad of [() => crypto.getRandomValues(new Uint8Array(65537)), () => crypto.getRandomValues(new Float64Array(2)), () => crypto.getRandomValues(new DataView(new ArrayBuffer(2))), () => crypto.getRandomValues([1, 2])]) {
  try { bad(); console.log("no error?!"); } catch (e) { console.log(e.name, e.code, e.message); }
}
console.log(Object.prototype.toString.call(crypto), typeof crypto.subtle);
`
	out, _ := run(t, 1, src, "", nil)
	want := `1000 true
true true true
true true
bigint true
0 0 0 0 65536
QuotaExceededError 22 The ArrayBufferView's byte length (65537) exceeds the number of bytes of entropy available via this API (65536)
TypeMismatchError 17 The data argument must be an integer-type TypedArray
TypeMismatchError 17 The data argument must be an integer-type TypedArray
TypeError undefined The "array" argument must be an integer-type TypedArray
[object Crypto] undefined
`
	if out != want {
		t.Errorf("got:\n%s\nwant:\n%s", out, want)
	}
}

// TestNodeCrypto: require("crypto") as Node's: hashes and HMACs against
// known digests in every output encoding, randomBytes, timingSafeEqual,
// and imscript.crypto's members beside them.
func TestNodeCrypto(t *testing.T) {
	src := `
const c = require("crypto");
console.log(c === require("node:crypto"), c.webcrypto === crypto, c.randomUUID().length, typeof c.password_hash, c.sha256 === imscript.crypto.sha256);
console.log(c.createHash("sha256").update("abc").digest("hex"));
console.log(c.createHash("SHA256").update("a").update(Buffer.from("b")).update(new Uint8Array([0x63])).digest("base64"));
console.log(c.createHash("sha256").update("abc").digest("base64url"), Buffer.isBuffer(c.createHash("sha256").update("abc").digest()), c.createHash("sha256").digest().length);
console.log(c.createHash("sha1").update("abc").digest("hex"), c.createHash("md5").update("").digest("hex"));
console.log(c.createHash("sha512").update("616263", "hex").digest("hex").slice(0, 32), c.createHash("sha256").update("YWJj", "base64").digest("hex").slice(0, 16));
console.log(c.createHmac("sha256", "Jefe").update("what do ya want for nothing?").digest("hex"));
console.log(c.createHmac("sha256", Buffer.alloc(20, 0x0b)).update("Hi There").digest("hex"));
console.log(c.createHmac("sha512", "Jefe").update("what do ya want for nothing?").digest("hex").slice(0, 32));
const rb = c.randomBytes(16);
console.log(Buffer.isBuffer(rb), rb.length, c.randomBytes(0).length, !rb.equals(c.randomBytes(16)));
console.log(c.timingSafeEqual(Buffer.from("abc"), Buffer.from("abc")), c.timingSafeEqual(Buffer.from("abc"), new Uint8Array([97, 98, 100])));
console.log(c.getHashes().includes("sha256"), typeof c.getRandomValues);
const h = c.createHash("sha256"); h.digest();
for (const bad of [() => h.update("x"), () => c.createHash("sha3-999"), () => c.createHmac("nope", "k"), () => c.timingSafeEqual(Buffer.from("a"), Buffer.from("ab")),
  () => c.timingSafeEqual("a", "a"), () => c.randomBytes(-1), () => c.randomBytes("1"), () => c.randomBytes(1 << 21), () => c.createHash("sha256").update(42)]) {
  try { bad(); console.log("no error?!"); } catch (e) { console.log(e.name, e.code, e.message); }
}
c.randomBytes(8, (err, buf) => { console.log("callback", err, buf.length); console.log("done"); });
console.log("sync first");
`
	out, _ := run(t, 1, src, "done", nil)
	want := `true true 36 function true
ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad
ungWv48Bz+pBQUDeXa4iI7ADYaOWF3qctBD/YfIAFa0=
ungWv48Bz-pBQUDeXa4iI7ADYaOWF3qctBD_YfIAFa0 true 32
a9993e364706816aba3e25717850c26c9cd0d89d d41d8cd98f00b204e9800998ecf8427e
ddaf35a193617abacc417349ae204131 ba7816bf8f01cfea
5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843
b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7
164b7a7bfcf819e2e395fbe73b56e0a3
true 16 0 true
true false
true function
Error ERR_CRYPTO_HASH_FINALIZED Digest already called
Error ERR_OSSL_EVP_UNSUPPORTED Digest method not supported
TypeError ERR_CRYPTO_INVALID_DIGEST Invalid digest: nope
RangeError ERR_CRYPTO_TIMING_SAFE_EQUAL_LENGTH Input buffers must have the same byte length
TypeError ERR_INVALID_ARG_TYPE The "buf1" argument must be an instance of ArrayBuffer, Buffer, TypedArray, or DataView.
RangeError ERR_OUT_OF_RANGE The value of "size" is out of range. It must be >= 0 && <= 1048576. Received -1
TypeError ERR_INVALID_ARG_TYPE The "size" argument must be of type number
RangeError ERR_OUT_OF_RANGE The value of "size" is out of range. It must be >= 0 && <= 1048576. Received 2097152
TypeError ERR_INVALID_ARG_TYPE The "data" argument must be of type string or an instance of Buffer, TypedArray, DataView, or ArrayBuffer.
sync first
callback null 8
done
`
	if out != want {
		t.Errorf("got:\n%s\nwant:\n%s", out, want)
	}
}

// TestWebGlobalsLazy: the globals are made on first use, and a script's
// own declarations of the names win.
func TestWebGlobalsLazy(t *testing.T) {
	src := `
function atob(s) { return "mine:" + s; }
var crypto = require("crypto");
console.log(atob("x"), typeof crypto.createHash, typeof btoa, Object.keys(globalThis).includes("TextEncoder"));
TextEncoder = 1;
console.log(TextEncoder, typeof TextDecoder);
`
	out, _ := run(t, 1, src, "", nil)
	if want := "mine:x function function false\n1 function\n"; out != want {
		t.Errorf("got:\n%s\nwant:\n%s", out, want)
	}
}
