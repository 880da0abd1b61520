// Generates ../vectors.json: random JSON documents and random json0 ops run through the
// reference implementation, ot-json0 (npm). Run with `npm ci && npm run gen`.
'use strict';
const json0 = require('ot-json0').type;
const pkg = require('ot-json0/package.json');

let seed = 12345;
function rnd() { seed = (seed * 1103515245 + 12345) & 0x7fffffff; return seed / 0x80000000; }
function ri(n) { return Math.floor(rnd() * n); }
function pick(a) { return a[ri(a.length)]; }

const chars = ['a', 'b', 'c', 'x', ' ', 'é', '中', '💃', '𝄞', '"', '\\', '\n', '\u0001', '\u2028', '<'];
function rstr(max) { let s = ''; const n = ri(max + 1); for (let i = 0; i < n; i++) s += pick(chars); return s; }
const keys = ['a', 'b', 'c', 'name', 'x', 'y', 'z', 'k1', 'é', 'list', 'obj'];
function rval(depth) {
  const r = ri(depth > 0 ? 8 : 5);
  switch (r) {
    case 0: return null;
    case 1: return rnd() < 0.5;
    case 2: return pick([0, 1, -3, 42, 1.5, -0.25, 1e21, 1e-7, 123456789]);
    case 3: case 4: return rstr(6);
    case 5: case 6: { const o = {}; const n = ri(4); for (let i = 0; i < n; i++) o[pick(keys)] = rval(depth - 1); return o; }
    default: { const a = []; const n = ri(4); for (let i = 0; i < n; i++) a.push(rval(depth - 1)); return a; }
  }
}
// UTF-16 offsets at code point boundaries.
function offsets(s) { const o = [0]; let i = 0; for (const ch of s) { i += ch.length; o.push(i); } return o; }

// All paths of containers/values in doc.
function paths(v, p, out) {
  out.push({ p, v });
  if (Array.isArray(v)) v.forEach((e, i) => paths(e, p.concat([i]), out));
  else if (v && typeof v === 'object') for (const k of Object.keys(v)) paths(v[k], p.concat([k]), out);
  return out;
}
function rcomp(doc) {
  const all = paths(doc, [], []);
  for (let tries = 0; tries < 20; tries++) {
    const { p, v } = pick(all);
    const r = ri(10);
    if (Array.isArray(v)) {
      const n = v.length;
      if (r < 3) return { p: p.concat([ri(n + 1)]), li: rval(1) };
      if (n === 0) continue;
      const i = ri(n);
      if (r < 5) return { p: p.concat([i]), ld: v[i] };
      if (r < 7) return { p: p.concat([i]), ld: v[i], li: rval(1) };
      return { p: p.concat([i]), lm: ri(n) };
    } else if (v && typeof v === 'object') {
      const ks = Object.keys(v);
      if (r < 4 || ks.length === 0) { const k = pick(keys); return v[k] === undefined ? { p: p.concat([k]), oi: rval(1) } : { p: p.concat([k]), od: v[k], oi: rval(1) }; }
      const k = pick(ks);
      if (r < 7) return { p: p.concat([k]), od: v[k] };
      return { p: p.concat([k]), od: v[k], oi: rval(1) };
    } else if (typeof v === 'string') {
      if (p.length === 0) continue;
      const o = offsets(v);
      const a = pick(o);
      if (r < 4) return rnd() < 0.2 ? { p, t: 'text0', o: [{ p: a, i: rstr(3) || 'q' }] } : { p: p.concat([a]), si: rstr(3) || 'q' };
      const bs = o.filter(x => x > a);
      if (bs.length === 0) continue;
      const d = v.slice(a, pick(bs));
      return rnd() < 0.2 ? { p, t: 'text0', o: [{ p: a, d }] } : { p: p.concat([a]), sd: d };
    } else if (typeof v === 'number') {
      return { p, na: pick([1, -1, 5, 0.5, -2]) };
    }
  }
  return null;
}
function rop(doc, n) {
  const op = [];
  for (let i = 0; i < n; i++) {
    const c = rcomp(doc);
    if (!c) break;
    doc = json0.apply(doc, [c]);
    op.push(c);
  }
  return op;
}
function rdoc() {
  if (rnd() < 0.3) { const a = []; const n = 2 + ri(5); for (let i = 0; i < n; i++) a.push(rval(1)); return { list: a }; }
  const o = {}; const n = 1 + ri(4); for (let i = 0; i < n; i++) o[pick(keys)] = rval(3); return rnd() < 0.1 ? rval(3) : o; }
const clone = x => x === undefined ? undefined : JSON.parse(JSON.stringify(x));
const S = x => JSON.stringify(x);
const lone = s => /\\ud[89a-f]/.test(s);

const out = { generator: 'testdata/gen/gen.js', package: 'ot-json0@' + pkg.version, empty: S(json0.create()), apply: [], transform: [], compose: [], invert: [], invalid: [] };
let guard = 0;
while ((out.apply.length < 1500 || out.transform.length < 4000 || out.compose.length < 1000) && guard++ < 100000) {
  const doc = rdoc();
  const a = rop(clone(doc), 1 + ri(3)), b = rop(clone(doc), 1 + ri(3));
  if (a.length === 0 || b.length === 0) continue;
  try {
    const d2 = json0.apply(clone(doc), clone(a));
    const rec = { doc: S(doc), op: S(a), out: S(d2) };
    if (![rec.doc, rec.op, rec.out].some(lone) && out.apply.length < 1500) out.apply.push(rec);
    const inv = json0.invert(clone(a));
    // Whether invert(op) applied after op gives the document back: json0 ops carry what they
    // delete, but a number changed by na may not come back exactly in floating point.
    const restores = S(json0.apply(clone(d2), clone(inv))) === S(doc);
    if (out.invert.length < 1500 && !lone(S(inv))) out.invert.push({ doc: S(doc), op: S(a), out: S(inv), restores });
    const c = rop(clone(d2), 1 + ri(3));
    if (c.length && out.compose.length < 1000) {
      const comp = json0.compose(clone(a), clone(c));
      const r = { a: S(a), b: S(c), out: S(comp) };
      if (![r.a, r.b, r.out].some(lone)) out.compose.push(r);
    }
  } catch (e) { }
  for (const side of ['left', 'right']) {
    try {
      const t = json0.transform(clone(a), clone(b), side);
      const r = { doc: S(doc), op: S(a), other: S(b), side, out: S(t) };
      if (![r.doc, r.op, r.other, r.out].some(lone) && out.transform.length < 4000) out.transform.push(r);
    } catch (e) { }
  }
}
out.invalid = ['{}', '1', '[1]', '[{}]', '[{"p":"a","oi":1}]', '[{"p":[],"x":1}]', '[{"p":["a"]}]', '[{"p":[{}],"oi":1}]',
  '[{"p":["a"],"na":"1"}]', '[{"p":[-1],"li":1}]', '[{"p":[0],"lm":-1}]', '[{"p":[1.5],"li":1}]', '[{"p":["a"],"t":"nope","o":[]}]',
  '[{"p":["a",0],"si":1}]', '[{"p":["a"],"t":"text0","o":[{"p":0}]}]', 'null', '[{"p":["a"],"oi":1}'];
process.stdout.write(JSON.stringify(out));
