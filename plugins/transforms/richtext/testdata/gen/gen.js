// Generates ../vectors.json for the OpStream rich-text engine from the reference implementation,
// rich-text (Quill Delta). Run: npm ci && npm run gen
'use strict';
const { type, Delta } = require('rich-text');

let seed = 0x5eed1234;
function rnd() { // xorshift32: deterministic output
  seed ^= seed << 13; seed >>>= 0; seed ^= seed >>> 17; seed ^= seed << 5; seed >>>= 0;
  return seed / 4294967296;
}
const ri = (n) => Math.floor(rnd() * n);
const pick = (a) => a[ri(a.length)];

const chars = ['a', 'b', 'c', ' ', '\n', 'é', 'ß', '中', '💃', '😀', '"', '\\', '\t', '\u2028', '\u0001'];
const attrKeys = ['bold', 'italic', 'color', 'link', 'size', 'font', '1', '10'];
const attrVals = [true, false, '#f00', '#00ff00', 'http://x/é', 1, 2.5, 0.000001, 1e21, -3, { a: 1, b: [1, 'x'] }, 'ü💃'];
const embeds = [{ image: 'a.png' }, { formula: 'e=mc^2' }, { video: { src: 'v', w: 2 } }, { '2': 1, z: 0 }];

function str() {
  let s = '';
  const n = 1 + ri(5);
  for (let i = 0; i < n; i++) s += pick(chars);
  return s;
}
function attrs(allowNull) {
  if (rnd() < 0.5) return undefined;
  const a = {};
  const n = 1 + ri(3);
  for (let i = 0; i < n; i++) a[pick(attrKeys)] = allowNull && rnd() < 0.3 ? null : pick(attrVals);
  return a;
}
function insertArg() { return rnd() < 0.15 ? JSON.parse(JSON.stringify(pick(embeds))) : str(); }

function randDoc() {
  const d = new Delta();
  const n = ri(6);
  for (let i = 0; i < n; i++) d.insert(insertArg(), attrs(false));
  return d;
}

// A component pushed raw (no merging), with a random key order.
function rawComp(kind, v, at) {
  const c = {};
  const first = at && rnd() < 0.5;
  if (first) c.attributes = at;
  c[kind] = v;
  if (at && !first) c.attributes = at;
  return c;
}

// randOp returns a random op on a document of length len: a Delta built with the builder
// (canonical) or, with raw, an array of components pushed as they come.
function randOp(len, raw) {
  const ops = [];
  const d = new Delta();
  let pos = 0;
  const n = 1 + ri(4);
  for (let i = 0; i < n; i++) {
    const r = rnd();
    if (r < 0.4) {
      const v = insertArg(), at = attrs(rnd() < 0.1);
      if (raw) { if (v !== '') ops.push(rawComp('insert', v, at)); } else d.insert(v, at);
    } else if (pos < len) {
      const k = 1 + ri(Math.min(len - pos, 6));
      if (r < 0.7) {
        const at = rnd() < 0.5 ? undefined : attrs(true);
        if (raw) ops.push(rawComp('retain', k, at)); else d.retain(k, at);
      } else {
        if (raw) ops.push({ delete: k }); else d.delete(k);
      }
      pos += k;
    }
  }
  if (raw) return ops.length ? ops : [{ insert: 'x' }];
  return d.ops.length ? d : new Delta().insert('x');
}

const J = (x) => JSON.stringify(x);
const cases = { apply: [], transform: [], compose: [] };

