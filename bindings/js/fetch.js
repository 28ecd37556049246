// The web platform's fetch and what comes with it (web.go installs them
// with web.js's globals): Event, EventTarget, AbortController,
// AbortSignal, Headers, Request, Response, fetch, structuredClone and
// performance (now, timeOrigin).
// fetch runs on imscript.http.request (h.request): the host's HTTP client,
// its connection reuse and TLS; the body is read whole.
(function (g, h, web) {
  "use strict";

  const define = (o, name, value) =>
    Object.defineProperty(o, name, { value, writable: true, configurable: true, enumerable: false });
  const defineGlobal = (name, value) => {
    const d = Object.getOwnPropertyDescriptor(g, name);
    if (d && (!d.configurable || !d.get)) return;
    define(g, name, value);
  };
  const tag = (C, name) => Object.defineProperty(C.prototype, Symbol.toStringTag, { value: name, configurable: true });
  const illegal = Symbol("illegal constructor");

  // ---- Event, EventTarget ----
  const ev = Symbol("event state");
  class Event {
    constructor(type, init = undefined) {
      if (arguments.length < 1) throw new TypeError('The "type" argument must be specified');
      const o = init == null ? {} : Object(init);
      define(this, ev, {
        type: String(type), bubbles: !!o.bubbles, cancelable: !!o.cancelable, composed: !!o.composed,
        defaultPrevented: false, target: null, currentTarget: null, stop: false, timeStamp: Date.now(),
      });
    }
    get type() { return this[ev].type; }
    get bubbles() { return this[ev].bubbles; }
    get cancelable() { return this[ev].cancelable; }
    get composed() { return this[ev].composed; }
    get defaultPrevented() { return this[ev].defaultPrevented; }
    get target() { return this[ev].target; }
    get currentTarget() { return this[ev].currentTarget; }
    get srcElement() { return this[ev].target; }
    get timeStamp() { return this[ev].timeStamp; }
    get isTrusted() { return false; }
    get eventPhase() { return this[ev].currentTarget ? 2 : 0; }
    composedPath() { return this[ev].currentTarget ? [this[ev].currentTarget] : []; }
    preventDefault() { if (this[ev].cancelable) this[ev].defaultPrevented = true; }
    stopPropagation() {}
    stopImmediatePropagation() { this[ev].stop = true; }
  }
  tag(Event, "Event");
  defineGlobal("Event", Event);

  const listeners = Symbol("listeners");
  class EventTarget {
    constructor() { define(this, listeners, new Map()); }
    addEventListener(type, listener, options = undefined) {
      if (listener == null) return;
      if (typeof listener !== "function" && typeof listener.handleEvent !== "function") {
        throw new TypeError('The "listener" argument must be an instance of EventListener');
      }
      const o = typeof options === "boolean" ? { capture: options } : Object(options == null ? {} : options);
      const signal = o.signal;
      if (signal && signal.aborted) return;
      const map = this[listeners];
      let list = map.get(type = String(type));
      if (!list) map.set(type, list = []);
      const capture = !!o.capture;
      if (list.some((l) => l.listener === listener && l.capture === capture)) return;
      const entry = { listener, capture, once: !!o.once, removed: false };
      list.push(entry);
      if (signal) signal.addEventListener("abort", () => this.removeEventListener(type, listener, options), { once: true });
    }
    removeEventListener(type, listener, options = undefined) {
      const capture = typeof options === "boolean" ? options : !!(options && options.capture);
      const list = this[listeners].get(String(type));
      if (!list) return;
      const i = list.findIndex((l) => l.listener === listener && l.capture === capture);
      if (i >= 0) {
        list[i].removed = true;
        list.splice(i, 1);
      }
    }
    dispatchEvent(event) {
      if (!(event instanceof Event)) throw new TypeError('The "event" argument must be an instance of Event');
      const s = event[ev];
      s.target = s.currentTarget = this;
      const handler = this["on" + s.type];
      const list = (this[listeners].get(s.type) || []).slice();
      const call = (fn) => {
        try {
          fn();
        } catch (e) {
          queueMicrotask(() => { throw e; }); // reported, as Node does, without stopping the dispatch
        }
      };
      if (typeof handler === "function" && !list.some((l) => l.listener === handler)) call(() => handler.call(this, event));
      for (const l of list) {
        if (l.removed) continue;
        if (l.once) this.removeEventListener(s.type, l.listener, { capture: l.capture });
        const fn = l.listener;
        call(() => (typeof fn === "function" ? fn.call(this, event) : fn.handleEvent(event)));
        if (s.stop) break;
      }
      s.currentTarget = null;
      return !s.defaultPrevented;
    }
  }
  tag(EventTarget, "EventTarget");
  defineGlobal("EventTarget", EventTarget);

  // ---- AbortController, AbortSignal ----
  const sig = Symbol("signal state");
  const abortError = () => new web.DOMException("This operation was aborted", "AbortError");
  class AbortSignal extends EventTarget {
    constructor(key) {
      if (key !== illegal) throw new TypeError("Illegal constructor");
      super();
      define(this, sig, { aborted: false, reason: undefined });
      define(this, "onabort", null);
    }
    get aborted() { return this[sig].aborted; }
    get reason() { return this[sig].reason; }
    throwIfAborted() { if (this[sig].aborted) throw this[sig].reason; }
    static abort(reason = undefined) {
      const s = new AbortSignal(illegal);
      s[sig].aborted = true;
      s[sig].reason = reason === undefined ? abortError() : reason;
      return s;
    }
    static timeout(ms) {
      const n = Number(ms);
      if (!Number.isFinite(n) || n < 0) throw new RangeError(`The "delay" argument must be a non-negative number. Received ${ms}`);
      const s = new AbortSignal(illegal);
      setTimeout(() => abortSignal(s, new web.DOMException("The operation was aborted due to timeout", "TimeoutError")), n);
      return s;
    }
    static any(signals) {
      const s = new AbortSignal(illegal);
      for (const t of signals) {
        if (t.aborted) {
          abortSignal(s, t.reason);
          return s;
        }
      }
      for (const t of signals) t.addEventListener("abort", () => abortSignal(s, t.reason), { once: true });
      return s;
    }
  }
  tag(AbortSignal, "AbortSignal");
  const abortSignal = (s, reason) => {
    const st = s[sig];
    if (st.aborted) return;
    st.aborted = true;
    st.reason = reason === undefined ? abortError() : reason;
    s.dispatchEvent(new Event("abort"));
  };
  defineGlobal("AbortSignal", AbortSignal);

  class AbortController {
    constructor() { define(this, sig, new AbortSignal(illegal)); }
    get signal() { return this[sig]; }
    abort(reason = undefined) { abortSignal(this[sig], reason); }
  }
  tag(AbortController, "AbortController");
  defineGlobal("AbortController", AbortController);

  // ---- Headers ----
  const hl = Symbol("header list");
  const tokenRe = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;
  const normName = (name) => {
    const n = String(name);
    if (!tokenRe.test(n)) throw new TypeError(`Header name must be a valid HTTP token ["${n}"]`);
    return n.toLowerCase();
  };
  const normValue = (value) => {
    const v = String(value).replace(/^[\t\n\r ]+|[\t\n\r ]+$/g, "");
    if (/[\0\r\n]/.test(v)) throw new TypeError(`Invalid header value: "${v}"`);
    return v;
  };
  class Headers {
    constructor(init = undefined) {
      define(this, hl, new Map()); // lower-case name -> [values]
      if (init == null) return;
      if (init instanceof Headers) {
        for (const [k, vs] of init[hl]) this[hl].set(k, vs.slice());
      } else if (typeof init[Symbol.iterator] === "function") {
        for (const pair of init) {
          const p = Array.from(pair);
          if (p.length !== 2) throw new TypeError("Header pairs must contain exactly two items");
          this.append(p[0], p[1]);
        }
      } else if (typeof init === "object") {
        for (const k of Object.keys(init)) this.append(k, init[k]);
      } else {
        throw new TypeError("The provided value is not of type '(record<ByteString, ByteString> or sequence<sequence<ByteString>>)'");
      }
    }
    append(name, value) {
      const n = normName(name);
      const v = normValue(value);
      const vs = this[hl].get(n);
      if (vs) vs.push(v);
      else this[hl].set(n, [v]);
    }
    set(name, value) { this[hl].set(normName(name), [normValue(value)]); }
    delete(name) { this[hl].delete(normName(name)); }
    has(name) { return this[hl].has(normName(name)); }
    get(name) {
      const vs = this[hl].get(normName(name));
      return vs ? vs.join(", ") : null;
    }
    getSetCookie() { return (this[hl].get("set-cookie") || []).slice(); }
    forEach(fn, thisArg = undefined) {
      for (const [k, v] of this) fn.call(thisArg, v, k, this);
    }
    *entries() {
      for (const k of [...this[hl].keys()].sort()) {
        if (k === "set-cookie") {
          for (const v of this[hl].get(k)) yield [k, v];
        } else {
          yield [k, this[hl].get(k).join(", ")];
        }
      }
    }
    *keys() { for (const [k] of this.entries()) yield k; }
    *values() { for (const [, v] of this.entries()) yield v; }
    [Symbol.iterator]() { return this.entries(); }
  }
  tag(Headers, "Headers");
  defineGlobal("Headers", Headers);

  // ---- bodies ----
  const bd = Symbol("body");
  // toBody turns a body init into bytes (Uint8Array) and its content type.
  const toBody = (body) => {
    if (body == null) return [null, null];
    if (typeof body === "string") return [new g.TextEncoder().encode(body), "text/plain;charset=UTF-8"];
    if (body instanceof ArrayBuffer) return [new Uint8Array(body.slice(0)), null];
    if (ArrayBuffer.isView(body)) return [new Uint8Array(body.buffer.slice(body.byteOffset, body.byteOffset + body.byteLength)), null];
    if (typeof g.URLSearchParams === "function" && body instanceof g.URLSearchParams) {
      return [new g.TextEncoder().encode(body.toString()), "application/x-www-form-urlencoded;charset=UTF-8"];
    }
    return [new g.TextEncoder().encode(String(body)), "text/plain;charset=UTF-8"];
  };
  const consume = (o) => {
    const b = o[bd];
    if (b.used) return Promise.reject(new TypeError("Body is unusable: Body has already been read"));
    b.used = b.bytes !== null;
    return Promise.resolve(b.bytes === null ? new Uint8Array(0) : b.bytes);
  };
  // Symbol.asyncIterator, or what esbuild's lowered for await asks for.
  const asyncIterator = Symbol.asyncIterator || Symbol.for("Symbol.asyncIterator");

  // bodyStream is what body gives: not a ReadableStream, but what code
  // reads of one: getReader().read() and for await, the whole body as one
  // chunk (it was read whole).
  const bodyStream = (o) => {
    const b = o[bd];
    if (b.bytes === null) return null;
    if (b.stream) return b.stream;
    let sent = false;
    const read = () => {
      b.used = true;
      if (sent || b.bytes.length === 0) return Promise.resolve({ value: undefined, done: true });
      sent = true;
      return Promise.resolve({ value: new Uint8Array(b.bytes), done: false });
    };
    b.stream = {
      locked: false,
      getReader() {
        if (this.locked) throw new TypeError("ReadableStream is locked");
        this.locked = true;
        return { read, releaseLock: () => { this.locked = false; }, cancel: () => Promise.resolve(), closed: Promise.resolve() };
      },
      cancel: () => Promise.resolve(),
      [asyncIterator]() { return { next: read, return: () => Promise.resolve({ value: undefined, done: true }) }; },
    };
    return b.stream;
  };
  const bodyMixin = (C) => {
    Object.defineProperties(C.prototype, {
      bodyUsed: { get() { return this[bd].used; }, configurable: true },
      body: { get() { return bodyStream(this); }, configurable: true },
    });
    Object.assign(C.prototype, {
      arrayBuffer() { return consume(this).then((b) => b.buffer.slice(b.byteOffset, b.byteOffset + b.byteLength)); },
      bytes() { return consume(this).then((b) => new Uint8Array(b)); },
      text() { return consume(this).then((b) => new g.TextDecoder().decode(b)); },
      json() { return this.text().then((t) => JSON.parse(t)); },
      blob() { return Promise.reject(new TypeError("Blob is not supported by imscript: use arrayBuffer() or bytes()")); },
      formData() { return Promise.reject(new TypeError("FormData is not supported by imscript: use text()")); },
    });
  };

  // ---- Request ----
  const rq = Symbol("request");
  const methods = ["DELETE", "GET", "HEAD", "OPTIONS", "POST", "PUT"]; // normalized, as the Fetch standard says
  class Request {
    constructor(input, init = undefined) {
      const o = init == null ? {} : Object(init);
      let base = null;
      if (input instanceof Request) base = input;
      const url = base ? base.url : parseURL(String(input));
      let method = o.method !== undefined ? String(o.method) : base ? base.method : "GET";
      if (methods.includes(method.toUpperCase())) method = method.toUpperCase();
      if (!tokenRe.test(method)) throw new TypeError(`'${method}' is not a valid HTTP method.`);
      const headers = new Headers(o.headers !== undefined ? o.headers : base ? base.headers : undefined);
      let bytes = base ? base[bd].bytes : null;
      if (o.body !== undefined && o.body !== null) {
        const [b, ct] = toBody(o.body);
        bytes = b;
        if (ct && !headers.has("content-type")) headers.set("content-type", ct);
      }
      if (bytes !== null && (method === "GET" || method === "HEAD")) {
        throw new TypeError("Request with GET/HEAD method cannot have body.");
      }
      const redirect = o.redirect !== undefined ? String(o.redirect) : base ? base.redirect : "follow";
      if (!["follow", "manual", "error"].includes(redirect)) {
        throw new TypeError(`'${redirect}' is not a valid value for redirect`);
      }
      const signal = o.signal !== undefined ? o.signal : base ? base.signal : null;
      if (signal != null && !(signal instanceof AbortSignal)) {
        throw new TypeError("Failed to construct 'Request': member signal is not of type AbortSignal.");
      }
      define(this, rq, { url, method, headers, redirect, signal: signal || new AbortController().signal });
      define(this, bd, { bytes, used: false });
    }
    get url() { return this[rq].url; }
    get method() { return this[rq].method; }
    get headers() { return this[rq].headers; }
    get redirect() { return this[rq].redirect; }
    get signal() { return this[rq].signal; }
    clone() {
      if (this[bd].used) throw new TypeError("Request.clone: Body has already been consumed.");
      return new Request(this);
    }
  }
  bodyMixin(Request);
  tag(Request, "Request");
  defineGlobal("Request", Request);

  const parseURL = (s) => {
    if (typeof g.URL === "function") {
      try {
        return new g.URL(s).href;
      } catch (e) {
        throw new TypeError(`Failed to parse URL from ${s}`);
      }
    }
    return s;
  };

  // ---- Response ----
  const rs = Symbol("response");
  const reasons = {
    200: "OK", 201: "Created", 202: "Accepted", 204: "No Content", 206: "Partial Content",
    301: "Moved Permanently", 302: "Found", 303: "See Other", 304: "Not Modified", 307: "Temporary Redirect",
    308: "Permanent Redirect", 400: "Bad Request", 401: "Unauthorized", 403: "Forbidden", 404: "Not Found",
    405: "Method Not Allowed", 408: "Request Timeout", 409: "Conflict", 410: "Gone", 413: "Payload Too Large",
    415: "Unsupported Media Type", 422: "Unprocessable Entity", 429: "Too Many Requests",
    500: "Internal Server Error", 501: "Not Implemented", 502: "Bad Gateway", 503: "Service Unavailable",
    504: "Gateway Timeout",
  };
  class Response {
    constructor(body = null, init = undefined) {
      const o = init == null ? {} : Object(init);
      const status = o.status === undefined ? 200 : Number(o.status);
      if (!Number.isInteger(status) || status < 200 || status > 599) {
        throw new RangeError(`init["status"] must be in the range of 200 to 599, inclusive.`);
      }
      const headers = new Headers(o.headers);
      const [bytes, ct] = toBody(body);
      if (ct && !headers.has("content-type")) headers.set("content-type", ct);
      define(this, rs, {
        status, statusText: o.statusText === undefined ? "" : String(o.statusText), headers,
        url: "", redirected: false, type: "default",
      });
      define(this, bd, { bytes, used: false });
    }
    get status() { return this[rs].status; }
    get ok() { return this[rs].status >= 200 && this[rs].status <= 299; }
    get statusText() { return this[rs].statusText; }
    get headers() { return this[rs].headers; }
    get url() { return this[rs].url; }
    get redirected() { return this[rs].redirected; }
    get type() { return this[rs].type; }
    clone() {
      if (this[bd].used) throw new TypeError("Response.clone: Body has already been consumed.");
      const r = new Response(null);
      Object.assign(r[rs], this[rs], { headers: new Headers(this[rs].headers) });
      r[bd].bytes = this[bd].bytes;
      return r;
    }
    static json(data, init = undefined) {
      const text = JSON.stringify(data);
      if (text === undefined) throw new TypeError("Value is not JSON serializable");
      const o = Object.assign({}, init == null ? {} : init);
      const headers = new Headers(o.headers);
      if (!headers.has("content-type")) headers.set("content-type", "application/json");
      o.headers = headers;
      return new Response(text, o);
    }
    static error() {
      const r = new Response(null);
      Object.assign(r[rs], { status: 0, type: "error" });
      return r;
    }
    static redirect(url, status = 302) {
      if (![301, 302, 303, 307, 308].includes(status)) throw new RangeError(`Invalid status code ${status}`);
      return new Response(null, { status, headers: { location: parseURL(String(url)) } });
    }
  }
  bodyMixin(Response);
  tag(Response, "Response");
  defineGlobal("Response", Response);

  // ---- fetch ----
  const fetchFailed = (cause) => {
    const e = new TypeError("fetch failed");
    define(e, "cause", cause);
    return e;
  };
  defineGlobal("fetch", function fetch(input, init = undefined) {
    let req;
    try {
      req = new Request(input, init);
    } catch (e) {
      return Promise.reject(e);
    }
    const signal = req.signal;
    if (signal.aborted) return Promise.reject(signal.reason);
    if (typeof h.request !== "function") {
      return Promise.reject(new TypeError("fetch needs the http module (imscript.http), which this host does not have"));
    }
    if (!/^https?:/i.test(req.url)) {
      return Promise.reject(fetchFailed(new TypeError(`fetch: only http: and https: URLs are supported, not ${req.url}`)));
    }
    const headers = {};
    for (const [k, v] of req.headers) headers[k] = k in headers ? headers[k] + ", " + v : v;
    if (!("accept" in headers)) headers.accept = "*/*";
    // The cancel function comes as the worker's next event; an abort
    // before it cancels the request when it comes.
    let cancel = null, aborted = false;
    const opts = {
      method: req.method, url: req.url, headers, timeout: 300,
      redirects: req.redirect === "follow" ? 20 : 0,
      cancel: (c) => {
        cancel = c;
        if (aborted) c();
      },
    };
    if (req[bd].bytes !== null) opts.body = req[bd].bytes;
    return new Promise((resolve, reject) => {
      const onAbort = () => {
        aborted = true;
        if (cancel) cancel();
        reject(signal.reason);
      };
      signal.addEventListener("abort", onAbort, { once: true });
      let p;
      try {
        p = h.request(opts);
      } catch (e) {
        signal.removeEventListener("abort", onAbort);
        reject(fetchFailed(e));
        return;
      }
      p.then((r) => {
        signal.removeEventListener("abort", onAbort);
        if (signal.aborted) return;
        const status = r.status;
        if (req.redirect === "error" && status >= 300 && status < 400 && r.headers.location !== undefined) {
          reject(fetchFailed(new TypeError("unexpected redirect")));
          return;
        }
        const res = new Response(null);
        const hs = new Headers();
        for (const k of Object.keys(r.headers)) hs.append(k, r.headers[k]);
        Object.assign(res[rs], {
          status, statusText: reasons[status] || "", headers: hs, url: r.url,
          redirected: r.url !== req.url, type: "basic",
        });
        res[bd].bytes = req.method === "HEAD" ? null : new Uint8Array(r.body);
        resolve(res);
      }, (err) => {
        signal.removeEventListener("abort", onAbort);
        if (signal.aborted) return;
        reject(fetchFailed(err));
      });
    });
  });

  // ---- performance ----
  const performance = {};
  define(performance, "now", function now() { return h.now(); });
  Object.defineProperty(performance, "timeOrigin", { value: h.timeOrigin, enumerable: true });
  define(performance, "toJSON", function toJSON() { return { timeOrigin: h.timeOrigin }; });
  Object.defineProperty(performance, Symbol.toStringTag, { value: "Performance", configurable: true });
  defineGlobal("performance", performance);

  // ---- structuredClone ----
  const cloneError = (v) => new web.DOMException(`${typeof v === "function" ? String(v) : Object.prototype.toString.call(v)} could not be cloned.`, "DataCloneError");
  const errorTypes = { Error, EvalError, RangeError, ReferenceError, SyntaxError, TypeError, URIError };
  defineGlobal("structuredClone", function structuredClone(value, options = undefined) {
    if (arguments.length < 1) throw new TypeError('The "value" argument must be specified');
    const seen = new Map();
    const clone = (v) => {
      const t = typeof v;
      if (t === "symbol") throw new web.DOMException(`${String(v)} could not be cloned.`, "DataCloneError");
      if (t === "function") throw cloneError(v);
      if (v === null || t !== "object") return v;
      if (seen.has(v)) return seen.get(v);
      const kind = Object.prototype.toString.call(v).slice(8, -1);
      let out;
      switch (kind) {
        case "Boolean": case "Number": case "String": case "BigInt":
          out = Object(v.valueOf());
          break;
        case "Date":
          out = new Date(v.getTime());
          break;
        case "RegExp":
          out = new RegExp(v.source, v.flags);
          break;
        case "ArrayBuffer":
          out = v.slice(0);
          break;
        case "Map":
          out = new Map();
          seen.set(v, out);
          for (const [k, x] of v) out.set(clone(k), clone(x));
          return out;
        case "Set":
          out = new Set();
          seen.set(v, out);
          for (const x of v) out.add(clone(x));
          return out;
        case "Array":
          out = new Array(v.length);
          seen.set(v, out);
          for (const k of Object.keys(v)) out[k] = clone(v[k]);
          return out;
        case "Error": {
          const C = errorTypes[v.name] || Error;
          out = Object.create(C.prototype);
          seen.set(v, out);
          define(out, "message", String(v.message));
          if (v.stack !== undefined) define(out, "stack", String(v.stack));
          if ("cause" in v) define(out, "cause", clone(v.cause));
          return out;
        }
        case "Object":
          if (v instanceof Promise || v instanceof WeakMap || v instanceof WeakSet) throw cloneError(v);
          out = {};
          seen.set(v, out);
          for (const k of Object.keys(v)) out[k] = clone(v[k]);
          return out;
        default:
          if (ArrayBuffer.isView(v)) {
            const buf = clone(v.buffer);
            const C = v instanceof DataView ? DataView : kind === "Uint8Array" || v instanceof Uint8Array ? Uint8Array : g[kind];
            out = v instanceof DataView ? new DataView(buf, v.byteOffset, v.byteLength)
              : new C(buf, v.byteOffset, v.length);
            break;
          }
          throw cloneError(v);
      }
      seen.set(v, out);
      return out;
    };
    if (options != null && options.transfer !== undefined && Array.from(options.transfer).length > 0) {
      throw new web.DOMException("structuredClone: transfer is not supported by imscript", "DataCloneError");
    }
    return clone(value);
  });
})
