import { Emitter } from './emitter.js';
import { Doc, type DocOptions } from './doc.js';

/** ConnectionState is what an app shows: connecting (first attempt), connected, offline (the
 * browser says the network is down; waiting for it), reconnecting (lost, retrying with
 * backoff), closed (close() was called). */
export type ConnectionState = 'connecting' | 'connected' | 'offline' | 'reconnecting' | 'closed';

/** WebSocketLike is the part of the WebSocket API the client uses (browsers' WebSocket, ws). */
export interface WebSocketLike {
  readyState: number;
  send(data: string): void;
  close(code?: number, reason?: string): void;
  onopen: ((ev: any) => void) | null;
  onclose: ((ev: any) => void) | null;
  onerror: ((ev: any) => void) | null;
  onmessage: ((ev: { data: any }) => void) | null;
}

/** ConnectOptions configure a connection. */
export interface ConnectOptions {
  /** token is sent as ?token= (browsers cannot set headers on WebSockets). */
  token?: string;
  /** WebSocket is the constructor to use; defaults to globalThis.WebSocket (pass `ws` in Node). */
  WebSocket?: new (url: string) => WebSocketLike;
  /** minBackoff and maxBackoff bound the reconnect delay in ms (defaults 250 and 10000). */
  minBackoff?: number;
  maxBackoff?: number;
  /** pingInterval is how often an idle connection is checked with ping, in ms (default 15000);
   * a connection silent for two intervals is dropped and reconnected. */
  pingInterval?: number;
}

/** ProtocolError is an `error` message from the server. */
export class ProtocolError extends Error {
  constructor(
    readonly code: string,
    message: string,
    readonly doc?: string,
    readonly closed?: boolean,
  ) {
    super(`${code}: ${message}`);
    this.name = 'ProtocolError';
  }
}

type ConnectionEvents = {
  state: [ConnectionState];
  error: [ProtocolError];
};

/** connect opens a connection to an OpStream server. url is the server's base URL (http(s) or
 * ws(s)) or the full /v1/ws endpoint. The connection reconnects by itself until close(). */
export function connect(url: string, options: ConnectOptions = {}): Connection {
  return new Connection(url, options);
}

/** Connection is one WebSocket to the server, shared by every open document. */
export class Connection extends Emitter<ConnectionEvents> {
  /** state is the current connection state; see the `state` event. */
  state: ConnectionState = 'connecting';
  private ws: WebSocketLike | null = null;
  private readonly docs = new Map<string, Doc>();
  private readonly url: string;
  private token: string | undefined;
  private readonly opts: Required<Omit<ConnectOptions, 'token' | 'WebSocket'>>;
  private readonly WS: new (url: string) => WebSocketLike;
  private attempt = 0;
  private timer: ReturnType<typeof setTimeout> | null = null;
  private pinger: ReturnType<typeof setInterval> | null = null;
  private lastHeard = 0;
  private outbox: object[] = [];
  private nextRef = 1;
  private replies = new Map<number, (msg: any) => void>();
  private readonly onOffline = () => this.goOffline();
  private readonly onOnline = () => {
    if (this.state === 'offline') this.open();
  };

  constructor(url: string, options: ConnectOptions = {}) {
    super();
    let u = url.replace(/^http/, 'ws');
    if (!/\/v1\/ws$/.test(u.split('?')[0])) u = u.replace(/\/?(\?|$)/, '/v1/ws$1');
    this.url = u;
    this.token = options.token;
    this.opts = {
      minBackoff: options.minBackoff ?? 250,
      maxBackoff: options.maxBackoff ?? 10000,
      pingInterval: options.pingInterval ?? 15000,
    };
    const WS = options.WebSocket ?? (globalThis as any).WebSocket;
    if (!WS) throw new Error('opstream: no WebSocket implementation (pass options.WebSocket)');
    this.WS = WS;
    if (typeof window !== 'undefined' && window.addEventListener) {
      window.addEventListener('offline', this.onOffline);
      window.addEventListener('online', this.onOnline);
    }
    this.open();
  }

  /** openDocument joins a document and resolves once its snapshot is loaded. type is the
   * document type ("text", "rich-text", "json0", or one added with registerType). Opening the
   * same id twice returns the same Doc. */
  openDocument<Snap = any, Op = any>(id: string, type: string, options: DocOptions = {}): Promise<Doc<Snap, Op>> {
    let d = this.docs.get(id);
    if (!d) {
      d = new Doc(this, id, type, options);
      this.docs.set(id, d);
      if (this.state === 'connected') d._join();
    }
    return d.ready as Promise<Doc<Snap, Op>>;
  }

  /** setToken replaces the token: it is used for every reconnect and, on an open connection,
   * sent in an `auth` message (the server drops its cached decisions and re-checks). */
  setToken(token: string): Promise<void> {
    this.token = token;
    if (this.state !== 'connected') return Promise.resolve();
    return new Promise((resolve, reject) => {
      this.request({ type: 'auth', token }, (msg) => {
        if (msg.type === 'error') return reject(toError(msg));
        // Rejoin from our revisions so each document learns its access under the new token.
        for (const d of this.docs.values()) d._rejoin();
        resolve();
      });
    });
  }

