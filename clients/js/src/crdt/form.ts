// The "form" type: a flat map of fields, each a last-writer-wins register stamped (ts, peer);
// the same semantics and snapshot bytes as the server's engine (plugins/transforms/form).
import type { OTType } from '../types.js';
import { checkKeys, checkStamp, cmpStamp, cmpStr, fail, goJSON, sortStr, utf8Len, type Stamp } from './common.js';

/** FormOp sets and deletes fields under one stamp. */
export interface FormOp extends Stamp {
  set?: Record<string, unknown>;
  del?: string[];
}

interface Reg {
  v: string | null; // canonical JSON (as Go writes it); null for a tombstone
  ts: number;
  peer: string;
}

// less is the engine's total order: stamp, then a tombstone beats a value, then value bytes.
function less(a: Reg, b: Reg): boolean {
  const c = cmpStamp(a.ts, a.peer, b.ts, b.peer);
  if (c !== 0) return c < 0;
  if ((a.v === null) !== (b.v === null)) return b.v === null;
  return a.v !== null && cmpStr(a.v, b.v!) < 0;
}

/** FormState is a form document: JSON.stringify gives its snapshot, serialize() the exact bytes
 * the server has. */
export class FormState {
  readonly fields = new Map<string, Reg>();

  /** values returns the live fields (tombstones left out). */
  values(): Record<string, unknown> {
    const out: Record<string, unknown> = {};
    for (const k of sortStr([...this.fields.keys()])) {
      const r = this.fields.get(k)!;
      if (r.v !== null) Object.defineProperty(out, k, { value: JSON.parse(r.v), enumerable: true, writable: true, configurable: true });
    }
    return out;
  }

  /** get returns a field's value (undefined when unset or deleted). */
  get(field: string): unknown {
    const r = this.fields.get(field);
    return r && r.v !== null ? JSON.parse(r.v) : undefined;
  }

  /** maxTs is the highest ts in the document (to start a Lamport clock above it). */
  maxTs(): number {
    let m = 0;
    for (const r of this.fields.values()) m = Math.max(m, r.ts);
    return m;
  }

  private put(k: string, r: Reg): void {
    const old = this.fields.get(k);
    if (!old || less(old, r)) this.fields.set(k, r);
  }

  /** apply joins op into this document (in place) and returns it. */
  apply(op: FormOp): this {
    checkStamp(op);
    checkKeys(op as any, ['set', 'del', 'ts', 'peer']);
    const { set, del, ts, peer } = op;
    if (set === undefined && del === undefined) fail('op has neither set nor del');
    if (set !== undefined && (set === null || typeof set !== 'object' || Array.isArray(set))) fail('set must be an object');
    if (del !== undefined && !Array.isArray(del)) fail('del must be an array of field names');
    const checkName = (k: unknown) => {
      if (typeof k !== 'string' || k === '' || utf8Len(k) > 256) fail('field names are 1..256 bytes');
    };
    const sets: Array<[string, string]> = [];
    for (const k of Object.keys(set ?? {})) {
      checkName(k);
      sets.push([k, goJSON((set as any)[k])]);
    }
    for (const k of del ?? []) {
      checkName(k);
      if (set && Object.prototype.hasOwnProperty.call(set, k)) fail(`field "${k}" is both set and deleted`);
    }
    for (const [k, v] of sets) this.put(k, { v, ts, peer });
    for (const k of del ?? []) this.put(k, { v: null, ts, peer });
    return this;
  }

  /** serialize returns the snapshot exactly as the server writes it. */
  serialize(): string {
    const parts = sortStr([...this.fields.keys()]).map((k) => {
      const r = this.fields.get(k)!;
      return `${goJSON(k)}:{${r.v === null ? '"del":true' : `"v":${r.v}`},"ts":${r.ts},"peer":${goJSON(r.peer)}}`;
    });
    return `{"fields":{${parts.join(',')}}}`;
  }

  toJSON(): unknown {
    return JSON.parse(this.serialize());
  }

  /** FormState.from loads a snapshot (the parsed JSON the server sends). */
  static from(snapshot: any): FormState {
    const s = new FormState();
    const fields = snapshot?.fields;
    if (fields === null || typeof fields !== 'object') throw new Error('opstream: form snapshot: fields must be an object');
    for (const k of Object.keys(fields)) {
      const f = fields[k];
      s.fields.set(k, { v: 'v' in f ? goJSON(f.v) : null, ts: f.ts, peer: f.peer });
    }
    return s;
  }
}

/** form is the client-side implementation of the "form" type. Ops commute: transform is the
 * identity and there is no compose (each op keeps its own stamp). */
export const form: OTType<FormState, FormOp> & { serialize(s: FormState): string } = {
  name: 'form',
  create: () => new FormState(),
  deserializeSnapshot: (j) => FormState.from(j),
  apply: (s, op) => s.apply(op),
  transform: (op) => op,
  serialize: (s) => s.serialize(),
};
