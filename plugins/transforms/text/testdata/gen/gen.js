// Generates ../vectors.json: test vectors for the OpStream `text` engine, computed by the reference
// implementation (ot-text-unicode, pinned in package.json). Deterministic (seeded PRNG).
//
//   npm ci && node gen.js > ../vectors.json
//
// Every op below is written as a JSON value exactly as JSON.stringify writes it; the Go tests
// compare their own output with these bytes.
'use strict'
const { type } = require('ot-text-unicode')
const { strPosToUni } = require('unicount')
const pkg = require('ot-text-unicode/package.json')

// mulberry32
let seed = 0x0957a3
const rand = () => {
  seed |= 0; seed = seed + 0x6D2B79F5 | 0
  let t = Math.imul(seed ^ seed >>> 15, 1 | seed)
  t = t + Math.imul(t ^ t >>> 7, 61 | t) ^ t
  return ((t ^ t >>> 14) >>> 0) / 4294967296
}
const int = n => Math.floor(rand() * n) // 0..n-1
const pick = a => a[int(a.length)]
const clone = x => JSON.parse(JSON.stringify(x))

// Characters: ASCII, JSON-escaped controls, BMP non-ASCII, astral (surrogate pairs in JS).
const alphabet = [
  'a', 'b', 'c', 'x', 'y', 'z', ' ', '0', '9', '"', '\\', '/', '\n', '\t', '\r', '\b', '\f', '\u0001',
  '\u001f', '\u007f', 'é', 'ß', 'ä', '中', '文', '\u2028', '\u2029', '\ufeff', '\uffff',
  '💃', '😀', '👍', '🏽', '𝄞', '🀄', '\u{10ffff}', '\u200d',
]
const randStr = max => {
  const n = 1 + int(max)
  let s = ''
  for (let i = 0; i < n; i++) s += rand() < 0.5 ? pick(['a', 'b', 'c', ' ', 'x']) : pick(alphabet)
  return s
}
const randDoc = () => (rand() < 0.1 ? '' : randStr(rand() < 0.2 ? 60 : 20))
const ulen = s => strPosToUni(s)
const uslice = (s, a, b) => [...s].slice(a, b).join('')

// A random op valid against a document of the given text. With messy=true, the op may hold
// adjacent inserts/deletes and mixed delete forms (still passing checkOp), for normalize.
const randOp = (doc, messy = false) => {
  const op = []
  const len = ulen(doc)
  let pos = 0
  const n = int(messy ? 7 : 5)
  for (let i = 0; i < n; i++) {
    const r = rand()
    const last = op[op.length - 1]
    if (r < 0.35 && pos < len && typeof last !== 'number') {
      const k = 1 + int(Math.min(len - pos, 8))
      op.push(k); pos += k
    } else if (r < 0.7) {
      const s = randStr(6)
      if (!messy && typeof last === 'string') op[op.length - 1] += s
      else op.push(s)
    } else if (pos < len) {
      const k = 1 + int(Math.min(len - pos, 6))
      // A delete gives its length or the deleted text (the reference does not check the text).
      const rd = rand()
      const d = rd < 0.5 ? k : rd < 0.9 ? uslice(doc, pos, pos + k) : [...Array(k)].map(() => pick(alphabet)).join('')
      if (!messy && last && typeof last === 'object') {
        last.d = (typeof last.d === 'string' && typeof d === 'string')
          ? last.d + d
          : (typeof last.d === 'number' ? last.d : ulen(last.d)) + (typeof d === 'number' ? d : ulen(d))
      } else op.push({ d })
      pos += k
    }
  }
  while (typeof op[op.length - 1] === 'number') op.pop()
  type.checkOp(op)
  return op
}

// JSON with every non-ASCII character escaped as \uXXXX (surrogate pairs for astral), to test
// escape decoding.
const asciiJSON = v => JSON.stringify(v).replace(/[\u0080-\uffff]/g, c => '\\u' + c.charCodeAt(0).toString(16).padStart(4, '0'))

