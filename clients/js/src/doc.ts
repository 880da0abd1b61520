import { Emitter } from './emitter.js';
import { getType, type OTType } from './types.js';
import type { Connection, ProtocolError } from './connection.js';

/** DocOptions configure an open document. */
export interface DocOptions {
  /** clientId identifies this client's ops across reconnects; default random. */
  clientId?: string;
  /** undoLimit bounds the undo stack (default 200). */
  undoLimit?: number;
  /** undoGroupMs: local edits closer together than this undo as one step (default 500; 0 off). */
  undoGroupMs?: number;
}

/** Change describes a change to the local snapshot. */
export interface Change<Op = any> {
  op: Op;
  /** local is true for this client's own ops (submit, undo, redo), false for remote ones. */
  local: boolean;
  /** origin is what the submitter passed to submit (bindings pass themselves to skip echoes). */
  origin?: unknown;
}

/** ReloadEvent: the server said "reload from snapshot" (too far behind, or a refused op). The
 * snapshot has been replaced; dropped is the local op that was lost, if any (composed into one;
 * for a type without compose, such as the CRDT types, it is null and droppedOps lists them). */
export interface ReloadEvent<Op = any> {
  reason: 'reload' | 'rejected';
  dropped: Op | null;
  /** droppedOps are the lost local ops, oldest first. */
  droppedOps: Op[];
  error?: ProtocolError;
}

type DocEvents<Op> = {
  /** change: the snapshot changed (a remote op, or a local submit/undo/redo). */
  change: [Change<Op>];
  /** reload: the snapshot was replaced wholesale; editors must reset their content. */
  reload: [ReloadEvent<Op>];
  /** ack: the server made an op of ours durable at this revision. */
  ack: [number];
  /** synced: nothing of ours is in flight or buffered any more. */
  synced: [];
  /** joined: (re)joined; access says read or write. */
  joined: [{ access: 'read' | 'write'; revision: number }];
  /** error: a request about this document failed. */
  error: [ProtocolError];
};

/** AwarenessChange lists the peers whose state was added, updated or removed. */
export type AwarenessChange = { added: string[]; updated: string[]; removed: string[] };

/** Awareness is the per-document ephemeral state of every peer (cursors, names); never stored. */
export class Awareness extends Emitter<{ change: [AwarenessChange] }> {
  /** peers maps peer ids to their states (not including this client). */
  readonly peers = new Map<string, any>();
  /** local is this client's state. */
  local: unknown = null;
  private keepAlive: ReturnType<typeof setInterval> | null = null;

  constructor(private readonly send: (state: unknown) => void) {
    super();
  }

  /** set replaces this client's state (null clears it); it is sent to the other peers and
   * re-sent every 10 s so it does not expire. */
  set(state: unknown): void {
    this.local = state;
    this.send(state);
    if (state !== null && !this.keepAlive) {
      this.keepAlive = setInterval(() => this.local !== null && this.send(this.local), 10000);
    } else if (state === null && this.keepAlive) {
      clearInterval(this.keepAlive);
      this.keepAlive = null;
    }
  }

  /** @internal */
  _reset(peers: Array<{ peer: string; state: unknown }>): void {
    const removed = [...this.peers.keys()];
    this.peers.clear();
    const added: string[] = [];
    for (const p of peers ?? []) {
      if (p.state === null || p.state === undefined) continue;
      this.peers.set(p.peer, p.state);
      added.push(p.peer);
    }
    this.emit('change', { added, updated: [], removed: removed.filter((r) => !this.peers.has(r)) });
  }

  /** @internal */
  _update(peer: string, state: unknown): void {
    const had = this.peers.has(peer);
    if (state === null || state === undefined) {
      if (!had) return;
      this.peers.delete(peer);
      this.emit('change', { added: [], updated: [], removed: [peer] });
      return;
    }
    this.peers.set(peer, state);
    this.emit('change', had ? { added: [], updated: [peer], removed: [] } : { added: [peer], updated: [], removed: [] });
  }

