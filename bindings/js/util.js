// require("util") / "node:util": what npm packages use of Node's util:
// format, inspect (console.log's), inherits, promisify, callbackify,
// deprecate, types, isDeepStrictEqual, TextEncoder and TextDecoder.
(function (g, h) {
  "use strict";

  const inspect = (v) => h.inspect(v);
  inspect.custom = Symbol.for("nodejs.util.inspect.custom");

  const format = (f, ...args) => {
    if (typeof f !== "string") return [f, ...args].map((a) => (typeof a === "string" ? a : inspect(a))).join(" ");
    let i = 0;
    let s = f.replace(/%([sdifjoOc%])/g, (m, c) => {
      if (c === "%") return "%";
      if (i >= args.length) return m;
      const a = args[i++];
      switch (c) {
        case "s": return typeof a === "string" ? a : typeof a === "bigint" ? a + "n" : typeof a === "object" && a !== null ? inspect(a) : String(a);
        case "d": return typeof a === "bigint" ? a + "n" : typeof a === "object" && a !== null ? "NaN" : String(Number(a));
        case "i": return typeof a === "bigint" ? a + "n" : String(parseInt(a, 10));
        case "f": return String(parseFloat(a));
        case "j": try { return JSON.stringify(a); } catch (e) { return "[Circular]"; }
        case "c": return "";
        default: return inspect(a);
      }
    });
    for (; i < args.length; i++) s += " " + (typeof args[i] === "string" ? args[i] : inspect(args[i]));
    return s;
  };

  const inherits = (ctor, superCtor) => {
    if (typeof ctor !== "function" || typeof superCtor !== "function" || superCtor.prototype === undefined) {
      throw new TypeError('The "ctor" and "superCtor" arguments must be functions with a prototype');
    }
    Object.defineProperty(ctor, "super_", { value: superCtor, writable: true, configurable: true });
    Object.setPrototypeOf(ctor.prototype, superCtor.prototype);
  };

  const kCustom = Symbol.for("nodejs.util.promisify.custom");
  const promisify = (fn) => {
    if (typeof fn !== "function") throw new TypeError('The "original" argument must be of type function');
    if (typeof fn[kCustom] === "function") return fn[kCustom];
    const p = function (...args) {
      return new Promise((resolve, reject) => {
        fn.call(this, ...args, (err, ...values) => (err ? reject(err) : resolve(values.length > 1 ? values : values[0])));
      });
    };
    Object.setPrototypeOf(p, Object.getPrototypeOf(fn));
    return Object.defineProperties(p, Object.getOwnPropertyDescriptors(fn));
  };
  promisify.custom = kCustom;

  const callbackify = (fn) => {
    if (typeof fn !== "function") throw new TypeError('The "original" argument must be of type function');
    return function (...args) {
      const cb = args.pop();
      if (typeof cb !== "function") throw new TypeError('The last argument must be of type function');
      fn.apply(this, args).then((v) => queueMicrotask(() => cb(null, v)), (err) => queueMicrotask(() => cb(err || new Error(String(err)))));
    };
  };

  const warned = new Set();
  const deprecate = (fn, msg, code) => function (...args) {
    const key = code || msg;
    if (!warned.has(key)) {
      warned.add(key);
      console.warn(`(imscript) ${code ? "[" + code + "] " : ""}DeprecationWarning: ${msg}`);
    }
    return new.target ? Reflect.construct(fn, args, new.target) : fn.apply(this, args);
  };

  const tagOf = (v) => Object.prototype.toString.call(v).slice(8, -1);
  const types = {
    isPromise: (v) => v instanceof Promise,
    isDate: (v) => tagOf(v) === "Date",
    isRegExp: (v) => tagOf(v) === "RegExp",
    isMap: (v) => tagOf(v) === "Map",
    isSet: (v) => tagOf(v) === "Set",
    isWeakMap: (v) => tagOf(v) === "WeakMap",
    isWeakSet: (v) => tagOf(v) === "WeakSet",
    isArrayBuffer: (v) => tagOf(v) === "ArrayBuffer",
    isAnyArrayBuffer: (v) => tagOf(v) === "ArrayBuffer",
    isArrayBufferView: (v) => ArrayBuffer.isView(v),
    isTypedArray: (v) => ArrayBuffer.isView(v) && !(v instanceof DataView),
    isUint8Array: (v) => v instanceof Uint8Array,
    isDataView: (v) => v instanceof DataView,
    isNativeError: (v) => tagOf(v) === "Error",
    isAsyncFunction: (v) => typeof v === "function" && tagOf(v) === "AsyncFunction",
    isGeneratorFunction: (v) => typeof v === "function" && /^(Async)?GeneratorFunction$/.test(tagOf(v)),
    isGeneratorObject: (v) => tagOf(v) === "Generator",
    isBoxedPrimitive: (v) => v !== null && typeof v === "object" && ["Number", "String", "Boolean", "BigInt", "Symbol"].includes(tagOf(v)),
    isProxy: () => false,
  };

  const isDeepStrictEqual = (a, b, seen = new Map()) => {
    if (Object.is(a, b)) return true;
    if (typeof a !== "object" || typeof b !== "object" || a === null || b === null) return false;
    if (Object.getPrototypeOf(a) !== Object.getPrototypeOf(b) || tagOf(a) !== tagOf(b)) return false;
    if (seen.get(a) === b) return true;
    seen.set(a, b);
    const t = tagOf(a);
    if (t === "Date") return a.getTime() === b.getTime();
    if (t === "RegExp") return a.source === b.source && a.flags === b.flags;
    if (t === "Map") {
      if (a.size !== b.size) return false;
      for (const [k, v] of a) if (!b.has(k) || !isDeepStrictEqual(v, b.get(k), seen)) return false;
      return true;
    }
    if (t === "Set") {
      if (a.size !== b.size) return false;
      for (const v of a) if (!b.has(v)) return false;
      return true;
    }
    if (ArrayBuffer.isView(a)) {
      if (a.byteLength !== b.byteLength) return false;
      const x = new Uint8Array(a.buffer, a.byteOffset, a.byteLength), y = new Uint8Array(b.buffer, b.byteOffset, b.byteLength);
      return x.every((c, i) => c === y[i]);
    }
    const ka = Reflect.ownKeys(a).filter((k) => Object.prototype.propertyIsEnumerable.call(a, k));
    const kb = Reflect.ownKeys(b).filter((k) => Object.prototype.propertyIsEnumerable.call(b, k));
    if (ka.length !== kb.length) return false;
    return ka.every((k) => Object.prototype.propertyIsEnumerable.call(b, k) && isDeepStrictEqual(a[k], b[k], seen));
  };

  return {
    format, inspect, inherits, promisify, callbackify, deprecate, types, isDeepStrictEqual,
    isArray: Array.isArray,
    isError: types.isNativeError,
    TextEncoder: g.TextEncoder, TextDecoder: g.TextDecoder,
  };
})
