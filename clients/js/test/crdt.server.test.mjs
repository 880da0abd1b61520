// The CRDT types (form, json, tree, table) through the client against the real server: four
// Node clients make random concurrent edits (with dropped connections and lost acks), and must
// end with byte-identical snapshots, equal to GET /v1/docs/{id}'s, with every op applied once.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import WebSocket from 'ws';
import { connect, clockFor, getType, registerType, ROOT } from '../dist/index.js';
import { startServer } from './server.mjs';

let server;
before(async () => {
  server = await startServer();
});
after(async () => {
  await server?.stop();
});

const seed = Number(process.env.SEED ?? Date.now() % 100000);
function rng(s) {
  return () => {
    s = (s * 1103515245 + 12345) & 0x7fffffff;
    return s / 0x7fffffff;
  };
}
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/** A WebSocket whose incoming acks can be dropped, to lose acks on purpose. */
class LossyWS extends WebSocket {
  constructor(url) {
    super(url);
    const orig = Object.getOwnPropertyDescriptor(WebSocket.prototype, 'onmessage');
    let handler = null;
    orig.set.call(this, (ev) => {
      if (this.dropAcks) {
        const msgs = [].concat(JSON.parse(ev.data.toString()));
        const kept = msgs.filter((m) => m.type !== 'ack');
        if (!kept.length) return;
        ev = { data: JSON.stringify(kept) };
      }
      handler?.(ev);
    });
    Object.defineProperty(this, 'onmessage', { get: () => handler, set: (f) => (handler = f) });
  }
}

/** Go's encoder (GET's body) escapes <, > and & in strings; the engines' bytes are otherwise kept. */
const htmlEscape = (s) => s.replace(/[<>&\u2028\u2029]/g, (c) => '\\u' + c.charCodeAt(0).toString(16).padStart(4, '0'));

/** rawSnapshot cuts the snapshot's bytes out of GET /v1/docs/{id}'s body ({id, revision, snapshot, type}). */
function rawSnapshot(body) {
  const m = /^\{"id":.*?,"revision":\d+,"snapshot":(.*),"type":"[^"]*"\}\s*$/s.exec(body);
  if (!m) throw new Error(`unexpected GET body: ${body.slice(0, 200)}`);
  return m[1];
}

async function waitConverged(docs, id) {
  for (let i = 0; i < 300; i++) {
    await Promise.all(docs.map((d) => d.whenSynced()));
    const srv = await server.getDoc(id);
    if (docs.every((d) => d.revision === srv.revision && !d.hasPending)) return srv;
    await sleep(50);
  }
  throw new Error(`no convergence: revisions ${docs.map((d) => d.revision)} pending ${docs.map((d) => d.hasPending)}`);
}

const pick = (r, a) => a[Math.floor(r() * a.length)];
const values = [0, 1, -7, 2.5, 'x', 'é😀', '<a&b>', '\u2028', null, true, [], [1, 'two'], { b: 1, a: [2] }, { '<k>': 'v' }];

