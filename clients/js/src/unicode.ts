/** toUni converts a UTF-16 offset in s to a code-point offset (what text ops count). */
export function toUni(s: string, utf16: number): number {
  let n = 0;
  for (let i = 0; i < utf16 && i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c >= 0xd800 && c <= 0xdbff && i + 1 < s.length) i++;
    n++;
  }
  return n;
}

/** fromUni converts a code-point offset in s to a UTF-16 offset. */
export function fromUni(s: string, uni: number): number {
  let i = 0;
  for (let n = 0; n < uni && i < s.length; n++) {
    const c = s.charCodeAt(i);
    i += c >= 0xd800 && c <= 0xdbff && i + 1 < s.length ? 2 : 1;
  }
  return i;
}
