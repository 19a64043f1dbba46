/**
 * Issue 16's prototype beyond node:http: bare.ts's long poll on `node:net`, to measure how little
 * a held request can cost. Requests are parsed by llhttp, the parser of Node's own `http`, in the
 * WebAssembly build that undici ships (a devDependency; see bench/README "Beyond node:http").
 * Per connection it keeps the socket, one small `Conn` and llhttp's state (about 80 bytes of
 * WebAssembly memory): no request or response objects, no per-socket timer, no header copies.
 *
 * - any path: the fixed 100-byte body at once;
 * - `/wait`: held until the next `/publish`;
 * - `/publish?bt=T`: answers every held `/wait` with `bareEvent(T)`, then itself.
 * `/stream` is left out (scenario 5 keeps bare node:http): held requests are what this measures.
 * Bodies (Content-Length or chunked) are framed by llhttp and ignored. Malformed requests get 400
 * (431 past 16 KB of request line and headers) and the connection is closed.
 */
import { createServer, type Server, type Socket } from 'node:net';
import { ERROR, METHODS, TYPE } from 'undici/lib/llhttp/constants';
import { bareEvent } from './bare';

/** The few WebAssembly types used here (the compiler's lib has no DOM). */
declare const WebAssembly: {
  Module: new (bytes: Uint8Array) => object;
  Instance: new (module: object, imports: { env: Record<string, (...args: number[]) => number> }) => { exports: unknown };
};

/** llhttp's WebAssembly exports used here (llhttp's C API, api.h). */
interface Llhttp {
  memory: { buffer: ArrayBuffer };
  _initialize(): void;
  malloc(size: number): number;
  free(ptr: number): void;
  llhttp_alloc(type: number): number;
  llhttp_free(parser: number): void;
  llhttp_execute(parser: number, data: number, length: number): number;
  llhttp_resume(parser: number): void;
  llhttp_get_error_pos(parser: number): number;
  llhttp_should_keep_alive(parser: number): number;
  llhttp_get_method(parser: number): number;
  llhttp_get_http_major(parser: number): number;
}

/** Node's default `--max-http-header-size`: request line and headers together. */
const MAX_HEADER_BYTES = 16 * 1024;
/** A keep-alive connection idle this long is closed, as node:http's `keepAliveTimeout`. */
const IDLE_MS = 5_000;
/** A request must arrive whole within this (node:http's `headersTimeout`): slowloris. */
const RECEIVE_MS = 60_000;
/** One sweep over all connections checks both timeouts: no timer per socket. */
const SWEEP_MS = 1_000;

const OK = ERROR.OK;
const PAUSED = ERROR.PAUSED;
const HEAD = METHODS.HEAD;

const enum State { Idle, Receiving, Held }

class Conn {
  /** The request target, as llhttp hands it over (possibly in pieces). */
  url = '';
  /** Request line and header bytes of the request being received. */
  headerBytes = 0;
  state = State.Idle;
  /** When the connection went idle, or the request being received began. */
  since = Date.now();
  /** Bytes received behind a held request (pipelining): parsed once it is answered. */
  rest: Buffer | undefined = undefined;
  constructor(readonly socket: Socket, readonly ptr: number, readonly owner: NetBare) {}
}

const CONN = Symbol('conn');
type ConnSocket = Socket & { [CONN]: Conn };

/** The one llhttp instance: execution is synchronous, so `current` names the parser at work. */
let ll: Llhttp | undefined;
let current: Conn | undefined;
/** Where received bytes are copied for llhttp, and its size. */
let input = 0;
let inputSize = 0;
/** A view of llhttp's memory; taken anew when the memory grew (the old buffer is detached). */
let view = Buffer.alloc(0);

function memory(): Buffer {
  if (view.byteLength === 0) view = Buffer.from(ll!.memory.buffer);
  return view;
}

