// The demo in a real browser: Debian's chromium driven by playwright-core, against the real
// server binary started with --demo and the tokens authorizer (two write tokens, one read).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';
import { startServer, TOKENS } from './server.mjs';

const here = dirname(fileURLToPath(import.meta.url));
const artifacts = join(here, '..', 'test-artifacts');
mkdirSync(artifacts, { recursive: true });
const CHROMIUM = process.env.CHROMIUM ?? '/usr/bin/chromium';

let server, browser;
before(async () => {
  server = await startServer({ demo: true, tokens: true });
  browser = await chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--disable-dev-shm-usage'],
  });
});
after(async () => {
  await browser?.close();
  await server?.stop();
});

async function openPage(doc, token, name, color) {
  const context = await browser.newContext({ viewport: { width: 1280, height: 720 } });
  const page = await context.newPage();
  page.on('pageerror', (e) => console.error(`[${name}] page error:`, e));
  await page.goto(`${server.url}/?doc=${doc}&token=${token}&name=${encodeURIComponent(name)}&color=${encodeURIComponent(color)}`);
  await page.waitForSelector('body[data-ready="true"]', { timeout: 20000 });
  return { page, context };
}

const cmText = (page) => page.evaluate(() => window.opstreamDemo.view.state.doc.toString());
const quillText = (page) => page.evaluate(() => window.opstreamDemo.quill.getText());
const quillDelta = (page) => page.evaluate(() => JSON.stringify(window.opstreamDemo.quill.getContents().ops));

/** until polls fn until it returns a truthy value. */
async function until(fn, what, timeout = 20000) {
  const end = Date.now() + timeout;
  let last;
  while (Date.now() < end) {
    last = await fn();
    if (last) return last;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`timed out waiting for ${what} (last: ${JSON.stringify(last)})`);
}

/** converged waits until both pages show the same text in both editors, equal to the server's. */
async function converged(a, b, doc) {
  return until(async () => {
    const [ta, tb, qa, qb] = await Promise.all([cmText(a), cmText(b), quillDelta(a), quillDelta(b)]);
    if (ta !== tb || qa !== qb) return false;
    const srv = await server.getDoc(`${doc}-text`, TOKENS.write);
    return srv.snapshot === ta ? { text: ta, rich: JSON.parse(qa) } : false;
  }, 'both pages and the server to agree');
}

const sorted = (s) => [...s].sort().join('');

test('two pages type into both editors at once and end identical; each sees the other\'s cursor', { timeout: 120000 }, async () => {
  const doc = `both-${Date.now()}`;
  const A = await openPage(doc, TOKENS.write, 'Ann', '#e6194b');
  const B = await openPage(doc, TOKENS.write2, 'Bob', '#4363d8');
  const ann = 'annwasheré😀typingquickly';
  const bob = 'BOBTYPESTOOATTHESAMETIME';
  // Both editors of both pages at the same time.
  const typeInto = async (page, selector, text) => {
    await page.click(selector);
    await page.keyboard.type(text, { delay: 15 });
  };
  await Promise.all([
    typeInto(A.page, '#text-editor .cm-content', ann),
    typeInto(B.page, '#text-editor .cm-content', bob),
  ]);
  await Promise.all([
    typeInto(A.page, '#rich-editor .ql-editor', ann),
    typeInto(B.page, '#rich-editor .ql-editor', bob),
  ]);
  const end = await converged(A.page, B.page, doc);
  assert.equal(sorted(end.text), sorted(ann + bob), `text editor lost or duplicated keystrokes: ${end.text}`);
  const rich = await quillText(A.page);
  assert.equal(sorted(rich.replace(/\n$/, '')), sorted(ann + bob), `rich-text editor: ${rich}`);
  const srvRich = await server.getDoc(`${doc}-rich`, TOKENS.write);
  assert.deepEqual(srvRich.snapshot.ops, end.rich);

  // Cursors: Bob's page shows Ann's caret with her name in both editors, and vice versa.
  await A.page.click('#text-editor .cm-content');
  await A.page.keyboard.press('End');
  await until(() => B.page.locator('.opstream-cm-caret-name', { hasText: 'Ann' }).count(), "Ann's caret in Bob's text editor");
  await B.page.click('#rich-editor .ql-editor');
  await until(() => A.page.locator('.opstream-quill-caret-name', { hasText: 'Bob' }).count(), "Bob's caret in Ann's rich-text editor");
  await A.page.click('#rich-editor .ql-editor');
  await until(() => B.page.locator('.opstream-quill-caret-name', { hasText: 'Ann' }).count(), "Ann's caret in Bob's rich-text editor");
  await until(() => A.page.locator('#peers', { hasText: 'Bob' }).count(), 'Bob in the peer list');
  // Undo (Mod-z) in Ann's text editor removes Ann's typing only, for both pages.
  await A.page.click('#text-editor .cm-content');
  for (let i = 0; i < 60 && (await A.page.evaluate(() => window.opstreamDemo.text.canUndo)); i++) await A.page.keyboard.press('Control+z');
  assert.equal(await A.page.evaluate(() => window.opstreamDemo.text.canUndo), false);
  await until(async () => (await cmText(B.page)) === bob && (await cmText(A.page)) === bob, 'Ann\'s undo on both pages');
  await A.page.keyboard.press('Control+y');
  await until(async () => (await cmText(B.page)) !== bob, 'Ann\'s redo on Bob\'s page');
    await A.page.screenshot({ path: join(artifacts, 'both-ann.png') });
  await B.page.screenshot({ path: join(artifacts, 'both-bob.png') });
  await A.context.close();
  await B.context.close();
});

