// The client's OT queue against the real server: several clients in Node make random concurrent
// edits (some while disconnected, some with lost acks) and must converge with each other and
// with GET /v1/docs/{id}.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import WebSocket from 'ws';
import { connect, Delta } from '../dist/index.js';
import { startServer, TOKENS } from './server.mjs';

let server;
before(async () => {
  server = await startServer();
});
after(async () => {
  await server?.stop();
});

// Seeded PRNG so a failure can be replayed (SEED=... npm test).
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
  static dropAcks = new Set();
  constructor(url) {
    super(url);
    this.id = LossyWS.nextId = (LossyWS.nextId ?? 0) + 1;
    const orig = Object.getOwnPropertyDescriptor(WebSocket.prototype, 'onmessage');
    let handler = null;
    orig.set.call(this, (ev) => {
      if (this.dropOps > 0) {
        const msgs = [].concat(JSON.parse(ev.data.toString()));
        const kept = msgs.filter((m) => !(m.type === 'op' && this.dropOps > 0 && this.dropOps--));
        if (!kept.length) return;
        ev = { data: JSON.stringify(kept) };
      }
      if (this.dropAcks) {
        const msgs = [].concat(JSON.parse(ev.data.toString()));
        const kept = msgs.filter((m) => m.type !== 'ack');
        if (kept.length !== msgs.length) this.droppedAcks = (this.droppedAcks ?? 0) + msgs.length - kept.length;
        if (!kept.length) return;
        ev = { data: JSON.stringify(kept) };
      }
      handler?.(ev);
    });
    Object.defineProperty(this, 'onmessage', { get: () => handler, set: (f) => (handler = f) });
  }
}

function client(opts = {}) {
  const conn = connect(server.url, { WebSocket: LossyWS, minBackoff: 20, maxBackoff: 200, ...opts });
  return conn;
}

/** waitConverged waits until every doc is synced and at the server's revision. */
async function waitConverged(docs, id) {
  for (let i = 0; i < 300; i++) {
    await Promise.all(docs.map((d) => d.whenSynced()));
    const srv = await server.getDoc(id);
    if (docs.every((d) => d.revision === srv.revision && !d.hasPending)) return srv;
    await sleep(50);
  }
  throw new Error(`no convergence: revisions ${docs.map((d) => d.revision)} pending ${docs.map((d) => d.hasPending)}`);
}

const editors = {
  text(r, doc) {
    const len = [...doc.snapshot].length;
    const pos = Math.floor(r() * (len + 1));
    if (len > 0 && r() < 0.35) {
      const n = 1 + Math.floor(r() * Math.min(4, len - pos));
      if (pos < len) return pos ? [pos, { d: n }] : [{ d: n }];
    }
    const s = ['a', 'bc', 'é', '😀', 'xyz', '\n'][Math.floor(r() * 6)];
    return pos ? [pos, s] : [s];
  },
  'rich-text'(r, doc) {
    const len = doc.snapshot.length();
    const pos = Math.floor(r() * (len + 1));
    const d = new Delta().retain(pos);
    const k = r();
    if (len > pos && k < 0.3) return d.delete(1 + Math.floor(r() * Math.min(3, len - pos)));
    if (len > pos && k < 0.5) return d.retain(1 + Math.floor(r() * (len - pos)), { bold: r() < 0.5 ? true : null });
    return d.insert(['a', 'bc', 'é', 'xyz'][Math.floor(r() * 4)], r() < 0.3 ? { italic: true } : undefined);
  },
  json0(r, doc) {
    const list = doc.snapshot.list;
    const pos = Math.floor(r() * (list.length + 1));
    if (list.length && r() < 0.3) {
      const i = Math.min(pos, list.length - 1);
      return [{ p: ['list', i], ld: list[i] }];
    }
    if (r() < 0.2) return [{ p: ['n'], na: 1 }];
    return [{ p: ['list', pos], li: Math.floor(r() * 1000) }];
  },
};

