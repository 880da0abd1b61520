// Regenerates docs/demo.png: two people editing both documents of the demo, taken from Ann's
// window (Bob's cursors and name visible). Run: OPSTREAM_BIN=../../bin/opstream npm run screenshot
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';
import { startServer } from './server.mjs';

const here = dirname(fileURLToPath(import.meta.url));
const out = process.argv[2] ?? join(here, '../../../docs/demo.png');
const server = await startServer({ demo: true });
const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM ?? '/usr/bin/chromium',
  headless: true,
  args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
});
try {
  const open = async (name, color) => {
    const page = await (await browser.newContext({ viewport: { width: 1200, height: 600 }, deviceScaleFactor: 1 })).newPage();
    await page.goto(`${server.url}/?doc=welcome&name=${name}&color=${encodeURIComponent(color)}`);
    await page.waitForSelector('body[data-ready="true"]');
    return page;
  };
  const ann = await open('Ann', '#e6194b');
  const bob = await open('Bob', '#4363d8');
  const type = async (page, sel, text) => {
    await page.click(sel);
    await page.keyboard.press('Control+End');
    await page.keyboard.type(text, { delay: 5 });
  };
  await type(ann, '#text-editor .cm-content', 'Meeting notes, 27 November\n\n- ship the JavaScript client\n- demo: two windows, one document\n');
  await type(bob, '#text-editor .cm-content', '- Bob: browser tests in chromium\n- Bob: offline edits converge on reconnect');
  await type(ann, '#rich-editor .ql-editor', 'Release plan\n');
  await ann.keyboard.press('Control+b');
  await ann.keyboard.type('OpStream 0.1');
  await ann.keyboard.press('Control+b');
  await ann.keyboard.type(' ships with a TypeScript client, bindings for CodeMirror 6 and Quill, and this demo.\n');
  await type(bob, '#rich-editor .ql-editor', 'Every peer sees ');
  await bob.keyboard.press('Control+i');
  await bob.keyboard.type('live cursors');
  await bob.keyboard.press('Control+i');
  await bob.keyboard.type(' with names.');
  await bob.click('#text-editor .cm-content');
  await bob.keyboard.press('Control+End');
  await ann.click('#rich-editor .ql-editor');
  await ann.waitForSelector('.opstream-cm-caret-name');
  await new Promise((r) => setTimeout(r, 800));
  await ann.screenshot({ path: out });
  console.log(`wrote ${out}`);
} finally {
  await browser.close();
  await server.stop();
}
