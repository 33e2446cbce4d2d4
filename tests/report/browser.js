/* browser.js - heapsnap report pages in a real headless Chromium.
 *
 * usage: node browser.js CHROMIUM OUTDIR PAGE.html[=EXPECT,...]...
 *
 * For each page: load it from file://, wait until the script says it is ready, and
 * check that no console error or exception appeared and no request left the page
 * (only the file itself was loaded); that the drawn table holds each EXPECT text
 * (comma-separated); that a click on a flame graph frame zooms to it (the visible
 * root changes), that typing a search marks frames, and that a click on the first
 * table row marks its frames.  A screenshot goes to OUTDIR/NAME.png.  Prints the load
 * and ready times ("ready" = data parsed, tree built, graph and table drawn) and exits
 * 1 at the first failure.  READY_BUDGET_MS (default 2000) bounds the ready time.
 */
'use strict';
const fs = require('node:fs');
const path = require('node:path');
const { Browser } = require('./cdp.js');

const budget = Number(process.env.READY_BUDGET_MS || 2000);

function check(ok, what) {
  if (!ok)
    throw new Error(what);
}

async function evaluate(page, expr) {
  const r = await page.send('Runtime.evaluate', { expression: expr, returnByValue: true,
    awaitPromise: true });
  if (r.exceptionDetails)
    throw new Error(`evaluate ${expr}: ${JSON.stringify(r.exceptionDetails).slice(0, 500)}`);
  return r.result.value;
}

async function click(page, x, y) {
  for (const type of ['mouseMoved', 'mousePressed', 'mouseReleased'])
    await page.send('Input.dispatchMouseEvent', { type, x, y, button: 'left', clickCount: 1 });
}