  /** @internal */
  _stop(): void {
    if (this.keepAlive) clearInterval(this.keepAlive);
    this.keepAlive = null;
  }
}

interface Inflight<Op> {
  op: Op;
  seq: number;
  ref: number;
  /** clientId overrides the document's (create() sends under CREATE_CLIENT_ID). */
  clientId?: string;
}

/** CREATE_CLIENT_ID is the client id create() submits under, with seq 1, so that the server's
 * (clientId, seq) deduplication applies concurrent creates of one document only once. */
export const CREATE_CLIENT_ID = 'opstream:create';

function randomId(): string {
  const c = (globalThis as any).crypto;
  if (c?.randomUUID) return c.randomUUID();
  return Math.random().toString(36).slice(2) + Date.now().toString(36);
}

/**
 * Doc is an open document. Local ops apply at once; one op is in flight at a time and later ones
 * are composed into a buffer; incoming ops are transformed over both (the server rebases late
 * ops with side "left", so ours take "left" and theirs "right", as ShareDB does).
 */
export class Doc<Snap = any, Op = any> extends Emitter<DocEvents<Op>> {
  /** snapshot is the local state: the server's state at revision plus our pending ops. */
  snapshot!: Snap;
  /** revision is the last server revision applied locally. */
  revision = -1;
  /** access is what the authorizer granted: read or write. */
  access: 'read' | 'write' = 'write';
  /** peerId is the server-assigned id of this client in the document's awareness. */
  peerId = '';
  /** clientId and seq identify our ops across reconnects (the server deduplicates them). */
  readonly clientId: string;
  seq = 0;
  readonly ot: OTType<Snap, Op>;
  readonly awareness: Awareness;
  /** ready resolves with this Doc once the first snapshot is loaded. */
  readonly ready: Promise<Doc<Snap, Op>>;

  private inflight: Inflight<Op> | null = null;
  /** pending holds the buffered ops: at most one (composed) for a type with compose, else each
   * op apart (sent one after another). */
  private pending: Op[] = [];
  private joined = false;
  private joinRef = 0;
  private loaded = false;
  private closed = false;
  private resolveReady!: (d: Doc<Snap, Op>) => void;
  private rejectReady!: (e: Error) => void;
  private undoStack: Op[] = [];
  private redoStack: Op[] = [];
  private readonly undoLimit: number;
  private readonly undoGroupMs: number;
  private lastEditAt = 0;
  private retryTimer: ReturnType<typeof setTimeout> | null = null;

  constructor(
    private readonly conn: Connection,
    readonly id: string,
    readonly type: string,
    options: DocOptions,
  ) {
    super();
    this.ot = getType(type) as OTType<Snap, Op>;
    this.clientId = options.clientId ?? randomId();
    this.undoLimit = options.undoLimit ?? 200;
    this.undoGroupMs = options.undoGroupMs ?? 500;
    this.awareness = new Awareness((state) => {
      if (this.joined) this.conn._send({ type: 'awareness', doc: this.id, state });
    });
    this.ready = new Promise((res, rej) => {
      this.resolveReady = res;
      this.rejectReady = rej;
    });
    this.ready.catch(() => {});
  }

  /** hasPending reports local ops the server has not acknowledged yet. */
  get hasPending(): boolean {
    return this.inflight !== null || this.pending.length > 0;
  }

  /** submit applies op locally at once and sends it. origin is passed back in the change event
   * (a binding passes itself so it can skip its own changes). Throws on a read-only document. */
  submit(op: Op, origin?: unknown): void {
    this.submitOp(op, origin, 'edit');
  }

