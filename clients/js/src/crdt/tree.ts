// The "tree" type: a movable tree after Kleppmann et al. (the document is its ops applied in
// stamp order; late ops go in place by undo-do-redo over a log; a move that would make a cycle
// is skipped). The same semantics and snapshot bytes as the server's engine
// (plugins/transforms/tree).
import type { OTType } from '../types.js';
import { checkKeys, checkStamp, cmpStamp, cmpStr, compact, fail, plain, type Stamp } from './common.js';

/** TreeOp creates, moves, deletes or updates a node. */
export interface TreeOp extends Stamp {
  op: 'create' | 'move' | 'delete' | 'update';
  id: string;
  parent?: string;
  key?: string;
  payload?: unknown;
}

/** ROOT is the implicit root's id. */
export const ROOT = 'root';
/** MAX_LOG is how many position ops the log keeps; older ones fold into the state. */
export const MAX_LOG = 5000;

interface TNode {
  exists: boolean;
  deleted: boolean;
  parent: string;
  key: string;
  payload: string | null; // compact JSON; null: no payload op yet
  pts: number;
  ppeer: string;
}

interface Pos {
  exists: boolean;
  deleted: boolean;
  parent: string;
  key: string;
}

interface LOp {
  op: TreeOp['op'];
  id: string;
  parent: string;
  key: string;
  ts: number;
  peer: string;
  enc?: string;
}

interface Entry {
  op: LOp;
  skipped: boolean;
  prev: Pos;
}

const NOPOS: Pos = { exists: false, deleted: false, parent: '', key: '' };

// enc is the engine's canonical encoding of a logged op (no payload).
function enc(o: LOp): string {
  if (o.enc === undefined) {
    const pk = o.op === 'create' || o.op === 'move' ? `,"parent":"${o.parent}","key":"${o.key}"` : '';
    o.enc = `{"op":"${o.op}","id":"${o.id}"${pk},"ts":${o.ts},"peer":"${o.peer}"}`;
  }
  return o.enc;
}

function cmpOps(a: LOp, b: LOp): number {
  const c = cmpStamp(a.ts, a.peer, b.ts, b.peer);
  return c !== 0 ? c : cmpStr(enc(a), enc(b));
}

// newer: payload register (s, v) beats (os, ov) by stamp, then value bytes.
function newer(ts: number, peer: string, v: string, ots: number, opeer: string, ov: string): boolean {
  const c = cmpStamp(ts, peer, ots, opeer);
  return c !== 0 ? c > 0 : cmpStr(v, ov) > 0;
}

/** TreeNode is a node as a reader sees it. */
export interface TreeNode {
  id: string;
  parent: string;
  key: string;
  payload: unknown;
  children: string[];
}

/** TreeState is a tree document. */
export class TreeState {
  readonly nodes = new Map<string, TNode>();
  log: Entry[] = [];
  horizon: Stamp | null = null;

  /** maxTs is the highest ts in the document (to start a Lamport clock above it). */
  maxTs(): number {
    let m = this.horizon?.ts ?? 0;
    for (const n of this.nodes.values()) if (n.payload !== null) m = Math.max(m, n.pts);
    for (const e of this.log) m = Math.max(m, e.op.ts);
    return m;
  }

