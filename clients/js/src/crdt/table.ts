// The "table" type: rows and columns with ordering keys (last writer wins, permanent
// tombstones) and last-writer-wins cells; the same semantics and snapshot bytes as the server's
// engine (plugins/transforms/table).
import type { OTType } from '../types.js';
import { checkKeys, checkStamp, cmpStamp, cmpStr, compact, fail, plain, type Stamp } from './common.js';

/** TableOp inserts (or moves), deletes a row or column, or sets a cell. */
export type TableOp = Stamp &
  (
    | { op: 'insert_row' | 'insert_column'; id: string; key: string }
    | { op: 'delete_row' | 'delete_column'; id: string }
    | { op: 'set_cell'; row: string; col: string; value: unknown }
  );

interface Axis {
  inserted: boolean;
  deleted: boolean;
  key: string;
  ts: number;
  peer: string;
}

interface Cell {
  v: string; // compact JSON
  ts: number;
  peer: string;
}

function newer(ts: number, peer: string, v: string, ots: number, opeer: string, ov: string): boolean {
  const c = cmpStamp(ts, peer, ots, opeer);
  return c !== 0 ? c > 0 : cmpStr(v, ov) > 0;
}

const FIELDS: Record<string, string[]> = {
  insert_row: ['id', 'key'],
  insert_column: ['id', 'key'],
  delete_row: ['id'],
  delete_column: ['id'],
  set_cell: ['row', 'col', 'value'],
};

/** TableState is a table document. */
export class TableState {
  readonly rows = new Map<string, Axis>();
  readonly cols = new Map<string, Axis>();
  readonly cells = new Map<string, Map<string, Cell>>();

  /** maxTs is the highest ts in the document (to start a Lamport clock above it). */
  maxTs(): number {
    let m = 0;
    for (const a of this.rows.values()) m = Math.max(m, a.ts);
    for (const a of this.cols.values()) m = Math.max(m, a.ts);
    for (const r of this.cells.values()) for (const c of r.values()) m = Math.max(m, c.ts);
    return m;
  }

  /** apply joins op into this document (in place) and returns it. */
  apply(op: TableOp): this {
    checkStamp(op);
    plain(op.peer, 'peer', 128);
    const want = FIELDS[(op as any).op];
    if (!want) fail('op must be one of insert_row, insert_column, delete_row, delete_column, set_cell');
    checkKeys(op as any, ['op', 'ts', 'peer', ...want]);
    for (const f of want) if ((op as any)[f] === undefined) fail(`${op.op} needs ${f}`);
    if (op.op !== 'set_cell') {
      const id = plain(op.id, 'id');
      const axes = op.op === 'insert_row' || op.op === 'delete_row' ? this.rows : this.cols;
      let a = axes.get(id);
      if (!a) axes.set(id, (a = { inserted: false, deleted: false, key: '', ts: 0, peer: '' }));
      if (a.deleted) return this;
      if (op.op === 'insert_row' || op.op === 'insert_column') {
        const key = plain(op.key, 'key');
        if (!a.inserted || newer(op.ts, op.peer, key, a.ts, a.peer, a.key)) Object.assign(a, { inserted: true, key, ts: op.ts, peer: op.peer });
        return this;
      }
      Object.assign(a, { inserted: false, deleted: true, key: '', ts: 0, peer: '' });
      if (op.op === 'delete_row') this.cells.delete(id);
      else {
        for (const [row, cs] of this.cells) {
          cs.delete(id);
          if (cs.size === 0) this.cells.delete(row);
        }
      }
      return this;
    }
    const row = plain(op.row, 'row');
    const col = plain(op.col, 'col');
    const v = compact(op.value);
    const r = this.rows.get(row);
    const c = this.cols.get(col);
    if (r?.deleted || c?.deleted) return this; // the row or column is gone, with its cells
    const old = this.cells.get(row)?.get(col);
    if (old && !newer(op.ts, op.peer, v, old.ts, old.peer, old.v)) return this;
    if (!r) this.rows.set(row, { inserted: false, deleted: false, key: '', ts: 0, peer: '' });
    if (!c) this.cols.set(col, { inserted: false, deleted: false, key: '', ts: 0, peer: '' });
    let cs = this.cells.get(row);
    if (!cs) this.cells.set(row, (cs = new Map()));
    cs.set(col, { v, ts: op.ts, peer: op.peer });
    return this;
  }