  private submitOp(op: Op, origin: unknown, kind: 'edit' | 'undo' | 'redo'): void {
    if (this.closed) throw new Error('opstream: document is closed');
    if (!this.loaded) throw new Error('opstream: document is not loaded yet (await openDocument)');
    if (this.access !== 'write') throw new Error('opstream: read-only document: edits are refused');
    if (this.ot.isNoop?.(op)) return;
    const before = this.snapshot;
    let inverse: Op | null = null;
    if (this.ot.invertWithDoc) {
      try {
        inverse = this.ot.invertWithDoc(op, before);
      } catch {
        inverse = null;
      }
    }
    this.snapshot = this.ot.apply(this.snapshot, op);
    const last = this.pending.length - 1;
    if (last >= 0 && this.ot.compose) this.pending[last] = this.ot.compose(this.pending[last], op);
    else this.pending.push(op);
    if (inverse !== null) {
      const now = Date.now();
      const top = this.undoStack.length - 1;
      if (kind === 'undo') this.redoStack.push(inverse);
      else if (kind === 'edit' && top >= 0 && now - this.lastEditAt < this.undoGroupMs && this.ot.compose) {
        // Typing in a burst undoes as one step: the new inverse first, then the older one.
        this.undoStack[top] = this.ot.compose!(inverse, this.undoStack[top]);
        this.redoStack = [];
      } else {
        this.undoStack.push(inverse);
        if (this.undoStack.length > this.undoLimit) this.undoStack.shift();
        if (kind === 'edit') this.redoStack = [];
      }
    }
    this.lastEditAt = kind === 'edit' ? Date.now() : 0;
    this.emit('change', { op, local: true, origin });
    this.flush();
  }

  /** create initialises an empty document (revision 0, nothing pending) with op and returns
   * true; otherwise it does nothing and returns false. When several clients create the same
   * document at once the server applies one of their ops and treats the others as duplicates
   * (they are sent under one client id and seq), so create with identical ops, e.g. a rich-text
   * document's final newline. Not undoable. */
  create(op: Op, origin?: unknown): boolean {
    if (!this.loaded || this.revision !== 0 || this.hasPending || this.closed) return false;
    if (this.access !== 'write') throw new Error('opstream: read-only document: edits are refused');
    this.snapshot = this.ot.apply(this.snapshot, op);
    this.inflight = { op, seq: 1, ref: 0, clientId: CREATE_CLIENT_ID };
    this.emit('change', { op, local: true, origin });
    if (this.joined) this.sendInflight();
    return true;
  }

  /** canUndo and canRedo report whether undo()/redo() would do something. */
  get canUndo(): boolean {
    return this.undoStack.length > 0;
  }
  get canRedo(): boolean {
    return this.redoStack.length > 0;
  }

  /** undo reverts this client's last change (others' later changes are kept: the inverse is
   * transformed over them). Returns false when there is nothing to undo. */
  undo(origin?: unknown): boolean {
    const op = this.undoStack.pop();
    if (op === undefined) return false;
    this.submitOp(op, origin, 'undo');
    return true;
  }

  /** redo re-applies the last undone change. */
  redo(origin?: unknown): boolean {
    const op = this.redoStack.pop();
    if (op === undefined) return false;
    this.submitOp(op, origin, 'redo');
    return true;
  }

  /** whenSynced resolves once every local op is acknowledged. */
  whenSynced(): Promise<void> {
    if (!this.hasPending && this.joined) return Promise.resolve();
    return new Promise((res) => {
      const off = this.on('synced', () => {
        off();
        res();
      });
    });
  }

  /** close leaves the document. Unacknowledged ops are dropped. */
  close(): void {
    if (this.closed) return;
    if (this.joined) this.conn._send({ type: 'leave', doc: this.id });
    this._closed();
    this.conn._forget(this.id);
  }

  /** @internal */
  _closed(): void {
    this.closed = true;
    this.joined = false;
    this.awareness._stop();
    if (this.retryTimer) clearTimeout(this.retryTimer);
    this.rejectReady(new Error('opstream: document closed'));
  }

