// The "json" type: a JSON object edited by last-writer-wins sets and deletes at paths of object
// keys; the same semantics and snapshot bytes as the server's engine (plugins/transforms/jsoncrdt).
import type { OTType } from '../types.js';
import { checkKeys, checkStamp, cmpStamp, cmpStr, fail, goJSON, goSorted, utf8Len, type Stamp } from './common.js';

/** JSONOp sets a value at a path, or deletes the key at a path. */
export type JSONOp = Stamp & ({ set: [string[], unknown]; del?: undefined } | { del: string[]; set?: undefined });

interface Reg {
  path: string[];
  key: string; // the path as Go writes it: the register's identity and last tie-break
  v: string | null; // canonical JSON; null for a delete
  ts: number;
  peer: string;
}

// less is the engine's total order: stamp, a delete beats a set, value bytes, path bytes.
function less(a: Reg, b: Reg): boolean {
  const c = cmpStamp(a.ts, a.peer, b.ts, b.peer);
  if (c !== 0) return c < 0;
  if ((a.v === null) !== (b.v === null)) return b.v === null;
  const d = cmpStr(a.v ?? '', b.v ?? '');
  if (d !== 0) return d < 0;
  return cmpStr(a.key, b.key) < 0;
}

function cmpPath(a: string[], b: string[]): number {
  for (let i = 0; i < a.length && i < b.length; i++) {
    const c = cmpStr(a[i], b[i]);
    if (c !== 0) return c;
  }
  return a.length - b.length;
}

function checkPath(p: unknown): string[] {
  if (!Array.isArray(p) || p.some((k) => typeof k !== 'string')) fail('path must be an array of strings');
  if (p.length === 0) fail('empty path: the root is always an object');
  if (p.length > 32) fail('path deeper than 32');
  if (p.some((k) => utf8Len(k) > 256)) fail('key longer than 256 bytes');
  return p as string[];
}

type Node = Map<string, unknown>;

// toNode turns a decoded value into the materialized form: objects become Maps (so later sets
// can merge into them whatever their keys), everything else stays as is.
function toNode(v: unknown): unknown {
  if (v === null || typeof v !== 'object' || Array.isArray(v)) return v;
  const m: Node = new Map();
  for (const k of Object.keys(v)) m.set(k, toNode((v as any)[k]));
  return m;
}

/** JSONState is a json document. */
export class JSONState {
  readonly registers = new Map<string, Reg>();
  private cache: string | null = null;

  /** maxTs is the highest ts in the document (to start a Lamport clock above it). */
  maxTs(): number {
    let m = 0;
    for (const r of this.registers.values()) m = Math.max(m, r.ts);
    return m;
  }

  /** apply joins op into this document (in place) and returns it. */
  apply(op: JSONOp): this {
    checkStamp(op);
    checkKeys(op as any, ['set', 'del', 'ts', 'peer']);
    let r: Reg;
    if (op.set !== undefined && op.del === undefined) {
      if (!Array.isArray(op.set) || op.set.length !== 2) fail('set must be [path, value]');
      const path = checkPath(op.set[0]);
      r = { path, key: goJSON(path), v: goJSON(op.set[1]), ts: op.ts, peer: op.peer };
    } else if (op.del !== undefined && op.set === undefined) {
      const path = checkPath(op.del);
      r = { path, key: goJSON(path), v: null, ts: op.ts, peer: op.peer };
    } else fail('op needs exactly one of set and del');
    const old = this.registers.get(r.key);
    if (!old || less(old, r)) {
      this.registers.set(r.key, r);
      this.cache = null;
    }
    return this;
  }

  /** materialize replays the registers oldest first (see the engine's README). */
  private materialize(): Node {
    const regs = [...this.registers.values()].sort((a, b) => (less(a, b) ? -1 : less(b, a) ? 1 : 0));
    const root: Node = new Map();
    for (const r of regs) {
      let m: Node | null = root;
      const last = r.path.length - 1;
      for (let i = 0; i < last; i++) {
        let next: unknown = m.get(r.path[i]);
        if (!(next instanceof Map)) {
          if (r.v === null) {
            m = null;
            break;
          }
          next = new Map();
          m.set(r.path[i], next);
        }
        m = next as Node;
      }
      if (m === null) continue;
      if (r.v === null) m.delete(r.path[last]);
      else m.set(r.path[last], toNode(JSON.parse(r.v)));
    }
    return root;
  }

  /** valueJSON is the materialized value as the server writes it (keys sorted). */
  valueJSON(): string {
    if (this.cache === null) this.cache = goSorted(this.materialize());
    return this.cache;
  }

  /** value returns the materialized JSON object. */
  value(): Record<string, unknown> {
    return JSON.parse(this.valueJSON());
  }

  /** serialize returns the snapshot exactly as the server writes it. */
  serialize(): string {
    const regs = [...this.registers.values()].sort((a, b) => cmpPath(a.path, b.path));
    const parts = regs.map((r) => `{"path":${r.key},${r.v === null ? '"del":true' : `"v":${r.v}`},"ts":${r.ts},"peer":${goJSON(r.peer)}}`);
    return `{"registers":[${parts.join(',')}],"value":${this.valueJSON()}}`;
  }

  toJSON(): unknown {
    return JSON.parse(this.serialize());
  }

  /** JSONState.from loads a snapshot (the parsed JSON the server sends). */
  static from(snapshot: any): JSONState {
    const s = new JSONState();
    const regs = snapshot?.registers;
    if (!Array.isArray(regs)) throw new Error('opstream: json snapshot: registers must be an array');
    for (const f of regs) {
      const key = goJSON(f.path);
      s.registers.set(key, { path: f.path, key, v: 'v' in f ? goJSON(f.v) : null, ts: f.ts, peer: f.peer });
    }
    return s;
  }
}

/** json is the client-side implementation of the "json" CRDT type (not json0). */
export const json: OTType<JSONState, JSONOp> & { serialize(s: JSONState): string } = {
  name: 'json',
  create: () => new JSONState(),
  deserializeSnapshot: (j) => JSONState.from(j),
  apply: (s, op) => s.apply(op),
  transform: (op) => op,
  serialize: (s) => s.serialize(),
};
