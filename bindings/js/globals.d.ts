// The globals imscript's JavaScript adds beside imscript (console.go,
// web.js, nodecrypto.go, js.go's Buffer and require): their TypeScript
// declarations, for `imscript types`. Keep them in step with what those
// files install.

interface Console {
  log(...data: any[]): void;
  info(...data: any[]): void;
  debug(...data: any[]): void;
  warn(...data: any[]): void;
  error(...data: any[]): void;
}
/** Writes lines to the host's stdout (log, info, debug) and stderr (warn, error). */
declare var console: Console;

declare function setTimeout(fn: (...args: any[]) => void, ms?: number, ...args: any[]): number;
declare function setInterval(fn: (...args: any[]) => void, ms?: number, ...args: any[]): number;
declare function setImmediate(fn: (...args: any[]) => void, ...args: any[]): number;
declare function clearTimeout(id?: number): void;
declare function clearInterval(id?: number): void;
declare function clearImmediate(id?: number): void;
declare function queueMicrotask(fn: () => void): void;

/** Node's process, for what a handler uses of it (no exit: use srv.shutdown()). */
interface NodeProcess {
  readonly env: { [key: string]: string };
  readonly argv: string[];
  readonly pid: number;
  readonly platform: string;
  nextTick(fn: (...args: any[]) => void, ...args: any[]): void;
}
declare var process: NodeProcess;

declare class DOMException extends Error {
  constructor(message?: string, name?: string);
  readonly code: number;
}

declare class TextEncoder {
  readonly encoding: string;
  encode(input?: string): Uint8Array;
  encodeInto(source: string, destination: Uint8Array): { read: number; written: number };
}

declare class TextDecoder {
  constructor(label?: string, options?: { fatal?: boolean; ignoreBOM?: boolean });
  readonly encoding: string;
  readonly fatal: boolean;
  readonly ignoreBOM: boolean;
  decode(input?: ArrayBuffer | ArrayBufferView, options?: { stream?: boolean }): string;
}

declare function atob(data: string): string;
declare function btoa(data: string): string;

interface WebCrypto {
  randomUUID(): string;
  getRandomValues<T extends ArrayBufferView>(array: T): T;
}
declare var crypto: WebCrypto;

declare class URLSearchParams {
  constructor(init?: string | { [key: string]: string } | [string, string][]);
  append(name: string, value: string): void;
  delete(name: string): void;
  get(name: string): string | null;
  getAll(name: string): string[];
  has(name: string): boolean;
  set(name: string, value: string): void;
  toString(): string;
  [Symbol.iterator](): IterableIterator<[string, string]>;
}

declare class URL {
  constructor(url: string, base?: string | URL);
  hash: string;
  host: string;
  hostname: string;
  href: string;
  readonly origin: string;
  password: string;
  pathname: string;
  port: string;
  protocol: string;
  search: string;
  readonly searchParams: URLSearchParams;
  username: string;
  toString(): string;
  toJSON(): string;
}

type BufferEncoding = "utf8" | "utf-8" | "hex" | "base64" | "base64url" | "latin1" | "binary" | "ascii" | "ucs2" | "utf16le";

/** Bytes (Node's Buffer): what network data is in JavaScript. */
interface Buffer extends Uint8Array<ArrayBuffer> {
  toString(encoding?: BufferEncoding, start?: number, end?: number): string;
  toJSON(): { type: "Buffer"; data: number[] };
  equals(other: Uint8Array): boolean;
  compare(other: Uint8Array): number;
  slice(start?: number, end?: number): Buffer;
  subarray(start?: number, end?: number): Buffer;
  write(string: string, offset?: number, length?: number, encoding?: BufferEncoding): number;
  readUInt8(offset?: number): number;
  readUInt16BE(offset?: number): number;
  readUInt16LE(offset?: number): number;
  readUInt32BE(offset?: number): number;
  readUInt32LE(offset?: number): number;
  readInt8(offset?: number): number;
  readInt16BE(offset?: number): number;
  readInt16LE(offset?: number): number;
  readInt32BE(offset?: number): number;
  readInt32LE(offset?: number): number;
  writeUInt8(value: number, offset?: number): number;
  writeUInt16BE(value: number, offset?: number): number;
  writeUInt16LE(value: number, offset?: number): number;
  writeUInt32BE(value: number, offset?: number): number;
  writeUInt32LE(value: number, offset?: number): number;
}

interface BufferConstructor {
  from(data: string, encoding?: BufferEncoding): Buffer;
  from(data: ArrayLike<number> | ArrayBuffer | Uint8Array): Buffer;
  alloc(size: number, fill?: string | number, encoding?: BufferEncoding): Buffer;
  allocUnsafe(size: number): Buffer;
  concat(list: Uint8Array[], totalLength?: number): Buffer;
  byteLength(data: string | ArrayBuffer | ArrayBufferView, encoding?: BufferEncoding): number;
  isBuffer(obj: any): obj is Buffer;
  readonly prototype: Buffer;
}
declare var Buffer: BufferConstructor;