  private ordered(axes: Map<string, Axis>): string[] {
    const ids: string[] = [];
    for (const [id, a] of axes) if (a.inserted) ids.push(id);
    return ids.sort((a, b) => cmpStr(axes.get(a)!.key, axes.get(b)!.key) || cmpStr(a, b));
  }

  /** rowIds and columnIds are the shown rows and columns in display order. */
  rowIds(): string[] {
    return this.ordered(this.rows);
  }
  columnIds(): string[] {
    return this.ordered(this.cols);
  }

  /** cell returns a shown cell's value (undefined when unset or not shown). */
  cell(row: string, col: string): unknown {
    if (!this.rows.get(row)?.inserted || !this.cols.get(col)?.inserted) return undefined;
    const c = this.cells.get(row)?.get(col);
    return c ? JSON.parse(c.v) : undefined;
  }

  /** grid returns the shown table: rows × columns of values (undefined: unset). */
  grid(): unknown[][] {
    const cols = this.columnIds();
    return this.rowIds().map((r) => cols.map((c) => this.cell(r, c)));
  }

  /** serialize returns the snapshot exactly as the server writes it. */
  serialize(): string {
    const axes = (m: Map<string, Axis>) =>
      '[' + this.ordered(m).map((id) => {
        const a = m.get(id)!;
        return `{"id":"${id}","key":"${a.key}","ts":${a.ts},"peer":"${a.peer}"}`;
      }).join(',') + ']';
    const tomb = (m: Map<string, Axis>) => '[' + [...m.keys()].filter((id) => m.get(id)!.deleted).sort(cmpStr).map((id) => `"${id}"`).join(',') + ']';
    const cells: string[] = [];
    for (const row of [...this.cells.keys()].sort(cmpStr)) {
      const cs = this.cells.get(row)!;
      for (const col of [...cs.keys()].sort(cmpStr)) {
        const c = cs.get(col)!;
        cells.push(`{"row":"${row}","col":"${col}","v":${c.v},"ts":${c.ts},"peer":"${c.peer}"}`);
      }
    }
    return `{"rows":${axes(this.rows)},"columns":${axes(this.cols)},"deletedRows":${tomb(this.rows)},"deletedColumns":${tomb(this.cols)},"cells":[${cells.join(',')}]}`;
  }

  toJSON(): unknown {
    return JSON.parse(this.serialize());
  }

  /** TableState.from loads a snapshot (the parsed JSON the server sends). */
  static from(snapshot: any): TableState {
    const s = new TableState();
    const load = (m: Map<string, Axis>, shown: any[], deleted: any[]) => {
      for (const a of shown) m.set(a.id, { inserted: true, deleted: false, key: a.key, ts: a.ts, peer: a.peer });
      for (const id of deleted) m.set(id, { inserted: false, deleted: true, key: '', ts: 0, peer: '' });
    };
    load(s.rows, snapshot.rows, snapshot.deletedRows);
    load(s.cols, snapshot.columns, snapshot.deletedColumns);
    for (const c of snapshot.cells) {
      for (const [m, id] of [[s.rows, c.row], [s.cols, c.col]] as const) {
        if (!m.has(id)) m.set(id, { inserted: false, deleted: false, key: '', ts: 0, peer: '' });
      }
      let cs = s.cells.get(c.row);
      if (!cs) s.cells.set(c.row, (cs = new Map()));
      cs.set(c.col, { v: compact(c.v), ts: c.ts, peer: c.peer });
    }
    return s;
  }
}

/** table is the client-side implementation of the "table" type. */
export const table: OTType<TableState, TableOp> & { serialize(s: TableState): string } = {
  name: 'table',
  create: () => new TableState(),
  deserializeSnapshot: (j) => TableState.from(j),
  apply: (s, op) => s.apply(op),
  transform: (op) => op,
  serialize: (s) => s.serialize(),
};