for (const type of ['text', 'rich-text', 'json0']) {
  test(`random concurrent ${type} edits converge with each other and the server`, { timeout: 120000 }, async () => {
    const r = rng(seed + type.length);
    const id = `conv-${type}-${seed}`;
    const conns = [client(), client(), client(), client()];
    const docs = await Promise.all(conns.map((c) => c.openDocument(id, type)));
    if (type === 'json0') {
      docs[0].submit([{ p: [], oi: { list: [], n: 0 } }]);
      await waitConverged(docs, id);
    }
    let disconnects = 0;
    for (let round = 0; round < 40; round++) {
      for (let i = 0; i < docs.length; i++) {
        const d = docs[i];
        for (let k = Math.floor(r() * 3); k > 0; k--) d.submit(editors[type](r, d));
        // Now and then a client loses its connection with ops in flight (and, sometimes, the
        // acks for them): it must resubmit with the same clientId/seq and not duplicate them.
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
    // Compare as JSON values (the server may order an object's keys differently).
    const want = JSON.parse(JSON.stringify(srv.snapshot));
    for (const d of docs) assert.deepStrictEqual(JSON.parse(JSON.stringify(d.snapshot)), want, `seed ${seed}: client ${d.clientId} diverged from the server`);
    // Every client's ops reached the server (buffered ops are composed, so there are fewer
    // server ops than submits).
    const { ops } = await (await fetch(`${server.url}/v1/docs/${id}/ops`)).json();
    assert.equal(ops.length, srv.revision);
    const authors = new Set(ops.map((o) => o.clientId));
    for (const d of docs) assert.ok(authors.has(d.clientId), `no op from ${d.clientId} (${disconnects} disconnects)`);
    // No (clientId, seq) was applied twice.
    assert.equal(new Set(ops.map((o) => `${o.clientId}/${o.seq}`)).size, ops.length);
    for (const c of conns) c.close();
  });
}

/** twoEditors opens text document id on two clients, a writes text, and both converge. */
async function twoEditors(id, text, optsA) {
  const a = client(), b = client();
  const da = await a.openDocument(id, 'text', optsA);
  const db = await b.openDocument(id, 'text');
  da.submit([text]);
  await waitConverged([da, db], id);
  return { a, b, da, db };
}

test('edits made while disconnected are resubmitted once, rebased over the others', { timeout: 60000 }, async () => {
  const id = `offline-${seed}`;
  const { a, b, da, db } = await twoEditors(id, 'hello world');
  // b loses every ack from now on and goes away with its edit in flight.
  b.ws.dropAcks = true;
  db.submit([5, ', dear']);
  await sleep(100);
  assert.equal(db.hasPending, true, 'the ack was dropped, so the op is still in flight');
  // b is offline: it keeps editing, a edits too.
  b.disconnect();
  assert.equal(b.state, 'offline');
  db.submit(['> ']);
  da.submit([da.snapshot.length, '!']);
  da.submit(['[a] ']);
  await da.whenSynced();
  assert.equal((await server.getDoc(id)).snapshot, '[a] hello, dear world!', 'b\'s first op reached the server exactly once');
  b.reconnect();
  const srv = await waitConverged([da, db], id);
  // Two inserts at one position: the one the server orders later ends up first (side left).
  assert.equal(srv.snapshot, '> [a] hello, dear world!');
  assert.equal(da.snapshot, srv.snapshot);
  assert.equal(db.snapshot, srv.snapshot);
  a.close();
  b.close();
});

test('an ack ahead of an op never received waits for it (rejoin), state stays the server\'s', { timeout: 30000 }, async () => {
  const id = `gap-${seed}`;
  const { a, b, da, db } = await twoEditors(id, 'abc');
  // a loses the next op relayed to it (as when its document was dropped on the way), then
  // submits: its ack names a revision one past an op it never saw.
  a.ws.dropOps = 1;
  db.submit([3, 'XYZ']);
  await db.whenSynced();
  await sleep(50);
  assert.equal(a.ws.dropOps, 0, 'the relayed op was dropped');
  assert.equal(da.revision, 1);
  da.submit(['>']);
  const srv = await waitConverged([da, db], id);
  assert.equal(srv.snapshot, '>abcXYZ');
  assert.equal(da.snapshot, srv.snapshot);
  assert.equal(db.snapshot, srv.snapshot);
  a.close();
  b.close();
});

test('undo reverts only this client\'s change, over a concurrent remote edit', { timeout: 30000 }, async () => {
  const id = `undo-${seed}`;
  const { a, b, da, db } = await twoEditors(id, 'abc', { undoGroupMs: 0 });
  db.submit([3, 'XYZ']);
  da.submit([1, '123']);
  await waitConverged([da, db], id);
  assert.equal(da.snapshot, 'a123bcXYZ');
  assert.equal(da.undo(), true);
  await waitConverged([da, db], id);
  assert.equal(db.snapshot, 'abcXYZ');
  assert.equal(da.redo(), true);
  await waitConverged([da, db], id);
  assert.equal(db.snapshot, 'a123bcXYZ');
  a.close();
  b.close();
});

test('connection states and a token refresh on an open connection', { timeout: 60000 }, async () => {
  const s = await startServer({ tokens: true });
  try {
    const states = [];
    const c = connect(s.url, { token: TOKENS.read, WebSocket, minBackoff: 20 });
    c.on('state', (st) => states.push(st));
    const d = await c.openDocument('tok', 'text');
    assert.equal(d.access, 'read');
    assert.throws(() => d.submit(['x']), /read-only/);
    // An op the server refuses (here: a stale belief that we may write) is rolled back: the
    // document reloads the server's snapshot and says so.
    d.access = 'write';
    const reload = new Promise((res) => d.once('reload', res));
    d.submit(['refused']);
    assert.equal(d.snapshot, 'refused');
    const ev = await reload;
    assert.equal(ev.reason, 'rejected');
    assert.equal(ev.error.code, 'Forbidden');
    assert.deepEqual(ev.dropped, ['refused']);
    assert.equal(d.snapshot, '');
    assert.equal(d.access, 'read');
    await c.setToken(TOKENS.write);
    await new Promise((res) => (d.access === 'write' ? res() : d.once('joined', res)));
    assert.equal(d.access, 'write');
    d.submit(['now writable']);
    await d.whenSynced();
    assert.equal((await s.getDoc('tok', TOKENS.read)).snapshot, 'now writable');
    c.reconnect();
    await new Promise((res) => c.on('state', (st) => st === 'connected' && res()));
    assert.deepEqual(states.slice(0, 1), ['connected']);
    assert.ok(states.includes('reconnecting'), `states: ${states}`);
    c.close();
    assert.equal(c.state, 'closed');
  } finally {
    await s.stop();
  }
});

test('a server that lost the document answers with reload: the client takes its snapshot', { timeout: 60000 }, async () => {
  let s = await startServer();
  const addr = s.url.replace('http://', '');
  const c = connect(s.url, { WebSocket, minBackoff: 50, maxBackoff: 200 });
  try {
    const d = await c.openDocument('lost', 'text');
    d.submit(['written before the data was lost']);
    await d.whenSynced();
    assert.equal(d.revision, 1);
    // The server comes back on the same address with an empty data directory.
    await s.stop();
    const reloaded = new Promise((res) => d.once('reload', res));
    s = await startServer({ addr });
    const ev = await reloaded;
    assert.equal(ev.reason, 'reload');
    assert.equal(d.snapshot, '');
    assert.equal(d.revision, 0);
    d.submit(['fresh start']);
    await d.whenSynced();
    assert.equal((await s.getDoc('lost')).snapshot, 'fresh start');
  } finally {
    c.close();
    await s.stop();
  }
});

test('concurrent create() of one document applies once', { timeout: 30000 }, async () => {
  const id = `create-${seed}`;
  const conns = [client(), client(), client()];
  const docs = await Promise.all(conns.map((c) => c.openDocument(id, 'rich-text')));
  assert.ok(docs.every((d) => d.revision === 0));
  // All three create at revision 0 before hearing of each other.
  for (const d of docs) assert.equal(d.create(new Delta().insert('\n')), true);
  const srv = await waitConverged(docs, id);
  assert.equal(srv.revision, 1);
  assert.deepEqual(srv.snapshot.ops, [{ insert: '\n' }]);
  for (const d of docs) assert.deepEqual(d.snapshot.ops, [{ insert: '\n' }]);
  assert.equal(docs[0].create(new Delta().insert('\n')), false, 'create on a non-empty document');
  for (const c of conns) c.close();
});
