// The client's CRDT types (form, json, tree, table) against the server's Go engines on shared
// vectors (clients/js/vectors/*.json, written by `go run ./clients/js/vectors/gen`): every
// history is replayed in each recorded arrival order (duplicates included, with a reload from
// the recorded snapshot midway where the engine was reloaded), and the snapshot must be
// byte-identical to the engine's.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { createHash } from 'node:crypto';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { getType, Clock, TreeState } from '../dist/index.js';
import { cmpStr } from '../dist/crdt/index.js';

const here = dirname(fileURLToPath(import.meta.url));
const load = (name) => JSON.parse(readFileSync(join(here, '../vectors', `${name}.json`), 'utf8'));

for (const name of ['form', 'json', 'tree', 'table']) {
  test(`${name}: the TypeScript type matches the Go engine on the shared vectors`, { timeout: 120000 }, () => {
    const v = load(name);
    const t = getType(name);
    assert.equal(v.engine, name);
    assert.equal(t.serialize(t.create()), v.empty, 'empty snapshot');
    assert.ok(v.cases.length >= 500, `only ${v.cases.length} cases`);
    let replays = 0;
    let applied = 0;
    for (const [ci, c] of v.cases.entries()) {
      for (const [di, d] of c.deliveries.entries()) {
        const where = `${name} case ${ci} delivery ${di}`;
        let s = t.create();
        for (const [i, k] of d.order.entries()) {
          if (d.reload && i === d.reload) {
            assert.equal(t.serialize(s), d.midSnapshot, `${where}: snapshot after ${i} ops`);
            s = t.deserializeSnapshot(JSON.parse(d.midSnapshot));
            assert.equal(t.serialize(s), d.midSnapshot, `${where}: snapshot reloaded`);
          }
          s = t.apply(s, c.ops[k]);
          applied++;
        }
        const got = t.serialize(s);
        if (c.snapshot !== undefined) {
          assert.equal(got, c.snapshot, `${where}: final snapshot\nops: ${JSON.stringify(c.ops)}\norder: ${d.order}`);
        } else {
          assert.equal(Buffer.byteLength(got), c.snapshotLen, `${where}: snapshot length`);
          assert.equal(createHash('sha256').update(got).digest('hex'), c.snapshotSha256, `${where}: snapshot hash`);
        }
        // A reload of the final snapshot writes it back unchanged.
        assert.equal(t.serialize(t.deserializeSnapshot(JSON.parse(got))), got, `${where}: reload of the final snapshot`);
        replays++;
      }
    }
    console.log(`${name}: ${v.cases.length} cases, ${replays} replays, ${applied} ops applied`);
  });
}

test('the tree vectors include a history longer than the log (the horizon)', () => {
  const v = load('tree');
  const long = v.cases.find((c) => c.snapshotSha256);
  assert.ok(long && long.ops.length > 5000);
  const t = getType('tree');
  let s = t.create();
  for (const k of long.deliveries[0].order) s = t.apply(s, long.ops[k]);
  assert.ok(s.horizon, 'the log folded');
  assert.equal(s.log.length, 5000);
  // An op at or before the horizon is refused, as the server refuses it.
  assert.throws(() => s.apply({ op: 'move', id: 'n1', parent: 'root', key: 'a', ts: s.horizon.ts, peer: s.horizon.peer }), /horizon/);
});

test('strings order as Go orders them (UTF-8 bytes), not as UTF-16', () => {
  assert.ok(cmpStr('\uffff', '😀') < 0); // U+FFFF < U+1F600, though 0xFFFF > 0xD83D
  assert.ok(cmpStr('a', 'ab') < 0);
  assert.ok(cmpStr('Z', 'a') < 0);
  assert.equal(cmpStr('é', 'é'), 0);
  const t = getType('form');
  const s = t.create();
  t.apply(s, { set: { '\uffff': 1, '😀': 2, 'é': 3 }, ts: 1, peer: 'p' });
  assert.equal(t.serialize(s), '{"fields":{"é":{"v":3,"ts":1,"peer":"p"},"\uffff":{"v":1,"ts":1,"peer":"p"},"😀":{"v":2,"ts":1,"peer":"p"}}}');
});

test('malformed CRDT ops are refused before they touch the state', () => {
  const bad = {
    form: [{ set: { a: 1 } }, { set: { a: 1 }, del: ['a'], ts: 1, peer: 'p' }, { ts: 1, peer: 'p' }, { set: { '': 1 }, ts: 1, peer: 'p' }, { set: {}, x: 1, ts: 1, peer: 'p' }],
    json: [{ set: [[], 1], ts: 1, peer: 'p' }, { set: [['a']], ts: 1, peer: 'p' }, { del: ['a'], set: [['a'], 1], ts: 1, peer: 'p' }, { del: 'a', ts: 1, peer: 'p' }, { del: ['a'], ts: -1, peer: 'p' }],
    tree: [{ op: 'move', id: 'a', parent: 'a', key: 'k', ts: 1, peer: 'p' }, { op: 'create', id: 'root', parent: 'x', key: 'k', ts: 1, peer: 'p' }, { op: 'delete', id: 'a', key: 'k', ts: 1, peer: 'p' }, { op: 'update', id: 'a', ts: 1, peer: 'p' }, { op: 'create', id: 'a"b', parent: 'root', key: 'k', ts: 1, peer: 'p' }],
    table: [{ op: 'set_cell', row: 'r', col: 'c', ts: 1, peer: 'p' }, { op: 'insert_row', id: 'r', ts: 1, peer: 'p' }, { op: 'delete_row', id: 'r', key: 'k', ts: 1, peer: 'p' }, { op: 'nope', id: 'r', ts: 1, peer: 'p' }],
  };
  for (const [name, ops] of Object.entries(bad)) {
    const t = getType(name);
    const s = t.create();
    const before = t.serialize(s);
    for (const op of ops) assert.throws(() => t.apply(s, op), /invalid op/, `${name}: ${JSON.stringify(op)}`);
    assert.equal(t.serialize(s), before, name);
  }
});