interface NodeHash {
  update(data: string | Uint8Array, encoding?: BufferEncoding): NodeHash;
  digest(): Buffer;
  digest(encoding: BufferEncoding): string;
}

/** require("crypto"): Node's crypto (what imscript has of it). */
interface NodeCrypto {
  readonly webcrypto: WebCrypto;
  randomUUID(): string;
  getRandomValues<T extends ArrayBufferView>(array: T): T;
  randomBytes(size: number): Buffer;
  createHash(algorithm: string): NodeHash;
  createHmac(algorithm: string, key: string | Uint8Array): NodeHash;
  timingSafeEqual(a: Uint8Array, b: Uint8Array): boolean;
  getHashes(): string[];
}

// ---- web globals: fetch, abort, events, structuredClone, performance ----

declare class Event {
  constructor(type: string, init?: { bubbles?: boolean; cancelable?: boolean });
  readonly type: string;
  readonly target: EventTarget | null;
  readonly currentTarget: EventTarget | null;
  readonly defaultPrevented: boolean;
  readonly timeStamp: number;
  preventDefault(): void;
  stopImmediatePropagation(): void;
  stopPropagation(): void;
}
declare class EventTarget {
  addEventListener(type: string, listener: ((ev: Event) => void) | { handleEvent(ev: Event): void } | null, options?: boolean | { once?: boolean; signal?: AbortSignal }): void;
  removeEventListener(type: string, listener: ((ev: Event) => void) | { handleEvent(ev: Event): void } | null): void;
  dispatchEvent(ev: Event): boolean;
}
declare class AbortSignal extends EventTarget {
  readonly aborted: boolean;
  readonly reason: any;
  onabort: ((ev: Event) => void) | null;
  throwIfAborted(): void;
  static abort(reason?: any): AbortSignal;
  static timeout(ms: number): AbortSignal;
  static any(signals: AbortSignal[]): AbortSignal;
}
declare class AbortController {
  readonly signal: AbortSignal;
  abort(reason?: any): void;
}

type HeadersInit = Headers | [string, string][] | { [name: string]: string };
declare class Headers {
  constructor(init?: HeadersInit);
  append(name: string, value: string): void;
  delete(name: string): void;
  get(name: string): string | null;
  getSetCookie(): string[];
  has(name: string): boolean;
  set(name: string, value: string): void;
  forEach(fn: (value: string, name: string, headers: Headers) => void): void;
  entries(): IterableIterator<[string, string]>;
  keys(): IterableIterator<string>;
  values(): IterableIterator<string>;
  [Symbol.iterator](): IterableIterator<[string, string]>;
}
type BodyInit = string | ArrayBuffer | ArrayBufferView | URLSearchParams;
interface RequestInit {
  method?: string;
  headers?: HeadersInit;
  body?: BodyInit | null;
  signal?: AbortSignal | null;
  redirect?: "follow" | "error" | "manual";
}
/** A response body: read whole (fetch has no real streams). */
interface BodyReader {
  read(): Promise<{ done: boolean; value?: Uint8Array }>;
  releaseLock(): void;
  cancel(): Promise<void>;
}
interface ResponseBody extends AsyncIterable<Uint8Array> {
  getReader(): BodyReader;
}
interface Body {
  readonly body: ResponseBody | null;
  readonly bodyUsed: boolean;
  arrayBuffer(): Promise<ArrayBuffer>;
  bytes(): Promise<Uint8Array>;
  json(): Promise<any>;
  text(): Promise<string>;
}
declare class Request implements Body {
  constructor(input: string | URL | Request, init?: RequestInit);
  readonly method: string;
  readonly url: string;
  readonly headers: Headers;
  readonly signal: AbortSignal;
  readonly redirect: string;
  readonly body: ResponseBody | null;
  readonly bodyUsed: boolean;
  clone(): Request;
  arrayBuffer(): Promise<ArrayBuffer>;
  bytes(): Promise<Uint8Array>;
  json(): Promise<any>;
  text(): Promise<string>;
}
declare class Response implements Body {
  constructor(body?: BodyInit | null, init?: { status?: number; statusText?: string; headers?: HeadersInit });
  readonly status: number;
  readonly statusText: string;
  readonly ok: boolean;
  readonly headers: Headers;
  readonly url: string;
  readonly redirected: boolean;
  readonly type: string;
  readonly body: ResponseBody | null;
  readonly bodyUsed: boolean;
  clone(): Response;
  arrayBuffer(): Promise<ArrayBuffer>;
  bytes(): Promise<Uint8Array>;
  json(): Promise<any>;
  text(): Promise<string>;
  static json(data: any, init?: { status?: number; statusText?: string; headers?: HeadersInit }): Response;
  static error(): Response;
  static redirect(url: string, status?: number): Response;
}
/** WHATWG fetch, on imscript.http (the body is read whole, at most 16 MiB). */
declare function fetch(input: string | URL | Request, init?: RequestInit): Promise<Response>;
/** A deep copy (Map, Set, Date, RegExp, typed arrays, errors, cycles); DataCloneError on a function. */
declare function structuredClone<T>(value: T): T;
interface Performance {
  now(): number;
  readonly timeOrigin: number;
}
declare var performance: Performance;

