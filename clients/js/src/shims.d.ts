declare module 'rich-text' {
  import Delta = require('quill-delta');
  export { Delta };
  export const type: {
    name: string;
    create(initial?: unknown): Delta;
    apply(snapshot: unknown, delta: unknown): Delta;
    compose(a: unknown, b: unknown): Delta;
    transform(a: unknown, b: unknown, side: 'left' | 'right'): Delta;
    transformCursor(cursor: number, delta: Delta, isOwnOp: boolean): number;
  };
}
declare module 'ot-json0' {
  export const type: {
    name: string;
    create(data?: unknown): unknown;
    apply(snapshot: unknown, op: unknown): unknown;
    compose(a: unknown, b: unknown): unknown;
    transform(op: unknown, other: unknown, side: 'left' | 'right'): unknown;
    invert(op: unknown): unknown;
  };
}