// Each editor makes one random op for a client (its clock stamps it; made counts its new ids).
const editors = {
  form(r, doc, clock) {
    const fields = ['title', 'done', 'é', '<f>', 'n'];
    if (r() < 0.25) return { del: [pick(r, fields)], ...clock.next() };
    const set = {};
    for (let k = 1 + Math.floor(r() * 2); k > 0; k--) set[pick(r, fields)] = pick(r, values);
    return { set, ...clock.next() };
  },
  json(r, doc, clock) {
    const path = [];
    for (let k = 1 + Math.floor(r() * 3); k > 0; k--) path.push(pick(r, ['a', 'b', 'é', '<k>']));
    if (r() < 0.2) return { del: path, ...clock.next() };
    return { set: [path, pick(r, values)], ...clock.next() };
  },
  tree(r, doc, clock, me) {
    const s = doc.snapshot;
    const ids = [...s.nodes.keys()];
    const live = ids.filter((id) => s.live(id));
    const k = r();
    if (ids.length < 3 || k < 0.3) {
      me.made = (me.made ?? 0) + 1;
      const op = { op: 'create', id: `${me.name}<${me.made}>`, parent: pick(r, [ROOT, ...live]), key: pick(r, ['a', 'b', 'c', 'a5']), ...clock.next() };
      if (r() < 0.5) op.payload = pick(r, values);
      return op;
    }
    const id = pick(r, ids);
    if (k < 0.7) {
      // Moves into any live node, so concurrent moves make cycles that must be skipped.
      const parent = pick(r, [ROOT, ...live.filter((p) => p !== id)]);
      return { op: 'move', id, parent, key: pick(r, ['a', 'b', 'c', 'a5']), ...clock.next() };
    }
    if (k < 0.8) return { op: 'delete', id, ...clock.next() };
    return { op: 'update', id, payload: pick(r, values), ...clock.next() };
  },
  table(r, doc, clock, me) {
    const s = doc.snapshot;
    const rows = [...s.rows.keys()];
    const cols = [...s.cols.keys()];
    const k = r();
    me.made = (me.made ?? 0) + 1;
    if (rows.length < 2 || k < 0.15) return { op: 'insert_row', id: `${me.name}-r${me.made}`, key: pick(r, ['a', 'b', 'c']), ...clock.next() };
    if (cols.length < 2 || k < 0.22) return { op: 'insert_column', id: `${me.name}-c<${me.made}>`, key: pick(r, ['a', 'b', 'c']), ...clock.next() };
    if (k < 0.27) return { op: 'insert_row', id: pick(r, rows), key: pick(r, ['a', 'b', 'c']), ...clock.next() }; // a move
    if (k < 0.32) return { op: 'delete_row', id: pick(r, rows), ...clock.next() };
    if (k < 0.34) return { op: 'delete_column', id: pick(r, cols), ...clock.next() };
    return { op: 'set_cell', row: pick(r, rows), col: pick(r, cols), value: pick(r, values), ...clock.next() };
  },
};

for (const type of ['form', 'json', 'tree', 'table']) {
  test(`random concurrent ${type} edits through the client converge with each other and GET /v1/docs/{id}`, { timeout: 120000 }, async () => {
    const r = rng(seed + type.length * 7919);
    const id = `crdt-${type}-${seed}`;
    const conns = [0, 1, 2, 3].map(() => connect(server.url, { WebSocket: LossyWS, minBackoff: 20, maxBackoff: 200 }));
    const docs = await Promise.all(conns.map((c) => c.openDocument(id, type)));
    const clocks = docs.map((d, i) => clockFor(d, `p${i}`));
    const me = docs.map((_, i) => ({ name: `p${i}` }));
    let submits = 0;
    let disconnects = 0;
    for (let round = 0; round < 30; round++) {
      for (let i = 0; i < docs.length; i++) {
        for (let k = Math.floor(r() * 3); k > 0; k--) {
          docs[i].submit(editors[type](r, docs[i], clocks[i], me[i]));
          submits++;
        }
        if (r() < 0.04) {
          const ws = conns[i].ws;
          if (ws && r() < 0.5) ws.dropAcks = true;
          setTimeout(() => conns[i].reconnect(), Math.floor(r() * 30));
          disconnects++;
        }
      }
      await sleep(Math.floor(r() * 15));
    }
    const srv = await waitConverged(docs, id);
    const t = getType(type);
    const want = rawSnapshot(await server.getDocRaw(id));
    for (const d of docs) {
      assert.equal(htmlEscape(t.serialize(d.snapshot)), want, `seed ${seed}: client ${d.clientId} diverged from the server`);
    }
    // The server's snapshot, loaded and written back by the client type, is the same bytes.
    assert.equal(htmlEscape(t.serialize(t.deserializeSnapshot(srv.snapshot))), want);
    // Every submit is one op on the server (CRDT ops are not composed), none applied twice.
    const { ops } = await (await fetch(`${server.url}/v1/docs/${id}/ops`)).json();
    assert.equal(ops.length, srv.revision);
    assert.equal(ops.length, submits, `${disconnects} disconnects`);
    assert.equal(new Set(ops.map((o) => `${o.clientId}/${o.seq}`)).size, ops.length);
    // The document is not trivial.
    assert.ok(want.length > 100, want);
    for (const c of conns) c.close();
  });
}