  /** close leaves every document and closes the connection for good. */
  close(): void {
    for (const d of this.docs.values()) d._closed();
    this.docs.clear();
    this.setState('closed');
    this.clearTimers();
    if (typeof window !== 'undefined' && window.removeEventListener) {
      window.removeEventListener('offline', this.onOffline);
      window.removeEventListener('online', this.onOnline);
    }
    const ws = this.ws;
    this.ws = null;
    ws?.close(1000, 'client closed');
  }

  /** disconnect drops the socket and stays offline (local edits are kept and buffered) until
   * reconnect() is called. */
  disconnect(): void {
    if (this.state === 'closed') return;
    this.dropSocket();
    this.clearTimers();
    for (const d of this.docs.values()) d._disconnected();
    this.setState('offline');
  }

  /** reconnect drops the current socket (if any) and connects again at once. */
  reconnect(): void {
    if (this.state === 'closed') return;
    this.attempt = 0;
    this.dropSocket();
    this.open();
  }

  /** @internal */
  _send(msg: object): void {
    if (this.state !== 'connected' || !this.ws) return;
    this.outbox.push(msg);
    if (this.outbox.length === 1) queueMicrotask(() => this.flush());
  }

  /** @internal sends msg with a fresh ref; onReply gets the reply carrying that ref. */
  request(msg: Record<string, unknown>, onReply?: (msg: any) => void): number {
    const ref = this.nextRef++;
    if (onReply) this.replies.set(ref, onReply);
    this._send({ ...msg, ref });
    return ref;
  }

  /** @internal */
  _forget(id: string): void {
    this.docs.delete(id);
  }

  private flush(): void {
    const batch = this.outbox.splice(0);
    if (!batch.length || !this.ws || this.state !== 'connected') return;
    for (let i = 0; i < batch.length; i += 1024) {
      const part = batch.slice(i, i + 1024);
      this.ws.send(JSON.stringify(part.length === 1 ? part[0] : part));
    }
  }

  private setState(s: ConnectionState): void {
    if (this.state === s) return;
    this.state = s;
    this.emit('state', s);
  }

  private open(): void {
    if (this.state === 'closed') return;
    this.clearTimers();
    this.setState(this.attempt === 0 && !this.everConnected ? 'connecting' : 'reconnecting');
    const url = this.token ? `${this.url}${this.url.includes('?') ? '&' : '?'}token=${encodeURIComponent(this.token)}` : this.url;
    let ws: WebSocketLike;
    try {
      ws = new this.WS(url);
    } catch {
      this.scheduleReconnect();
      return;
    }
    this.ws = ws;
    ws.onopen = () => {
      if (this.ws !== ws) return;
      this.everConnected = true;
      this.attempt = 0;
      this.lastHeard = Date.now();
      this.setState('connected');
      this.pinger = setInterval(() => this.checkAlive(), this.opts.pingInterval);
      for (const d of this.docs.values()) d._join();
    };
    ws.onmessage = (ev) => {
      if (this.ws !== ws) return;
      this.lastHeard = Date.now();
      let parsed: any;
      try {
        parsed = JSON.parse(typeof ev.data === 'string' ? ev.data : String(ev.data));
      } catch {
        return;
      }
      for (const m of Array.isArray(parsed) ? parsed : [parsed]) this.dispatch(m);
    };
    ws.onerror = () => {};
    ws.onclose = () => {
      if (this.ws !== ws) return;
      this.ws = null;
      this.lost();
    };
  }

  private everConnected = false;

  private checkAlive(): void {
    if (Date.now() - this.lastHeard > 2 * this.opts.pingInterval) {
      this.dropSocket();
      this.lost();
      return;
    }
    this._send({ type: 'ping' });
  }

  private dropSocket(): void {
    const ws = this.ws;
    this.ws = null;
    if (ws) {
      ws.onclose = ws.onmessage = ws.onopen = null;
      try {
        ws.close(4000, 'client dropped');
      } catch {
        /* already closed */
      }
    }
    this.outbox = [];
    this.replies.clear();
  }

  private lost(): void {
    this.clearTimers();
    this.outbox = [];
    this.replies.clear();
    for (const d of this.docs.values()) d._disconnected();
    if (this.state === 'closed') return;
    if (typeof navigator !== 'undefined' && navigator.onLine === false) {
      this.setState('offline');
      return;
    }
    this.scheduleReconnect();
  }

  private goOffline(): void {
    this.disconnect();
  }

  private scheduleReconnect(): void {
    this.setState('reconnecting');
    const base = Math.min(this.opts.maxBackoff, this.opts.minBackoff * 2 ** this.attempt++);
    const delay = base / 2 + Math.random() * (base / 2);
    this.timer = setTimeout(() => this.open(), delay);
  }

  private clearTimers(): void {
    if (this.timer) clearTimeout(this.timer);
    if (this.pinger) clearInterval(this.pinger);
    this.timer = this.pinger = null;
  }

  private dispatch(m: any): void {
    if (typeof m?.ref === 'number' && this.replies.has(m.ref)) {
      const fn = this.replies.get(m.ref)!;
      this.replies.delete(m.ref);
      fn(m);
    }
    if (m.type === 'error') {
      const err = toError(m);
      const d = m.doc !== undefined ? this.docs.get(m.doc) : undefined;
      if (d) d._error(err, m.ref);
      else this.emit('error', err);
      return;
    }
    if (m.doc !== undefined) this.docs.get(m.doc)?._message(m);
  }
}

function toError(m: any): ProtocolError {
  return new ProtocolError(String(m.code), String(m.message ?? ''), m.doc, m.closed === true);
}
