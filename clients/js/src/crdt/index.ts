// The CRDT document types (form, json, tree, table): ops carry a stamp (ts, peer) and commute,
// so the client applies its own ops at once and everyone else's as they arrive, without
// transforming; the snapshots are byte-for-byte those of the server's engines (tested on
// shared vectors generated from the Go engines, clients/js/vectors).
import type { Doc } from '../doc.js';
import type { Stamp } from './common.js';

export { form, FormState } from './form.js';
export type { FormOp } from './form.js';
export { json, JSONState } from './json.js';
export type { JSONOp } from './json.js';
export { tree, TreeState, ROOT, MAX_LOG } from './tree.js';
export type { TreeOp, TreeNode } from './tree.js';
export { table, TableState } from './table.js';
export type { TableOp } from './table.js';
export { cmpStr } from './common.js';
export type { Stamp } from './common.js';

/**
 * Clock is a Lamport clock for CRDT stamps: next() is above every ts observed, so an op sorts
 * after everything its author had seen (what the tree type needs for creates before moves).
 */
export class Clock {
  ts = 0;
  constructor(readonly peer: string) {}
  /** observe moves the clock past ts. */
  observe(ts: number): void {
    if (ts > this.ts) this.ts = ts;
  }
  /** next returns a fresh stamp {ts, peer}. */
  next(): Stamp {
    return { ts: ++this.ts, peer: this.peer };
  }
}

/**
 * clockFor returns a Clock that follows an open CRDT document: it starts above every stamp in
 * the snapshot and observes every op applied (local or remote) and every reload.
 *
 *   const clock = clockFor(doc);
 *   doc.submit({ set: { title: 'Hi' }, ...clock.next() });
 */
export function clockFor(doc: Doc<any, any>, peer: string = doc.clientId): Clock {
  const c = new Clock(peer);
  const sync = () => c.observe(doc.snapshot?.maxTs?.() ?? 0);
  sync();
  doc.on('change', ({ op }) => c.observe(op?.ts ?? 0));
  doc.on('reload', sync);
  doc.on('joined', sync);
  return c;
}
