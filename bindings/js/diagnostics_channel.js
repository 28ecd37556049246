// require("diagnostics_channel") / "node:diagnostics_channel": Node's named
// channels (channel, subscribe, unsubscribe, hasSubscribers) and tracing
// channels (traceSync, tracePromise, traceCallback), which npm packages
// publish their metrics and traces on.
(function () {
  "use strict";

  const channels = new Map();

  class Channel {
    constructor(name) {
      this.name = name;
      this._subs = [];
    }
    get hasSubscribers() { return this._subs.length > 0; }
    subscribe(fn) {
      if (typeof fn !== "function") throw new TypeError('The "subscription" argument must be of type function');
      this._subs.push(fn);
    }
    unsubscribe(fn) {
      const i = this._subs.indexOf(fn);
      if (i < 0) return false;
      this._subs.splice(i, 1);
      return true;
    }
    publish(message) {
      for (const fn of this._subs.slice()) {
        try {
          fn(message, this.name);
        } catch (e) {
          queueMicrotask(() => { throw e; }); // reported, as Node does
        }
      }
    }
    bindStore() {}
    unbindStore() { return false; }
    runStores(data, fn, thisArg, ...args) { return fn.apply(thisArg, args); }
  }

  const channel = (name) => {
    let c = channels.get(name);
    if (!c) channels.set(name, (c = new Channel(name)));
    return c;
  };

  const events = ["start", "end", "asyncStart", "asyncEnd", "error"];

  class TracingChannel {
    constructor(nameOrChannels) {
      for (const e of events) {
        this[e] = typeof nameOrChannels === "string" ? channel(`tracing:${nameOrChannels}:${e}`) : nameOrChannels[e];
      }
    }
    get hasSubscribers() { return events.some((e) => this[e].hasSubscribers); }
    subscribe(handlers) { for (const e of events) if (handlers[e]) this[e].subscribe(handlers[e]); }
    unsubscribe(handlers) {
      let ok = true;
      for (const e of events) if (handlers[e]) ok = this[e].unsubscribe(handlers[e]) && ok;
      return ok;
    }
    traceSync(fn, context = {}, thisArg = undefined, ...args) {
      if (!this.hasSubscribers) return fn.apply(thisArg, args);
      this.start.publish(context);
      try {
        const r = fn.apply(thisArg, args);
        context.result = r;
        return r;
      } catch (err) {
        context.error = err;
        this.error.publish(context);
        throw err;
      } finally {
        this.end.publish(context);
      }
    }
    tracePromise(fn, context = {}, thisArg = undefined, ...args) {
      if (!this.hasSubscribers) return fn.apply(thisArg, args);
      this.start.publish(context);
      try {
        const p = Promise.resolve(fn.apply(thisArg, args));
        return p.then((r) => {
          context.result = r;
          this.asyncStart.publish(context);
          this.asyncEnd.publish(context);
          return r;
        }, (err) => {
          context.error = err;
          this.error.publish(context);
          this.asyncStart.publish(context);
          this.asyncEnd.publish(context);
          throw err;
        });
      } catch (err) {
        context.error = err;
        this.error.publish(context);
        throw err;
      } finally {
        this.end.publish(context);
      }
    }
    traceCallback(fn, position = -1, context = {}, thisArg = undefined, ...args) {
      if (!this.hasSubscribers) return fn.apply(thisArg, args);
      const i = position < 0 ? args.length + position : position;
      const cb = args[i];
      args[i] = (err, ...rest) => {
        if (err) {
          context.error = err;
          this.error.publish(context);
        } else {
          context.result = rest[0];
        }
        this.asyncStart.publish(context);
        try {
          return cb.call(thisArg, err, ...rest);
        } finally {
          this.asyncEnd.publish(context);
        }
      };
      return this.traceSync(fn, context, thisArg, ...args);
    }
  }

  return {
    channel,
    hasSubscribers: (name) => channels.has(name) && channels.get(name).hasSubscribers,
    subscribe: (name, fn) => channel(name).subscribe(fn),
    unsubscribe: (name, fn) => channel(name).unsubscribe(fn),
    tracingChannel: (nameOrChannels) => new TracingChannel(nameOrChannels),
    Channel,
  };
})
