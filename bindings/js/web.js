// The web platform globals of imscript's JavaScript (web.go installs
// them): DOMException, TextEncoder, TextDecoder, atob, btoa and crypto
// (randomUUID, getRandomValues). The work is done in Go (h); this file
// gives it the shapes, argument checks and errors browsers and Node have.
(function (g, h) {
  "use strict";

  const define = (o, name, value) =>
    Object.defineProperty(o, name, { value, writable: true, configurable: true, enumerable: false });
  // defineGlobal replaces the accessor web.go put there, unless the script
  // has made the name its own (function atob() {...}).
  const defineGlobal = (name, value) => {
    const d = Object.getOwnPropertyDescriptor(g, name);
    if (d && (!d.configurable || !d.get)) return;
    define(g, name, value);
  };

  // DOMException's legacy codes (WebIDL), for e.code.
  const codes = {
    IndexSizeError: 1, HierarchyRequestError: 3, WrongDocumentError: 4, InvalidCharacterError: 5,
    NoModificationAllowedError: 7, NotFoundError: 8, NotSupportedError: 9, InvalidStateError: 11,
    SyntaxError: 12, InvalidModificationError: 13, NamespaceError: 14, InvalidAccessError: 15,
    TypeMismatchError: 17, SecurityError: 18, NetworkError: 19, AbortError: 20, URLMismatchError: 21,
    QuotaExceededError: 22, TimeoutError: 23, InvalidNodeTypeError: 24, DataCloneError: 25,
  };

  class DOMException extends Error {
    constructor(message, name) {
      super(message === undefined ? "" : String(message));
      define(this, "name", name === undefined ? "Error" : String(name));
    }
    get code() { return codes[this.name] || 0; }
  }
  defineGlobal("DOMException", DOMException);

  // bytesOf views a BufferSource as a Uint8Array (no copy).
  const bytesOf = (input, what) => {
    if (input instanceof ArrayBuffer) return new Uint8Array(input);
    if (ArrayBuffer.isView(input)) return new Uint8Array(input.buffer, input.byteOffset, input.byteLength);
    throw new TypeError(`The "${what}" argument must be an instance of ArrayBuffer or ArrayBufferView`);
  };

  class TextEncoder {
    get encoding() { return "utf-8"; }
    encode(input = "") { return new Uint8Array(h.encode(String(input))); }
    encodeInto(source, destination) {
      if (!(destination instanceof Uint8Array)) {
        throw new TypeError('The "dest" argument must be an instance of Uint8Array');
      }
      return h.encodeInto(String(source), destination);
    }
  }
  defineGlobal("TextEncoder", TextEncoder);

  const labels = ["utf-8", "utf8", "unicode-1-1-utf-8", "unicode11utf8", "unicode20utf8", "x-unicode20utf8"];
  const state = Symbol("TextDecoder state");

  class TextDecoder {
    constructor(label = "utf-8", options = undefined) {
      const l = String(label).trim().toLowerCase();
      if (!labels.includes(l)) {
        throw new RangeError(`The "${label}" encoding is not supported`);
      }
      const o = options === undefined || options === null ? {} : Object(options);
      define(this, state, { fatal: !!o.fatal, ignoreBOM: !!o.ignoreBOM, pending: null, started: false });
    }
    get encoding() { return "utf-8"; }
    get fatal() { return this[state].fatal; }
    get ignoreBOM() { return this[state].ignoreBOM; }
    decode(input = undefined, options = undefined) {
      const s = this[state];
      if (!s) throw new TypeError("Illegal invocation");
      const bytes = input === undefined ? new Uint8Array(0) : bytesOf(input, "input");
      const stream = !!(options !== undefined && options !== null && options.stream);
      let r;
      try {
        r = h.decode(bytes, s.pending, s.fatal, stream, !s.ignoreBOM && !s.started);
      } catch (e) {
        s.pending = null;
        s.started = false;
        throw e;
      }
      if (stream) {
        s.pending = r[1];
        s.started = s.started || r[2];
      } else {
        s.pending = null;
        s.started = false;
      }
      return r[0];
    }
  }
  defineGlobal("TextDecoder", TextDecoder);

  defineGlobal("btoa", function btoa(data) {
    if (arguments.length < 1) throw new TypeError('The "data" argument must be specified');
    const r = h.btoa(String(data));
    if (r === null) throw new DOMException("Invalid character", "InvalidCharacterError");
    return r;
  });

  defineGlobal("atob", function atob(data) {
    if (arguments.length < 1) throw new TypeError('The "data" argument must be specified');
    const r = h.atob(String(data));
    if (r === null) throw new DOMException("The string to be decoded is not correctly encoded.", "InvalidCharacterError");
    return r;
  });

  const notInteger = [g.Float32Array, g.Float64Array, g.Float16Array, g.DataView].filter((c) => typeof c === "function");

  const webcrypto = {};
  define(webcrypto, "randomUUID", function randomUUID() { return h.uuid(); });
  define(webcrypto, "getRandomValues", function getRandomValues(array) {
    if (!ArrayBuffer.isView(array)) {
      throw new TypeError('The "array" argument must be an integer-type TypedArray');
    }
    if (notInteger.some((c) => array instanceof c)) {
      throw new DOMException("The data argument must be an integer-type TypedArray", "TypeMismatchError");
    }
    if (array.byteLength > 65536) {
      throw new DOMException(`The ArrayBufferView's byte length (${array.byteLength}) exceeds the number of bytes of entropy available via this API (65536)`, "QuotaExceededError");
    }
    h.fill(new Uint8Array(array.buffer, array.byteOffset, array.byteLength));
    return array;
  });
  Object.defineProperty(webcrypto, Symbol.toStringTag, { value: "Crypto", configurable: true });
  defineGlobal("crypto", webcrypto);

  return { webcrypto, bytesOf, DOMException };
})