test('Clock stamps above everything observed; the views read the state', () => {
  const c = new Clock('ann');
  c.observe(41);
  assert.deepEqual(c.next(), { ts: 42, peer: 'ann' });
  const tr = new TreeState();
  tr.apply({ op: 'create', id: 'a', parent: 'root', key: 'b', payload: { t: 'A' }, ...c.next() });
  tr.apply({ op: 'create', id: 'b', parent: 'root', key: 'a', ...c.next() });
  tr.apply({ op: 'create', id: 'c', parent: 'a', key: 'a', ...c.next() });
  assert.deepEqual(tr.children(), ['b', 'a']);
  assert.deepEqual(tr.tree().get('a').children, ['c']);
  assert.deepEqual(tr.payload('a'), { t: 'A' });
  tr.apply({ op: 'delete', id: 'a', ...c.next() });
  assert.deepEqual(tr.children(), ['b']);
  assert.equal(tr.live('c'), false);
  assert.equal(tr.maxTs(), 46);
  const tb = getType('table').create();
  tb.apply({ op: 'insert_row', id: 'r1', key: 'a', ts: 1, peer: 'p' });
  tb.apply({ op: 'insert_column', id: 'c1', key: 'a', ts: 1, peer: 'p' });
  tb.apply({ op: 'set_cell', row: 'r1', col: 'c1', value: 'x', ts: 2, peer: 'p' });
  assert.deepEqual(tb.grid(), [['x']]);
  const js = getType('json').create();
  js.apply({ set: [['a', 'b'], 1], ts: 1, peer: 'p' });
  js.apply({ set: [['a', 'c'], [2]], ts: 2, peer: 'p' });
  assert.deepEqual(js.value(), { a: { b: 1, c: [2] } });
  const fm = getType('form').create();
  fm.apply({ set: { a: 1, b: 2 }, ts: 1, peer: 'p' });
  fm.apply({ del: ['a'], ts: 2, peer: 'p' });
  assert.deepEqual(fm.values(), { b: 2 });
});

test('the vectors cover the hard cases', () => {
  const count = (name, f) => load(name).cases.filter(f).length;
  const snap = (c) => c.snapshot ?? '';
  const reused = (c) => new Set(c.ops.map((o) => `${o.ts}/${o.peer}`)).size < c.ops.length;
  const reloads = (c) => c.deliveries.some((d) => d.reload);
  const dups = (c) => c.deliveries.some((d) => d.order.length > c.ops.length);
  const stale = (c) => c.ops.some((o, i) => i > 0 && o.ts < c.ops[i - 1].ts);
  for (const name of ['form', 'json', 'tree', 'table']) {
    assert.ok(count(name, reused) >= 100, `${name}: reused stamps`);
    assert.ok(count(name, reloads) >= 100, `${name}: reloads midway`);
    assert.ok(count(name, dups) >= 300, `${name}: duplicate deliveries`);
    assert.ok(count(name, stale) >= 300, `${name}: stale stamps`);
    assert.ok(count(name, (c) => new Set(c.ops.map((o) => o.peer)).size >= 3) >= 200, `${name}: 3+ peers`);
  }
  assert.ok(count('form', (c) => snap(c).includes('"del":true')) >= 300, 'form tombstones');
  assert.ok(count('json', (c) => c.ops.some((o) => o.del) && c.ops.some((o) => o.set?.[0].length > 1)) >= 300, 'json: deletes and nested sets');
  assert.ok(count('table', (c) => !snap(c).includes('"deletedRows":[]') && c.ops.some((o) => o.op === 'set_cell')) >= 100, 'table: deleted rows with cell edits');
  assert.ok(count('table', (c) => !snap(c).includes('"deletedColumns":[]')) >= 50, 'table: deleted columns');
  assert.ok(count('tree', (c) => snap(c).includes('"deleted":true') && snap(c).includes('"live":false')) >= 100, 'tree: deleted subtrees');
  // Moves that would make a cycle: count the histories where the cycle check fired.
  const cycle = TreeState.prototype.cycle;
  let hit = false;
  TreeState.prototype.cycle = function (id, parent) {
    const r = cycle.call(this, id, parent);
    hit ||= r;
    return r;
  };
  try {
    const t = getType('tree');
    const cycles = count('tree', (c) => {
      hit = false;
      let s = t.create();
      for (const k of c.deliveries[0].order) s = t.apply(s, c.ops[k]);
      return hit;
    });
    assert.ok(cycles >= 100, `tree: only ${cycles} histories with a move that would make a cycle`);
  } finally {
    TreeState.prototype.cycle = cycle;
  }
});
