import { type as textType } from 'ot-text-unicode';
import * as richTextNS from 'rich-text';
import * as json0NS from 'ot-json0';
import { form, json, tree, table } from './crdt/index.js';

// rich-text and ot-json0 are CommonJS without static named exports: take whichever shape the
// loader (Node's ESM loader or a bundler) gives.
const cjs = <T>(ns: any): T => (ns && ns.type ? ns : ns.default) as T;
const richText_ = cjs<typeof import('rich-text')>(richTextNS);
const richTextType = richText_.type;
/** Delta is quill-delta's Delta (version 4, as rich-text uses): rich-text ops and snapshots. */
const Delta: typeof import('quill-delta') = richText_.Delta;
const { type: json0Type } = cjs<typeof import('ot-json0')>(json0NS);

/**
 * OTType is what the client needs from a document type: the same functions as ShareDB's types
 * (ottypes). transform(op, other, side) must mean what the server's engine means by side; the
 * server rebases a late op with side "left".
 */
export interface OTType<Snap = any, Op = any> {
  name: string;
  /** create returns the empty snapshot. */
  create(): Snap;
  /** deserialize turns wire JSON into a snapshot (defaults to identity). */
  deserializeSnapshot?(json: unknown): Snap;
  /** deserializeOp turns wire JSON into an op (defaults to identity). */
  deserializeOp?(json: unknown): Op;
  apply(snapshot: Snap, op: Op): Snap;
  transform(op: Op, other: Op, side: 'left' | 'right'): Op;
  /** compose joins two consecutive ops into one. Without it (the CRDT types, whose ops each keep
   * their own stamp) the client keeps buffered ops apart and sends them one after another. */
  compose?(a: Op, b: Op): Op;
  /** invertWithDoc returns the op that undoes op applied to snapshot (needed for undo). */
  invertWithDoc?(op: Op, snapshot: Snap): Op;
  /** isNoop reports an op that changes nothing. */
  isNoop?(op: Op): boolean;
  /** transformPosition moves a cursor over an op made by someone else. */
  transformPosition?(pos: number, op: Op): number;
}

const text: OTType<string, unknown[]> = {
  name: 'text',
  create: () => '',
  apply: (s, op) => textType.apply(s, op as never),
  transform: (op, other, side) => textType.transform(op as never, other as never, side),
  compose: (a, b) => textType.compose(a as never, b as never),
  invertWithDoc: (op, s) => (textType as any).invertWithDoc(op, s),
  isNoop: (op) => textType.normalize(op as never).length === 0,
  transformPosition: (pos, op) => textType.transformPosition(pos, op as never),
};

type D = InstanceType<typeof Delta>;
const richText: OTType<D, D> = {
  name: 'rich-text',
  create: () => new Delta(),
  deserializeSnapshot: (j) => new Delta(j as any),
  deserializeOp: (j) => new Delta(j as any),
  apply: (s, op) => richTextType.apply(s, op),
  transform: (op, other, side) => richTextType.transform(op, other, side),
  compose: (a, b) => richTextType.compose(a, b),
  invertWithDoc: (op, s) => new Delta(op).invert(s),
  isNoop: (op) => op.ops.length === 0,
  transformPosition: (pos, op) => op.transformPosition(pos, false),
};

const json0: OTType<unknown, unknown[]> = {
  name: 'json0',
  create: () => null,
  apply: (s, op) => json0Type.apply(s, op),
  transform: (op, other, side) => json0Type.transform(op, other, side) as unknown[],
  compose: (a, b) => json0Type.compose(a, b) as unknown[],
  invertWithDoc: (op) => json0Type.invert(op) as unknown[],
  isNoop: (op) => op.length === 0,
};

const registry = new Map<string, OTType>([
  ['text', text],
  ['rich-text', richText],
  ['json0', json0],
  ['form', form],
  ['json', json],
  ['tree', tree],
  ['table', table],
]);

/** registerType adds (or replaces) the client-side implementation of a document type. */
export function registerType(t: OTType): void {
  registry.set(t.name, t);
}

/** getType returns the implementation of a document type, or throws. */
export function getType(name: string): OTType {
  const t = registry.get(name);
  if (!t) throw new Error(`opstream: no client-side type "${name}" (registerType it first)`);
  return t;
}

export { Delta };
