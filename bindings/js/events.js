// require("events") / "node:events": Node's EventEmitter, with the API
// npm packages use (on, once, off, emit, prepend*, listeners, max
// listeners, the 'error' and 'newListener' / 'removeListener' events) and
// events.once(emitter, name) as a promise.
(function () {
  "use strict";

  const kCapture = Symbol("kCapture");
  let defaultMaxListeners = 10;

  const checkListener = (listener) => {
    if (typeof listener !== "function") {
      const e = new TypeError(`The "listener" argument must be of type function. Received ${listener === null ? "null" : typeof listener}`);
      e.code = "ERR_INVALID_ARG_TYPE";
      throw e;
    }
  };

  function EventEmitter(opts) {
    EventEmitter.init.call(this, opts);
  }
  EventEmitter.prototype._events = undefined;
  EventEmitter.prototype._eventsCount = 0;
  EventEmitter.prototype._maxListeners = undefined;

  EventEmitter.init = function (opts) {
    if (this._events === undefined || this._events === Object.getPrototypeOf(this)._events) {
      this._events = Object.create(null);
      this._eventsCount = 0;
    }
    this._maxListeners = this._maxListeners || undefined;
    if (opts && opts.captureRejections) this[kCapture] = true;
  };

  Object.defineProperty(EventEmitter, "defaultMaxListeners", {
    enumerable: true,
    get() { return defaultMaxListeners; },
    set(n) {
      if (typeof n !== "number" || n < 0 || Number.isNaN(n)) {
        throw new RangeError(`The value of "defaultMaxListeners" is out of range. It must be a non-negative number. Received ${n}`);
      }
      defaultMaxListeners = n;
    },
  });
  EventEmitter.errorMonitor = Symbol("events.errorMonitor");
  EventEmitter.captureRejectionSymbol = Symbol.for("nodejs.rejection");

  EventEmitter.prototype.setMaxListeners = function setMaxListeners(n) {
    if (typeof n !== "number" || n < 0 || Number.isNaN(n)) {
      throw new RangeError(`The value of "n" is out of range. It must be a non-negative number. Received ${n}`);
    }
    this._maxListeners = n;
    return this;
  };
  EventEmitter.prototype.getMaxListeners = function getMaxListeners() {
    return this._maxListeners === undefined ? defaultMaxListeners : this._maxListeners;
  };

  EventEmitter.prototype.emit = function emit(type, ...args) {
    const events = this._events;
    if (type === "error" && events !== undefined && events[EventEmitter.errorMonitor] !== undefined) {
      this.emit(EventEmitter.errorMonitor, ...args);
    }
    const handler = events === undefined ? undefined : events[type];
    if (handler === undefined) {
      if (type === "error") {
        const er = args[0];
        if (er instanceof Error) throw er; // unhandled 'error' event
        const e = new Error("Unhandled error." + (er === undefined ? "" : ` (${typeof er === "string" ? "'" + er + "'" : String(er)})`));
        e.code = "ERR_UNHANDLED_ERROR";
        e.context = er;
        throw e;
      }
      return false;
    }
    if (typeof handler === "function") {
      this._call(handler, type, args);
    } else {
      for (const fn of handler.slice()) this._call(fn, type, args);
    }
    return true;
  };
  Object.defineProperty(EventEmitter.prototype, "_call", {
    value: function (fn, type, args) {
      const r = fn.apply(this, args);
      if (this[kCapture] && r && typeof r.then === "function") {
        r.then(undefined, (err) => {
          const h = this[EventEmitter.captureRejectionSymbol];
          if (typeof h === "function") h.call(this, err, type, ...args);
          else this.emit("error", err);
        });
      }
    },
  });

  const add = (target, type, listener, prepend) => {
    checkListener(listener);
    let events = target._events;
    if (events === undefined) {
      events = target._events = Object.create(null);
      target._eventsCount = 0;
    } else if (events.newListener !== undefined) {
      target.emit("newListener", type, listener.listener ? listener.listener : listener);
      events = target._events;
    }
    const existing = events[type];
    if (existing === undefined) {
      events[type] = listener;
      target._eventsCount++;
    } else {
      const list = typeof existing === "function" ? (prepend ? [listener, existing] : [existing, listener])
        : (prepend ? [listener, ...existing] : [...existing, listener]);
      events[type] = list;
      const m = target.getMaxListeners();
      if (m > 0 && list.length > m && !list.warned) {
        list.warned = true;
        console.warn(`MaxListenersExceededWarning: Possible EventEmitter memory leak detected. ${list.length} ${String(type)} listeners added. Use emitter.setMaxListeners() to increase limit`);
      }
    }
    return target;
  };

  EventEmitter.prototype.addListener = function addListener(type, listener) {
    return add(this, type, listener, false);
  };
  EventEmitter.prototype.on = EventEmitter.prototype.addListener;
  EventEmitter.prototype.prependListener = function prependListener(type, listener) {
    return add(this, type, listener, true);
  };

  const onceWrapper = (target, type, listener) => {
    const state = { fired: false, target, type, listener };
    const wrapped = function (...args) {
      if (!state.fired) {
        state.target.removeListener(state.type, wrapped);
        state.fired = true;
        return state.listener.apply(state.target, args);
      }
    };
    wrapped.listener = listener;
    return wrapped;
  };
  EventEmitter.prototype.once = function once(type, listener) {
    checkListener(listener);
    return this.on(type, onceWrapper(this, type, listener));
  };
  EventEmitter.prototype.prependOnceListener = function prependOnceListener(type, listener) {
    checkListener(listener);
    return this.prependListener(type, onceWrapper(this, type, listener));
  };

  EventEmitter.prototype.removeListener = function removeListener(type, listener) {
    checkListener(listener);
    const events = this._events;
    if (events === undefined) return this;
    const list = events[type];
    if (list === undefined) return this;
    if (list === listener || list.listener === listener) {
      if (--this._eventsCount === 0) this._events = Object.create(null);
      else delete events[type];
      if (events.removeListener !== undefined) this.emit("removeListener", type, list.listener || listener);
      return this;
    }
    if (typeof list === "function") return this;
    let pos = -1;
    for (let i = list.length - 1; i >= 0; i--) {
      if (list[i] === listener || list[i].listener === listener) {
        pos = i;
        break;
      }
    }
    if (pos < 0) return this;
    const removed = list[pos];
    const rest = list.slice(0, pos).concat(list.slice(pos + 1));
    events[type] = rest.length === 1 ? rest[0] : rest;
    if (events.removeListener !== undefined) this.emit("removeListener", type, removed.listener || listener);
    return this;
  };
  EventEmitter.prototype.off = EventEmitter.prototype.removeListener;

  EventEmitter.prototype.removeAllListeners = function removeAllListeners(type) {
    const events = this._events;
    if (events === undefined) return this;
    if (events.removeListener === undefined) {
      if (arguments.length === 0) {
        this._events = Object.create(null);
        this._eventsCount = 0;
      } else if (events[type] !== undefined) {
        if (--this._eventsCount === 0) this._events = Object.create(null);
        else delete events[type];
      }
      return this;
    }
    if (arguments.length === 0) {
      for (const key of Reflect.ownKeys(events)) {
        if (key !== "removeListener") this.removeAllListeners(key);
      }
      this.removeAllListeners("removeListener");
      this._events = Object.create(null);
      this._eventsCount = 0;
      return this;
    }
    const listeners = events[type];
    if (typeof listeners === "function") this.removeListener(type, listeners);
    else if (listeners !== undefined) {
      for (let i = listeners.length - 1; i >= 0; i--) this.removeListener(type, listeners[i]);
    }
    return this;
  };

  const listenersOf = (target, type, unwrap) => {
    const events = target._events;
    if (events === undefined || events[type] === undefined) return [];
    const l = events[type];
    const list = typeof l === "function" ? [l] : l.slice();
    return unwrap ? list.map((f) => f.listener || f) : list;
  };
  EventEmitter.prototype.listeners = function listeners(type) { return listenersOf(this, type, true); };
  EventEmitter.prototype.rawListeners = function rawListeners(type) { return listenersOf(this, type, false); };
  EventEmitter.prototype.listenerCount = function listenerCount(type, listener) {
    const list = listenersOf(this, type, true);
    return listener === undefined ? list.length : list.filter((f) => f === listener).length;
  };
  EventEmitter.listenerCount = (emitter, type) => emitter.listenerCount(type);
  EventEmitter.prototype.eventNames = function eventNames() {
    return this._eventsCount > 0 ? Reflect.ownKeys(this._events) : [];
  };

  // events.once(emitter, name[, {signal}]): a promise of the arguments of
  // the next emit; an 'error' emitted first rejects it.
  EventEmitter.once = function once(emitter, name, options) {
    const signal = options && options.signal;
    return new Promise((resolve, reject) => {
      if (signal && signal.aborted) {
        reject(new DOMException("The operation was aborted", "AbortError"));
        return;
      }
      const onError = (err) => {
        emitter.removeListener(name, onEvent);
        if (signal) signal.removeEventListener("abort", onAbort);
        reject(err);
      };
      const onEvent = (...args) => {
        if (name !== "error") emitter.removeListener("error", onError);
        if (signal) signal.removeEventListener("abort", onAbort);
        resolve(args);
      };
      const onAbort = () => {
        emitter.removeListener(name, onEvent);
        emitter.removeListener("error", onError);
        reject(new DOMException("The operation was aborted", "AbortError"));
      };
      emitter.once(name, onEvent);
      if (name !== "error") emitter.once("error", onError);
      if (signal) signal.addEventListener("abort", onAbort, { once: true });
    });
  };
  EventEmitter.getEventListeners = (emitter, name) =>
    typeof emitter.listeners === "function" ? emitter.listeners(name) : [];
  EventEmitter.setMaxListeners = (n = defaultMaxListeners, ...targets) => {
    if (targets.length === 0) EventEmitter.defaultMaxListeners = n;
    for (const t of targets) if (typeof t.setMaxListeners === "function") t.setMaxListeners(n);
  };

  EventEmitter.EventEmitter = EventEmitter;
  EventEmitter.usingDomains = false;
  return EventEmitter;
})