test('a page taken offline keeps typing and converges when it comes back', { timeout: 120000 }, async () => {
  const doc = `offline-${Date.now()}`;
  const A = await openPage(doc, TOKENS.write, 'Ann', '#e6194b');
  const B = await openPage(doc, TOKENS.write2, 'Bob', '#4363d8');
  await A.page.click('#text-editor .cm-content');
  await A.page.keyboard.type('shared start. ');
  await A.page.click('#rich-editor .ql-editor');
  await A.page.keyboard.type('shared start. ');
  await converged(A.page, B.page, doc);

  await B.context.setOffline(true);
  await until(async () => (await B.page.textContent('#state')) === 'offline', "Bob's page to show offline");
  assert.equal(await B.page.locator('#peers', { hasText: 'Ann' }).count(), 0, 'an offline page still lists its peers');
  await B.page.click('#text-editor .cm-content');
  await B.page.keyboard.press('End');
  await B.page.keyboard.type('BOBOFFLINE');
  await B.page.click('#rich-editor .ql-editor');
  await B.page.keyboard.type('BOBOFFLINE');
  await A.page.click('#text-editor .cm-content');
  await A.page.keyboard.press('Home');
  await A.page.keyboard.type('annonline ');
  await A.page.click('#rich-editor .ql-editor');
  await A.page.keyboard.type('annonline ');
  await new Promise((r) => setTimeout(r, 1000));
  assert.ok(!(await cmText(A.page)).includes('BOBOFFLINE'), 'an offline edit reached the other page');
  assert.ok((await cmText(B.page)).includes('BOBOFFLINE'), 'the offline page kept its own edit');
  assert.equal(await B.page.textContent('#text-sync'), 'saving…');
  await B.page.screenshot({ path: join(artifacts, 'offline-bob-while-offline.png') });

  await B.context.setOffline(false);
  await until(async () => (await B.page.textContent('#state')) === 'connected', "Bob's page to reconnect");
  const end = await converged(A.page, B.page, doc);
  assert.match(end.text, /BOBOFFLINE/);
  assert.match(end.text, /annonline/);
  assert.equal(end.text.match(/BOBOFFLINE/g).length, 1, 'the offline edit was applied more than once');
  const rich = await quillText(A.page);
  assert.equal(rich.match(/BOBOFFLINE/g)?.length, 1, `rich text: ${rich}`);
  assert.equal(rich.match(/annonline/g)?.length, 1, `rich text: ${rich}`);
  await A.page.screenshot({ path: join(artifacts, 'offline-ann-after.png') });
  await B.page.screenshot({ path: join(artifacts, 'offline-bob-after.png') });
  await A.context.close();
  await B.context.close();
});

test('a read-only token shows the document but refuses edits with a visible message', { timeout: 120000 }, async () => {
  const doc = `readonly-${Date.now()}`;
  const A = await openPage(doc, TOKENS.write, 'Ann', '#e6194b');
  await A.page.click('#text-editor .cm-content');
  await A.page.keyboard.type('only Ann may write here');
  await A.page.click('#rich-editor .ql-editor');
  await A.page.keyboard.type('rich and read-only');
  await until(async () => (await server.getDoc(`${doc}-text`, TOKENS.write)).snapshot === 'only Ann may write here', 'Ann\'s text on the server');
  await until(async () => !(await A.page.evaluate(() => window.opstreamDemo.rich.hasPending)), 'Ann\'s rich text on the server');

  const E = await openPage(doc, TOKENS.read, 'Eve', '#3cb44b');
  assert.equal(await cmText(E.page), 'only Ann may write here');
  assert.equal(await quillText(E.page), 'rich and read-only\n');
  assert.match(await E.page.textContent('#banner'), /Read-only/);
  assert.equal(await E.page.isVisible('#banner'), true);

  await E.page.click('#text-editor .cm-content');
  await E.page.keyboard.type('EVE');
  await until(() => E.page.isVisible('#message'), 'the refusal message');
  assert.match(await E.page.textContent('#message'), /refused.*read-only/);
  await E.page.click('#rich-editor .ql-editor', { force: true });
  await E.page.keyboard.type('EVE');
  await new Promise((r) => setTimeout(r, 500));
  assert.equal(await cmText(E.page), 'only Ann may write here');
  assert.equal(await quillText(E.page), 'rich and read-only\n');
  assert.equal((await server.getDoc(`${doc}-text`, TOKENS.write)).snapshot, 'only Ann may write here');
  // Ann's later edits still reach the read-only page.
  await A.page.click('#text-editor .cm-content');
  await A.page.keyboard.press('End');
  await A.page.keyboard.type('!');
  await until(async () => (await cmText(E.page)) === 'only Ann may write here!', 'Ann\'s edit on Eve\'s page');
  await E.page.screenshot({ path: join(artifacts, 'readonly-eve.png') });
  await A.context.close();
  await E.context.close();
});