  /** apply applies op (in place) and returns this document. It throws on a malformed op and on
   * a create/move/delete stamped at or before the history horizon, as the server does. */
  apply(op: TreeOp): this {
    checkStamp(op);
    checkKeys(op as any, ['op', 'id', 'parent', 'key', 'payload', 'ts', 'peer']);
    const kind = op.op;
    if (kind !== 'create' && kind !== 'move' && kind !== 'delete' && kind !== 'update') fail('op must be one of create, move, delete, update');
    plain(op.peer, 'peer', 128);
    const id = plain(op.id, 'id');
    if (id === ROOT) fail('the root cannot be the target of an op');
    const hasP = op.parent !== undefined || op.key !== undefined;
    let parent = '';
    let key = '';
    if (kind === 'create' || kind === 'move') {
      parent = plain(op.parent, 'parent');
      key = plain(op.key, 'key');
      if (parent === id) fail('a node cannot be its own parent');
      if (kind === 'move' && op.payload !== undefined) fail('move takes no payload');
    } else if (hasP) fail(`${kind} takes no parent or key`);
    else if (kind === 'delete' && op.payload !== undefined) fail('delete takes no payload');
    else if (kind === 'update' && op.payload === undefined) fail('update needs a payload');
    const payload = op.payload === undefined ? null : compact(op.payload);

    let n = this.nodes.get(id);
    const setsPayload = payload !== null && (!n || n.payload === null || newer(op.ts, op.peer, payload, n.pts, n.ppeer, n.payload));
    if (kind !== 'update' && this.horizon && cmpStamp(op.ts, op.peer, this.horizon.ts, this.horizon.peer) <= 0) {
      throw new Error(`opstream: op stamp (${op.ts}, ${op.peer}) is not newer than the document's history horizon`);
    }
    if (setsPayload) {
      if (!n) {
        n = { exists: false, deleted: false, parent: '', key: '', payload: null, pts: 0, ppeer: '' };
        this.nodes.set(id, n);
      }
      n.payload = payload;
      n.pts = op.ts;
      n.ppeer = op.peer;
    }
    if (kind === 'update') return this;
    const lop: LOp = { op: kind, id, parent, key, ts: op.ts, peer: op.peer };
    // Binary search for lop's place in the log.
    let lo = 0;
    let hi = this.log.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      const c = cmpOps(this.log[mid].op, lop);
      if (c === 0) return this; // redelivered
      if (c < 0) lo = mid + 1;
      else hi = mid;
    }
    for (let j = this.log.length - 1; j >= lo; j--) this.undo(this.log[j]);
    this.log.splice(lo, 0, { op: lop, skipped: true, prev: NOPOS });
    for (let j = lo; j < this.log.length; j++) this.do(this.log[j]);
    const over = this.log.length - MAX_LOG;
    if (over > 0) {
      const h = this.log[over - 1].op;
      this.horizon = { ts: h.ts, peer: h.peer };
      this.log = this.log.slice(over);
    }
    return this;
  }

  private pos(n: TNode | undefined): Pos {
    return n ? { exists: n.exists, deleted: n.deleted, parent: n.parent, key: n.key } : NOPOS;
  }

  private do(e: Entry): void {
    const op = e.op;
    let n = this.nodes.get(op.id);
    e.prev = this.pos(n);
    e.skipped = true;
    switch (op.op) {
      case 'create':
        if (this.cycle(op.id, op.parent)) return;
        if (!n) {
          n = { exists: false, deleted: false, parent: '', key: '', payload: null, pts: 0, ppeer: '' };
          this.nodes.set(op.id, n);
        }
        n.exists = true;
        n.deleted = false;
        n.parent = op.parent;
        n.key = op.key;
        break;
      case 'move':
        if (!n || !n.exists || !this.live(op.parent) || this.cycle(op.id, op.parent)) return;
        n.deleted = false;
        n.parent = op.parent;
        n.key = op.key;
        break;
      case 'delete':
        if (!n || !n.exists) return;
        n.deleted = true;
        break;
    }
    e.skipped = false;
  }

  private undo(e: Entry): void {
    if (e.skipped) return;
    const n = this.nodes.get(e.op.id);
    if (!n) return;
    n.exists = e.prev.exists;
    n.deleted = e.prev.deleted;
    n.parent = e.prev.parent;
    n.key = e.prev.key;
    if (!n.exists && n.payload === null) this.nodes.delete(e.op.id);
  }

  // cycle: would making parent the parent of id make id its own ancestor?
  private cycle(id: string, parent: string): boolean {
    let p = parent;
    for (let steps = 0; p !== ROOT && steps <= this.nodes.size; steps++) {
      if (p === id) return true;
      const n = this.nodes.get(p);
      if (!n || !n.exists) return false;
      p = n.parent;
    }
    return false;
  }

  /** live reports whether id is in the tree (the root, or reachable from it through nodes that
   * exist and are not deleted). */
  live(id: string): boolean {
    for (let steps = 0; id !== ROOT; steps++) {
      const n = this.nodes.get(id);
      if (!n || !n.exists || n.deleted || steps > this.nodes.size) return false;
      id = n.parent;
    }
    return true;
  }

  private liveSet(): Set<string> {
    const state = new Map<string, boolean>();
    for (const id of this.nodes.keys()) {
      const path: string[] = [];
      let q = id;
      let live = false;
      for (;;) {
        const known = state.get(q);
        if (known !== undefined) {
          live = known;
          break;
        }
        const n = this.nodes.get(q);
        if (!n || !n.exists || n.deleted || path.length > this.nodes.size) break;
        path.push(q);
        if (n.parent === ROOT) {
          live = true;
          break;
        }
        q = n.parent;
      }
      for (const p of path) state.set(p, live);
      if (!state.has(id)) state.set(id, false);
    }
    const out = new Set<string>();
    for (const [id, l] of state) if (l) out.add(id);
    return out;
  }

  /** children returns the ids of a live node's live children, ordered by (key, id). */
  children(id: string = ROOT): string[] {
    if (!this.live(id)) return [];
    const out: string[] = [];
    for (const [cid, n] of this.nodes) if (n.exists && !n.deleted && n.parent === id) out.push(cid);
    return out.sort((a, b) => cmpStr(this.nodes.get(a)!.key, this.nodes.get(b)!.key) || cmpStr(a, b));
  }

  /** tree returns the live nodes (the root included) by id, each with its ordered children. */
  tree(): Map<string, TreeNode> {
    const live = this.liveSet();
    const out = new Map<string, TreeNode>([[ROOT, { id: ROOT, parent: '', key: '', payload: undefined, children: [] }]]);
    for (const id of live) {
      const n = this.nodes.get(id)!;
      out.set(id, { id, parent: n.parent, key: n.key, payload: n.payload === null ? undefined : JSON.parse(n.payload), children: [] });
    }
    for (const id of live) out.get(this.nodes.get(id)!.parent)!.children.push(id);
    for (const n of out.values()) n.children.sort((a, b) => cmpStr(this.nodes.get(a)!.key, this.nodes.get(b)!.key) || cmpStr(a, b));
    return out;
  }

  /** payload returns a node's payload (undefined if none). */
  payload(id: string): unknown {
    const n = this.nodes.get(id);
    return n && n.payload !== null ? JSON.parse(n.payload) : undefined;
  }

  /** serialize returns the snapshot exactly as the server writes it. */
  serialize(): string {
    const live = this.liveSet();
    const ids = [...this.nodes.keys()].sort(cmpStr);
    const nodes = ids.map((id) => {
      const n = this.nodes.get(id)!;
      let s = `{"id":"${id}"`;
      if (n.exists) s += `,"parent":"${n.parent}","key":"${n.key}"${n.deleted ? ',"deleted":true' : ''}`;
      s += `,"live":${live.has(id)}`;
      if (n.payload !== null) s += `,"payload":${n.payload},"pts":${n.pts},"ppeer":"${n.ppeer}"`;
      return s + '}';
    });
    const log = this.log.map((e) => {
      let s = `{"op":${enc(e.op)}`;
      if (e.skipped) s += ',"skip":true';
      else if (e.prev.exists) s += `,"prev":{"parent":"${e.prev.parent}","key":"${e.prev.key}"${e.prev.deleted ? ',"deleted":true' : ''}}`;
      return s + '}';
    });
    const h = this.horizon ? `,"horizon":{"ts":${this.horizon.ts},"peer":"${this.horizon.peer}"}` : '';
    return `{"nodes":[${nodes.join(',')}],"log":[${log.join(',')}]${h}}`;
  }

  toJSON(): unknown {
    return JSON.parse(this.serialize());
  }

  /** TreeState.from loads a snapshot (the parsed JSON the server sends). */
  static from(snapshot: any): TreeState {
    const s = new TreeState();
    if (!Array.isArray(snapshot?.nodes) || !Array.isArray(snapshot?.log)) throw new Error('opstream: tree snapshot needs nodes and log');
    for (const n of snapshot.nodes) {
      const has = 'payload' in n;
      s.nodes.set(n.id, {
        exists: 'parent' in n,
        deleted: n.deleted === true,
        parent: n.parent ?? '',
        key: n.key ?? '',
        payload: has ? compact(n.payload) : null,
        pts: has ? n.pts : 0,
        ppeer: has ? n.ppeer : '',
      });
    }
    for (const e of snapshot.log) {
      const o = e.op;
      s.log.push({
        op: { op: o.op, id: o.id, parent: o.parent ?? '', key: o.key ?? '', ts: o.ts, peer: o.peer },
        skipped: e.skip === true,
        prev: e.prev ? { exists: true, deleted: e.prev.deleted === true, parent: e.prev.parent, key: e.prev.key } : NOPOS,
      });
    }
    if (snapshot.horizon) s.horizon = { ts: snapshot.horizon.ts, peer: snapshot.horizon.peer };
    return s;
  }
}

/** tree is the client-side implementation of the "tree" type. */
export const tree: OTType<TreeState, TreeOp> & { serialize(s: TreeState): string } = {
  name: 'tree',
  create: () => new TreeState(),
  deserializeSnapshot: (j) => TreeState.from(j),
  apply: (s, op) => s.apply(op),
  transform: (op) => op,
  serialize: (s) => s.serialize(),
};