test('a CRDT doc keeps buffered ops apart and sends them in order; a late client loads the snapshot', { timeout: 60000 }, async () => {
  const id = `crdt-queue-${seed}`;
  const c1 = connect(server.url, { WebSocket });
  const d1 = await c1.openDocument(id, 'tree');
  const clock = clockFor(d1, 'ann');
  // Ops whose stamps would be lost if they were merged: a create and a move of the node it made.
  d1.submit({ op: 'create', id: 'a', parent: ROOT, key: 'a', payload: { t: 1 }, ...clock.next() });
  d1.submit({ op: 'create', id: 'b', parent: ROOT, key: 'b', ...clock.next() });
  d1.submit({ op: 'move', id: 'b', parent: 'a', key: 'a', ...clock.next() });
  d1.submit({ op: 'move', id: 'a', parent: 'b', key: 'a', ...clock.next() }); // a cycle: skipped
  assert.deepEqual(d1.snapshot.children(), ['a']);
  await d1.whenSynced();
  const { ops } = await (await fetch(`${server.url}/v1/docs/${id}/ops`)).json();
  assert.deepEqual(ops.map((o) => o.seq), [1, 2, 3, 4]);
  const c2 = connect(server.url, { WebSocket });
  const d2 = await c2.openDocument(id, 'tree');
  assert.deepEqual(d2.snapshot.children(), ['a']);
  assert.deepEqual(d2.snapshot.children('a'), ['b']);
  assert.equal(d2.snapshot.serialize(), d1.snapshot.serialize());
  // The late client's clock starts above every stamp in the snapshot.
  assert.equal(clockFor(d2, 'bob').next().ts, 5);
  c1.close();
  c2.close();
});

test('a server op the local state cannot apply makes the client reload the server snapshot', { timeout: 60000 }, async () => {
  // A client-side "counter" type (the server's counter.wasm engine) that fails on one op, as a
  // diverged CRDT state would (e.g. a tree op older than a horizon only this client has).
  let failOn = null;
  registerType({
    name: 'counter',
    create: () => 0,
    apply: (s, op) => {
      if (op.add === failOn) throw new Error('cannot apply');
      return s + op.add;
    },
    transform: (op) => op,
  });
  const id = `counter-${seed}`;
  const c1 = connect(server.url, { WebSocket });
  const c2 = connect(server.url, { WebSocket });
  try {
    const d1 = await c1.openDocument(id, 'counter');
    const d2 = await c2.openDocument(id, 'counter');
    d1.submit({ add: 2 });
    await d1.whenSynced();
    for (let i = 0; i < 100 && d2.snapshot !== 2; i++) await sleep(20);
    assert.equal(d2.snapshot, 2);
    const reloaded = new Promise((res) => d2.on('reload', res));
    d1.submit({ add: 13 }); // applied locally by d1 at once
    failOn = 13; // d2 will fail to apply it when it arrives
    const ev = await Promise.race([reloaded, sleep(10000).then(() => assert.fail('no reload event'))]);
    failOn = null;
    assert.equal(ev.reason, 'reload');
    assert.deepEqual(ev.droppedOps, []);
    assert.equal(d2.snapshot, 15, 'the server snapshot, which has the op');
    assert.equal(d1.snapshot, 15);
    d2.submit({ add: 1 });
    await d2.whenSynced();
    assert.equal((await server.getDoc(id)).snapshot, 16);
  } finally {
    failOn = null;
    c1.close();
    c2.close();
  }
});