  /** @internal the connection is up: (re)join. */
  _join(): void {
    if (this.closed) return;
    const msg: Record<string, unknown> = { type: 'join', doc: this.id, docType: this.type, protocol: 1 };
    if (this.loaded) msg.revision = this.revision;
    this.joinRef = this.conn.request(msg);
  }

  /** @internal leave and join again from our revision (after a token change). */
  _rejoin(): void {
    if (this.closed) return;
    if (this.joined) this.conn._send({ type: 'leave', doc: this.id });
    this.joined = false;
    this._join();
  }

  /** @internal the connection dropped. */
  _disconnected(): void {
    this.joined = false;
    // Peers' states are stale while we cannot hear them; rejoining brings them back.
    if (this.awareness.peers.size) this.awareness._reset([]);
    if (this.retryTimer) clearTimeout(this.retryTimer);
    this.retryTimer = null;
  }

  /** @internal */
  _message(m: any): void {
    if (this.closed) return;
    switch (m.type) {
      case 'joined':
        this.onJoined(m);
        break;
      case 'op':
        if (this.joined) this.onServerOp(m);
        break;
      case 'ack':
        if (this.joined) this.onAck(m);
        break;
      case 'awareness':
        if (m.peer !== this.peerId) this.awareness._update(m.peer, m.state);
        break;
      case 'peerLeft':
        this.awareness._update(m.peer, null);
        break;
    }
  }

  /** @internal */
  _error(err: ProtocolError, ref?: number): void {
    if (!this.loaded && ref === this.joinRef) {
      this.rejectReady(err);
      this.emit('error', err);
      return;
    }
    if (this.inflight && ref === this.inflight.ref) {
      if (err.code === 'RateLimited' || err.code === 'Unavailable') {
        // Retry the same op (same clientId/seq) a little later.
        this.retryTimer = setTimeout(() => {
          this.retryTimer = null;
          if (this.joined && this.inflight) this.sendInflight();
        }, 500);
        this.emit('error', err);
        return;
      }
      // The server refused our op: roll back to the server's state.
      this.emit('error', err);
      this.hardReload('rejected', err);
      return;
    }
    this.emit('error', err);
    if (err.closed) {
      this.joined = false;
      this._join();
    }
  }

  private hardReload(reason: 'rejected' | 'reload', err?: ProtocolError): void {
    const ev: ReloadEvent<Op> = { reason, ...this.lost(), ...(err ? { error: err } : {}) };
    this.inflight = null;
    this.pending = [];
    this.undoStack = [];
    this.redoStack = [];
    this.loaded = false;
    this.pendingReload = ev;
    this._rejoin();
  }

  private pendingReload: ReloadEvent<Op> | null = null;

  /** lost lists the unacknowledged local ops (and composes them when the type can). */
  private lost(): { dropped: Op | null; droppedOps: Op[] } {
    const ops = this.inflight ? [this.inflight.op, ...this.pending] : [...this.pending];
    const compose = this.ot.compose;
    const dropped = ops.length === 0 || !compose ? null : ops.reduce((a, b) => compose(a, b));
    return { dropped, droppedOps: ops };
  }

  private onJoined(m: any): void {
    this.joined = true;
    this.access = m.access === 'read' ? 'read' : 'write';
    this.peerId = m.peerId ?? '';
    if (m.snapshot !== undefined) {
      const snap = this.ot.deserializeSnapshot ? this.ot.deserializeSnapshot(m.snapshot) : (m.snapshot as Snap);
      const first = !this.loaded && !this.pendingReload;
      let ev: ReloadEvent<Op> | null = this.pendingReload;
      this.pendingReload = null;
      if (this.loaded) {
        // reload: true. Our unacknowledged ops cannot be placed on the new snapshot.
        ev = { reason: 'reload', ...this.lost() };
        this.inflight = null;
        this.pending = [];
        this.undoStack = [];
        this.redoStack = [];
      }
      this.snapshot = snap === null || snap === undefined ? this.ot.create() : snap;
      this.revision = m.revision;
      this.loaded = true;
      if (first) this.resolveReady(this);
      else if (ev) this.emit('reload', ev);
    } else {
      for (const op of m.ops ?? []) {
        this.onServerOp(op);
        if (!this.loaded) return; // an op failed to apply: reloading from the snapshot
      }
    }
    this.awareness._reset(m.peers ?? []);
    this.emit('joined', { access: this.access, revision: this.revision });
    if (this.awareness.local !== null) this.conn._send({ type: 'awareness', doc: this.id, state: this.awareness.local });
    if (this.inflight) this.sendInflight();
    else this.flush();
    if (!this.hasPending) this.emit('synced');
  }