for (let i = 0; i < 1500; i++) {
  const doc = randDoc();
  const raw = rnd() < 0.25;
  const op = randOp(doc.length(), raw);
  cases.apply.push({ doc, op, out: type.apply(doc, op) });
}
for (let i = 0; i < 150; i++) {
  const doc = randDoc();
  const len = doc.length();
  const op = new Delta().retain(len + 1 + ri(3)).insert('x');
  cases.apply.push({ doc, op, tooLong: true });
  cases.apply.push({ doc, op: new Delta().retain(ri(len + 1)).delete(len + 1), tooLong: true });
}
for (let i = 0; i < 2000; i++) {
  const doc = randDoc();
  const len = doc.length();
  const a = randOp(len, rnd() < 0.2), b = randOp(len, rnd() < 0.2);
  const side = rnd() < 0.5 ? 'left' : 'right';
  cases.transform.push({ doc, op: a, other: b, side, out: type.transform(a, b, side) });
}
for (let i = 0; i < 2000; i++) {
  const doc = randDoc();
  const a = randOp(doc.length(), rnd() < 0.2);
  const mid = type.apply(doc, a);
  const b = randOp(mid.length(), rnd() < 0.2);
  cases.compose.push({ doc, a, b, out: type.compose(a, b) });
  if (i < 500) cases.apply.push({ doc: mid, op: b, out: type.apply(mid, b) });
}
// Round trips: op JSON text as a client may write it (escapes, number spellings, whitespace,
// duplicate keys, integer-like keys) and JSON.stringify(new Delta(JSON.parse(text))).
const roundtrip = [
  '{"ops":[{"insert":"\\u00e9\\ud83d\\udc83\\ud83d \\/\\b\\f\\u001f\\u007f\\u2028"}]}',
  '[ {"retain" : 1.0e1 , "attributes" : {"size":1E2,"w":-0,"x":0.1,"y":1e-7,"z":123456789012345678901234,"v":5e-324}} ]',
  '[{"retain":2,"attributes":{"b":1,"a":2,"b":3}},{"insert":"x","insert":"y"}]',
  '[{"attributes":{"z":1,"10":2,"2":3,"01":4,"4294967295":5,"4294967294":6},"insert":{"b":{"y":1,"0":[]},"a":null}}]',
  '{"ops":[{"delete":3}]}', '[]', '{"ops":[]}', ' \n[{"insert":"a\\"\\\\"}]\t',
];
for (let i = 0; i < 300; i++) {
  const op = randOp(10, rnd() < 0.5);
  roundtrip.push(J(op).replace(/[\u007f-\uffff]/g, (c) => '\\u' + c.charCodeAt(0).toString(16).padStart(4, '0')));
}
cases.roundtrip = roundtrip.map((s) => ({ in: s, out: J(new Delta(JSON.parse(s))) }));

// Invert: op.invert(doc) undoes op on doc. The document and the op are read back from their JSON
// first, as the server holds them (so no attribute object is shared between them).
cases.invert = [];
for (let i = 0; i < 2000; i++) {
  const doc = new Delta(JSON.parse(J(randDoc())));
  const op = new Delta(JSON.parse(J(randOp(doc.length(), rnd() < 0.2))));
  const out = op.invert(doc);
  const back = type.apply(type.apply(doc, op), out);
  if (J(new Delta().compose(back)) !== J(new Delta().compose(doc)) && J(back.ops.map((c) => c.insert)) !== J(doc.ops.map((c) => c.insert))) {
    throw Error('reference invert does not restore ' + J(doc) + ' ' + J(op));
  }
  cases.invert.push({ doc, op, out });
}

const invalid = [
  '', 'null', '1', '"x"', '{}', '{"ops":1}', '{"ops":[],"x":1}', '[1]', '[null]', '[{}]',
  '[{"insert":""}]', '[{"insert":1}]', '[{"insert":null}]', '[{"insert":true}]', '[{"insert":[1]}]',
  '[{"retain":0}]', '[{"retain":-1}]', '[{"retain":1.5}]', '[{"retain":"1"}]', '[{"delete":0}]',
  '[{"delete":1,"attributes":{"a":1}}]', '[{"retain":1,"attributes":{}}]', '[{"retain":1,"attributes":null}]',
  '[{"retain":1,"attributes":[1]}]', '[{"insert":"a","retain":1}]', '[{"insert":"a","x":1}]',
  '{"ops":[{"delete":1e300}]}', '[{"insert":"a"}', '[{"insert":"a"}] x', '[{"insert":"\\ud83"}]',
  '{"ops":[{"retain":2,"attributes":{"a":tru}}]}',
];
const out = ['{"package":"rich-text@' + require('rich-text/package.json').version + ' (quill-delta@' +
  require('quill-delta/package.json').version + ')"'];
for (const k of ['apply', 'transform', 'compose', 'roundtrip', 'invert']) out.push(',"' + k + '":[\n' + cases[k].map(J).join(',\n') + '\n]');
out.push(',"invalid":' + J(invalid) + '}\n');
process.stdout.write(out.join(''));