async function testPage(browser, outdir, file, expects) {
  const name = path.basename(file, '.html');
  const page = await browser.page();
  await page.send('Emulation.setDeviceMetricsOverride',
    { width: 1280, height: 900, deviceScaleFactor: 1, mobile: false });
  for (const domain of ['Page', 'Runtime', 'Log', 'Network'])
    await page.send(`${domain}.enable`);
  const url = 'file://' + path.resolve(file);
  const t0 = Date.now();
  const loaded = page.waitFor('Page.loadEventFired', 30000);
  await page.send('Page.navigate', { url });
  await loaded;
  const tLoad = Date.now() - t0;
  let ready = false;
  while (!ready && Date.now() - t0 < 30000) {
    ready = await evaluate(page, 'document.body && document.body.dataset.ready === "1"');
    if (!ready)
      await new Promise((r) => setTimeout(r, 20));
  }
  const tReady = Date.now() - t0;
  check(ready, `${name}: the page never became ready`);
  const perf = await evaluate(page, 'performance.now()');
  const size = fs.statSync(file).size;
  console.log(`${name}: ${(size / 1048576).toFixed(2)} MiB, load ${tLoad} ms, ready ${tReady} ms` +
    ` (page clock ${perf.toFixed(0)} ms)`);
  check(tReady <= budget, `${name}: ready after ${tReady} ms, over the ${budget} ms budget`);

  const text = await evaluate(page, 'document.getElementById("table").innerText');
  for (const e of expects)
    check(text.includes(e), `${name}: the table lacks '${e}'`);
  const facts = await evaluate(page, 'document.getElementById("facts").innerText');
  check(/traced peak/.test(facts), `${name}: the header lacks the traced peak`);

  /* Zoom: click the widest frame two levels below the root (not "all"). */
  const rects = await evaluate(page, 'heapsnapReport.rects()');
  const box = await evaluate(page,
    '(() => { const b = document.getElementById("flame").getBoundingClientRect();' +
    ' return { x: b.left + scrollX, y: b.top + scrollY }; })()');
  const cands = rects.filter((r) => r.y >= 36 && r.label !== 'other' && r.w > 20)
    .sort((a, b) => a.y - b.y || b.w - a.w);
  check(cands.length > 0, `${name}: no frame to click`);
  const target = cands[0];
  const before = await evaluate(page, 'document.getElementById("flame").dataset.zoom');
  await evaluate(page, `window.scrollTo(0, ${box.y + target.y - 100})`);
  const sy = await evaluate(page, 'scrollY');
  await click(page, box.x + target.x + Math.min(target.w / 2, 200), box.y + target.y + 9 - sy);
  const after = await evaluate(page, 'document.getElementById("flame").dataset.zoom');
  check(after !== before && after === target.label,
    `${name}: click on '${target.label}' left the root at '${after}' (was '${before}')`);
  await evaluate(page, 'heapsnapReport.zoomTo(0), window.scrollTo(0, 0)');

  /* Search: type the first frame's function name. */
  const word = target.label.split(' ')[0];
  await evaluate(page, 'document.getElementById("search").focus()');
  await page.send('Input.insertText', { text: word });
  const marked = Number(await evaluate(page, 'document.getElementById("flame").dataset.marked'));
  const result = await evaluate(page, 'document.getElementById("search-result").textContent');
  check(marked > 0 && /matches/.test(result), `${name}: search '${word}' marked ${marked} (${result})`);
  await evaluate(page, 'const s = document.getElementById("search"); s.value = "";' +
    ' s.dispatchEvent(new Event("input"))');

  /* A click on a table row marks its frames: the first row whose frames the page
   * holds (in a 100k-stack page, a light line's frames may be merged into "other"). */
  let rowMarked = 0, drawnMarked = 0, selected = 0;
  for (let i = 0; i < 10 && !rowMarked; i++) {
    const row = await evaluate(page, `(() => { const r = document.querySelectorAll("#table tbody tr")[${i}];` +
      ' r.scrollIntoView({ block: "center" }); const b = r.getBoundingClientRect();' +
      ' return { x: b.left + 40, y: b.top + b.height / 2 }; })()');
    await click(page, row.x, row.y);
    rowMarked = await evaluate(page,
      'Array.from(heapsnapReport.state.rowHits || []).reduce((a, b) => a + b, 0)');
    drawnMarked = Number(await evaluate(page, 'document.getElementById("flame").dataset.marked'));
    selected = await evaluate(page, 'document.querySelectorAll("#table tr.selected").length');
    check(selected === 1, `${name}: row ${i + 1} was not selected`);
  }
  check(rowMarked > 0, `${name}: no row click marked frames`);
  await evaluate(page, 'window.scrollTo(0, 0)');
  const shot = await page.send('Page.captureScreenshot', { format: 'png' });
  fs.writeFileSync(path.join(outdir, name + '.png'), Buffer.from(shot.data, 'base64'));

  const errors = page.events.filter((e) =>
    (e.method === 'Runtime.consoleAPICalled' && e.params.type === 'error') ||
    e.method === 'Runtime.exceptionThrown' ||
    (e.method === 'Log.entryAdded' && e.params.entry.level === 'error'));
  check(!errors.length, `${name}: errors: ${JSON.stringify(errors).slice(0, 1000)}`);
  const requests = page.events.filter((e) => e.method === 'Network.requestWillBeSent')
    .map((e) => e.params.request.url).filter((u) => u !== url);
  check(!requests.length, `${name}: requests besides the page: ${requests.join(' ')}`);
  console.log(`${name}: ok (zoom '${after}', search '${word}' marked ${marked},` +
    ` row marked ${rowMarked} frames, ${drawnMarked} drawn)`);
}

async function main() {
  const [chromium, outdir, ...pages] = process.argv.slice(2);
  const browser = Browser.open(chromium);
  try {
    for (const arg of pages) {
      const [file, expect] = arg.split('=');
      await testPage(browser, outdir, file, expect ? expect.split(',') : []);
    }
  } finally {
    await browser.close();
  }
}

main().catch((e) => {
  console.error(`browser.js: ${e.message}`);
  process.exit(1);
});