const N = Number(process.env.VECTORS || 1500)
const out = {
  generator: 'testdata/gen/gen.js', package: `${pkg.name}@${pkg.version}`,
  apply: [], transform: [], compose: [], normalize: [], invert: [], invalid: [],
}

for (let i = 0; i < N; i++) {
  const doc = randDoc()
  const op = randOp(doc)
  const res = type.apply(doc, clone(op))
  out.apply.push({ doc, op, opAscii: asciiJSON(op), out: res })
}

// Ops too long for their document. The reference throws when a skip passes the end; it silently
// truncates a delete that passes the end ("jsAccepts"), which OpStream rejects (a client whose
// delete passes the end has diverged).
for (let i = 0; i < 300; i++) {
  const doc = randDoc()
  const len = ulen(doc)
  let op
  const r = rand()
  if (r < 0.4) op = [len + 1 + int(5), 'x']
  else if (r < 0.7) op = len > 0 ? [int(len) + 1, { d: len + 1 }].filter(c => c !== 0) : [{ d: 1 + int(3) }]
  else op = [...(len > 0 ? [len] : []), 'y', { d: 1 + int(3) }]
  op = type.normalize(op)
  let res = null, threw = false
  try { res = type.apply(doc, clone(op)) } catch (e) { threw = true }
  out.apply.push({ doc, op, tooLong: true, jsAccepts: !threw, ...(threw ? {} : { jsOut: res }) })
}

for (let i = 0; i < N; i++) {
  const doc = randDoc()
  const a = randOp(doc), b = randOp(doc)
  const left = type.transform(clone(a), clone(b), 'left')
  const right = type.transform(clone(a), clone(b), 'right')
  // TP1 sanity check of the reference itself.
  const d1 = type.apply(type.apply(doc, b), left)
  const d2 = type.apply(type.apply(doc, a), type.transform(clone(b), clone(a), 'right'))
  if (d1 !== d2) throw Error('reference violates TP1')
  out.transform.push({ doc, op: a, other: b, side: 'left', out: left })
  out.transform.push({ doc, op: a, other: b, side: 'right', out: right })
}

for (let i = 0; i < N; i++) {
  const doc = randDoc()
  const a = randOp(doc)
  const b = randOp(type.apply(doc, a))
  const c = type.compose(clone(a), clone(b))
  out.compose.push({ doc, a, b, out: c })
}

for (let i = 0; i < N / 2; i++) {
  const doc = randDoc()
  const op = randOp(doc, true)
  out.normalize.push({ op, out: type.normalize(clone(op)) })
}

// Invert: makeInvertible(op, doc) fills in the deleted text, invertWithDoc(op, doc) undoes op.
out.invert = []
for (let i = 0; i < N; i++) {
  const doc = randDoc()
  const op = randOp(doc)
  const inv = type.invertWithDoc(clone(op), doc)
  if (type.apply(type.apply(doc, op), inv) !== doc && op.every(c => typeof c !== 'object' || typeof c.d === 'number')) {
    throw Error('reference invertWithDoc does not restore the document')
  }
  out.invert.push({ doc, op, invertible: type.makeInvertible(clone(op), doc), out: inv })
}

// Ops that checkOp rejects (and so apply, transform and compose throw on).
const invalid = [
  '"abc"', '{}', '{"d":1}', '1', 'null', '[0]', '[-1]', '[""]', '[{"d":0}]', '[{"d":""}]', '[{"d":-2}]',
  '[1,2]', '[3]', '["a",3]', '[{"d":1},5]', '[2,3,"x"]', '[{}]', '[null]', '[[1]]', '[{"d":null}]',
  '[{"d":true}]', '[{"d":[1]}]', '[{"d":{}}]', '[{"x":1}]', '[1,"",2]', '["a",""]',
]
for (const t of invalid) {
  let threw = false
  try { type.checkOp(JSON.parse(t)) } catch (e) { threw = true }
  if (!threw) throw Error('expected checkOp to throw on ' + t)
  out.invalid.push(t)
}

process.stdout.write(JSON.stringify(out) + '\n')