function llhttp(): Llhttp {
  if (ll) return ll;
  // undici's own copy of llhttp in WebAssembly: its file, not an export of undici's API.
  const bytes = require('undici/lib/llhttp/llhttp-wasm.js') as Buffer;
  const instance = new WebAssembly.Instance(new WebAssembly.Module(bytes), {
    env: {
      wasm_on_message_begin: onMessageBegin,
      wasm_on_url: onUrl,
      wasm_on_status: () => 0,
      wasm_on_header_field: onHeaderBytes,
      wasm_on_header_value: onHeaderBytes,
      wasm_on_headers_complete: onHeadersComplete,
      wasm_on_body: () => 0,
      wasm_on_message_complete: onMessageComplete,
    },
  });
  ll = instance.exports as Llhttp;
  ll._initialize();
  return ll;
}

function onMessageBegin(): number {
  const c = current!;
  c.state = State.Receiving;
  c.since = Date.now();
  return 0;
}

/** Any non-zero return makes llhttp stop with an error: answered 431 (see `reject`). */
function overLimit(c: Conn, length: number): number {
  c.headerBytes += length;
  return c.headerBytes > MAX_HEADER_BYTES ? -1 : 0;
}

function onUrl(_p: number, at: number, length: number): number {
  const c = current!;
  c.url += memory().toString('latin1', at, at + length);
  return overLimit(c, length);
}

function onHeaderBytes(_p: number, _at: number, length: number): number {
  return overLimit(current!, length);
}

/**
 * Refused (-1: an error, so 400): Upgrade and CONNECT, as this server speaks nothing else, and
 * HTTP/0.9 (llhttp reads a request line without a version as 0.9), which has no headers.
 */
function onHeadersComplete(p: number, _status: number, upgrade: number): number {
  return upgrade || ll!.llhttp_get_http_major(p) !== 1 ? -1 : 0;
}

function onMessageComplete(): number {
  const c = current!;
  const url = c.url;
  c.url = '';
  c.headerBytes = 0;
  if (url.startsWith('/wait')) {
    c.state = State.Held;
    c.owner.waiting.push(c);
    // Stop here: what follows is parsed once this one is answered (answers go in order).
    return PAUSED;
  }
  if (url.startsWith('/publish')) c.owner.publish(new URLSearchParams(url.slice(url.indexOf('?') + 1)).get('bt') ?? '0');
  return answer(c, FIXED) ? 0 : PAUSED;
}

let date = '';
let dateSecond = 0;

/** The Date header's value, made once a second. */
function httpDate(): string {
  const second = Math.floor(Date.now() / 1000);
  if (second !== dateSecond) {
    dateSecond = second;
    date = new Date(second * 1000).toUTCString();
  }
  return date;
}

function response(body: Buffer, keepAlive: boolean, head: boolean): Buffer {
  const lines = `HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: ${body.length}\r\nDate: ${httpDate()}\r\n`
    + (keepAlive ? `Connection: keep-alive\r\nKeep-Alive: timeout=${IDLE_MS / 1000}\r\n\r\n` : 'Connection: close\r\n\r\n');
  return head ? Buffer.from(lines, 'latin1') : Buffer.concat([Buffer.from(lines, 'latin1'), body]);
}

const FIXED = bareEvent('0');

/**
 * Answers `c`'s request (the parser still holds its method and keep-alive); `common` is the
 * answer of a keep-alive GET, made once for a whole publish. Whether the connection goes on.
 */
function answer(c: Conn, body: Buffer, common?: Buffer): boolean {
  const keepAlive = ll!.llhttp_should_keep_alive(c.ptr) === 1;
  const head = ll!.llhttp_get_method(c.ptr) === HEAD;
  c.socket.write(common && keepAlive && !head ? common : response(body, keepAlive, head));
  c.state = State.Idle;
  c.since = Date.now();
  if (!keepAlive) c.socket.end();
  return keepAlive;
}