// ---- Node core modules: require("events") / import from "node:events" ----

type Listener = (...args: any[]) => void;
declare class NodeEventEmitter {
  constructor(options?: { captureRejections?: boolean });
  static defaultMaxListeners: number;
  static readonly errorMonitor: unique symbol;
  on(event: string | symbol, listener: Listener): this;
  addListener(event: string | symbol, listener: Listener): this;
  prependListener(event: string | symbol, listener: Listener): this;
  once(event: string | symbol, listener: Listener): this;
  prependOnceListener(event: string | symbol, listener: Listener): this;
  off(event: string | symbol, listener: Listener): this;
  removeListener(event: string | symbol, listener: Listener): this;
  removeAllListeners(event?: string | symbol): this;
  emit(event: string | symbol, ...args: any[]): boolean;
  listenerCount(event: string | symbol): number;
  listeners(event: string | symbol): Listener[];
  rawListeners(event: string | symbol): Listener[];
  eventNames(): (string | symbol)[];
  setMaxListeners(n: number): this;
  getMaxListeners(): number;
}
/** require("events"): the EventEmitter class, with once() and on() helpers. */
interface NodeEvents {
  new (options?: { captureRejections?: boolean }): NodeEventEmitter;
  readonly prototype: NodeEventEmitter;
  EventEmitter: typeof NodeEventEmitter;
  defaultMaxListeners: number;
  readonly errorMonitor: symbol;
  once(emitter: NodeEventEmitter | EventTarget, event: string, options?: { signal?: AbortSignal }): Promise<any[]>;
  listenerCount(emitter: NodeEventEmitter, event: string | symbol): number;
}
/** require("util"). */
interface NodeUtil {
  format(format?: any, ...args: any[]): string;
  inspect(value: any): string;
  inherits(ctor: Function, superCtor: Function): void;
  promisify(fn: Function): (...args: any[]) => Promise<any>;
  callbackify(fn: (...args: any[]) => Promise<any>): (...args: any[]) => void;
  deprecate<T extends Function>(fn: T, message: string, code?: string): T;
  isDeepStrictEqual(a: any, b: any): boolean;
  isArray(value: any): value is any[];
  isError(value: any): value is Error;
  types: { [check: string]: (value: any) => boolean };
  TextEncoder: typeof TextEncoder;
  TextDecoder: typeof TextDecoder;
}
interface ParsedPath { root: string; dir: string; base: string; ext: string; name: string }
/** require("path"): POSIX paths. */
interface NodePath {
  readonly sep: string;
  readonly delimiter: string;
  readonly posix: NodePath;
  basename(p: string, ext?: string): string;
  dirname(p: string): string;
  extname(p: string): string;
  isAbsolute(p: string): boolean;
  join(...parts: string[]): string;
  normalize(p: string): string;
  relative(from: string, to: string): string;
  resolve(...parts: string[]): string;
  parse(p: string): ParsedPath;
  format(o: Partial<ParsedPath>): string;
  toNamespacedPath(p: string): string;
}
/** require("url"). */
interface NodeURL {
  URL: typeof URL;
  URLSearchParams: typeof URLSearchParams;
  fileURLToPath(url: string | URL): string;
  pathToFileURL(path: string): URL;
}
/** require("timers"): the timer globals. */
interface NodeTimers {
  setTimeout: typeof setTimeout;
  setInterval: typeof setInterval;
  setImmediate: typeof setImmediate;
  clearTimeout: typeof clearTimeout;
  clearInterval: typeof clearInterval;
  clearImmediate: typeof clearImmediate;
  queueMicrotask: typeof queueMicrotask;
}
/** require("module"). */
interface NodeModule {
  createRequire(filename: string | URL): (name: string) => any;
  readonly builtinModules: string[];
  isBuiltin(name: string): boolean;
}
interface DiagnosticsChannel {
  readonly name: string | symbol;
  readonly hasSubscribers: boolean;
  publish(message: any): void;
  subscribe(fn: (message: any, name: string | symbol) => void): void;
  unsubscribe(fn: (message: any, name: string | symbol) => void): boolean;
}
/** require("diagnostics_channel"). */
interface NodeDiagnosticsChannel {
  channel(name: string | symbol): DiagnosticsChannel;
  hasSubscribers(name: string | symbol): boolean;
  subscribe(name: string | symbol, fn: (message: any, name: string | symbol) => void): void;
  unsubscribe(name: string | symbol, fn: (message: any, name: string | symbol) => void): boolean;
  tracingChannel(nameOrChannels: string | object): any;
}

/** A module beside the script (Node's resolution). */
declare function require(name: string): any;