  private onServerOp(m: any): void {
    if (!this.loaded) return; // reloading from the snapshot
    if (m.revision <= this.revision) return; // already have it
    if (m.revision !== this.revision + 1) {
      // A gap should never happen; rejoin from our revision to fetch what is missing.
      this._rejoin();
      return;
    }
    if (this.inflight && m.clientId === (this.inflight.clientId ?? this.clientId) && m.seq === this.inflight.seq) {
      // Our own op, seen in the ops a rejoin returned: it is acknowledged.
      this.onAck({ revision: m.revision, seq: m.seq, clientId: m.clientId });
      return;
    }
    let op: Op = this.ot.deserializeOp ? this.ot.deserializeOp(m.op) : m.op;
    const ot = this.ot;
    if (this.inflight) {
      const mine = ot.transform(this.inflight.op, op, 'left');
      op = ot.transform(op, this.inflight.op, 'right');
      this.inflight.op = mine;
    }
    for (let i = 0; i < this.pending.length; i++) {
      const p = this.pending[i];
      this.pending[i] = ot.transform(p, op, 'left');
      op = ot.transform(op, p, 'right');
    }
    try {
      this.snapshot = ot.apply(this.snapshot, op);
    } catch {
      // The server applied this op but our state cannot (it diverged: e.g. a tree whose log, with
      // our pending ops in it, folded past the op's stamp). Start again from the server's
      // snapshot.
      this.hardReload('reload');
      return;
    }
    this.revision = m.revision;
    this.undoStack = this.transformStack(this.undoStack, op);
    this.redoStack = this.transformStack(this.redoStack, op);
    this.emit('change', { op, local: false });
  }

  private transformStack(stack: Op[], op: Op): Op[] {
    const out: Op[] = new Array(stack.length);
    let r = op;
    for (let i = stack.length - 1; i >= 0; i--) {
      const e = stack[i];
      out[i] = this.ot.transform(e, r, 'left');
      r = this.ot.transform(r, e, 'right');
    }
    return out.filter((e) => !this.ot.isNoop?.(e));
  }

  private onAck(m: any): void {
    if (!this.inflight || m.clientId !== (this.inflight.clientId ?? this.clientId) || m.seq !== this.inflight.seq) return;
    if (m.revision > this.revision + 1) {
      // Ops before ours never reached us (the document dropped us meanwhile, or they were
      // lost): taking the ack now would skip them. Rejoin from our revision: the reply carries
      // them and then our own op, which acknowledges it in order.
      this._rejoin();
      return;
    }
    if (m.revision > this.revision) this.revision = m.revision;
    this.inflight = null;
    this.emit('ack', m.revision);
    this.flush();
    if (!this.hasPending) this.emit('synced');
  }

  private flush(): void {
    if (this.inflight || this.pending.length === 0 || !this.joined) return;
    this.inflight = { op: this.pending.shift()!, seq: ++this.seq, ref: 0 };
    this.sendInflight();
  }

  private sendInflight(): void {
    const f = this.inflight!;
    f.ref = this.conn.request({
      type: 'submit',
      doc: this.id,
      baseRevision: this.revision,
      op: f.op,
      clientId: f.clientId ?? this.clientId,
      seq: f.seq,
    });
  }
}