function reject(c: Conn): void {
  const status = c.headerBytes > MAX_HEADER_BYTES ? '431 Request Header Fields Too Large' : '400 Bad Request';
  c.socket.end(`HTTP/1.1 ${status}\r\nConnection: close\r\nContent-Length: 0\r\n\r\n`);
}

/** Parses `chunk` on `c`'s connection, answering each request as it completes. */
function receive(c: Conn, chunk: Buffer): void {
  if (!c.socket.writable) return;
  if (c.state === State.Held) {
    c.rest = c.rest ? Buffer.concat([c.rest, chunk]) : chunk;
    c.socket.pause();
    return;
  }
  const p = llhttp();
  if (chunk.length > inputSize) {
    if (input) p.free(input);
    inputSize = Math.max(chunk.length, 65536);
    input = p.malloc(inputSize);
  }
  memory().set(chunk, input);
  current = c;
  const ret = p.llhttp_execute(c.ptr, input, chunk.length);
  current = undefined;
  if (ret === OK) return;
  if (ret !== PAUSED) return reject(c);
  // Paused: a held request (keep what follows it), or an answer that closes the connection.
  const at = p.llhttp_get_error_pos(c.ptr) - input;
  // (`as State`: the parse changed `state`, which the compiler narrowed above.)
  if ((c.state as State) === State.Held && at < chunk.length) {
    c.rest = chunk.subarray(at);
    c.socket.pause();
  }
}

/** A held request was answered: parse what came in behind it, once the current parse is over. */
function release(c: Conn): void {
  ll!.llhttp_resume(c.ptr);
  const rest = c.rest;
  if (!rest) return;
  c.rest = undefined;
  // Not now: we may be inside another connection's parse, and the input memory is shared.
  queueMicrotask(() => {
    receive(c, rest);
    c.socket.resume();
  });
}

function onData(this: ConnSocket, chunk: Buffer): void {
  receive(this[CONN], chunk);
}

function onClose(this: ConnSocket): void {
  const c = this[CONN];
  c.owner.conns.delete(c);
  ll!.llhttp_free(c.ptr);
}

function onError(this: ConnSocket): void {
  this.destroy();
}

export class NetBare {
  readonly server: Server;
  readonly conns = new Set<Conn>();
  waiting: Conn[] = [];
  private readonly sweeper: NodeJS.Timeout;

  constructor() {
    this.server = createServer((socket) => {
      const c = new Conn(socket, llhttp().llhttp_alloc(TYPE.REQUEST), this);
      (socket as ConnSocket)[CONN] = c;
      this.conns.add(c);
      socket.on('data', onData);
      socket.on('error', onError);
      socket.on('close', onClose);
    });
    this.sweeper = setInterval(() => this.sweep(), SWEEP_MS).unref();
  }

  publish(bt: string): void {
    const body = bareEvent(bt);
    const common = response(body, true, false);
    const held = this.waiting;
    this.waiting = [];
    for (const c of held) {
      // A closed connection's parser is freed: touch nothing of it.
      if (!c.socket.writable) continue;
      if (answer(c, body, common)) release(c);
    }
  }

  private sweep(): void {
    const now = Date.now();
    for (const c of this.conns) {
      const limit = c.state === State.Idle ? IDLE_MS : c.state === State.Receiving ? RECEIVE_MS : Infinity;
      if (now - c.since > limit) c.socket.destroy();
    }
  }

  listen(port: number, host: string): Promise<number> {
    return new Promise((resolve, reject) => {
      this.server.once('error', reject);
      this.server.listen(port, host, () => {
        const address = this.server.address();
        resolve(typeof address === 'object' && address ? address.port : port);
      });
    });
  }

  close(): Promise<void> {
    clearInterval(this.sweeper);
    return new Promise((resolve) => {
      this.server.close(() => resolve());
      for (const c of this.conns) c.socket.destroy();
    });
  }
}
