/* core.test.js - report_core.js under node's test runner: tree decoding, the runtime
 * toggle, layout with "other" merging, search, diff colours, table rows and sorting,
 * and the memory-over-time chart, on small hand-made data blobs. */
'use strict';
const test = require('node:test');
const assert = require('node:assert/strict');
const R = require('../../analyzer/cli/report/report_core.js');

/* all > main > {parse > malloc(runtime), load (+ its own 100), tiny}; values: inuse
 * bytes, blocks, peak bytes, blocks, alloc bytes, blocks, temporary bytes, blocks, per
 * node (totals). */
function blob(diff) {
  const frames = [
    ['main', 'prog.c', 30, 'prog', 0],
    ['parse', 'parse.c', 80, 'prog', 0],
    ['malloc', null, 0, 'libc.so.6', 3],
    ['load', 'prog.c', 12, 'prog', 0],
    ['tiny', 'prog.c', 99, 'prog', 0],
  ];
  const nodes = [-1, -1, 0, 0, 1, 1, 2, 2, 1, 3, 1, 4];
  const one = (v) => [v, 1, 2 * v, 2, 10 * v, 10, 3 * v, 3];
  const old = [1101, 1101, 1000, 1000, 100, 1];
  const nu = [2101, 2101, 2000, 2000, 100, 1];
  const values = [];
  for (let i = 0; i < 6; i++) {
    values.push(...one(old[i]));
    if (diff)
      values.push(...one(nu[i]));
  }
  return { v: 1, diff, files: diff ? ['a', 'b'] : ['a'], metrics: ['inuse', 'peak', 'alloc', 'temporary'],
           frames, nodes, values, timeline: null };
}

test('decode and values', () => {
  const m = R.decode(blob(false));
  assert.equal(m.n, 6);
  assert.deepEqual(Array.from(m.parent), [-1, 0, 1, 2, 1, 1]);
  assert.equal(R.value(m, 2, 0, 'inuse', false), 1000);
  assert.equal(R.value(m, 2, 0, 'alloc', false), 10000);
  assert.equal(R.value(m, 2, 0, 'peak', true), 2);
  assert.equal(R.value(m, 2, 0, 'temporary', false), 3000);
  assert.equal(R.value(m, 2, 0, 'temporary', true), 3);
  assert.equal(R.nodeLabel(m, 0), 'all');
  assert.equal(R.nodeLabel(m, 1), 'main (prog.c:30)');
  assert.equal(R.nodeLabel(m, 3), 'malloc (libc.so.6)');
});

test('runtime frames at the inner end are hidden, others kept', () => {
  const m = R.decode(blob(false));
  assert.deepEqual(Array.from(R.hiddenNodes(m, false)), [0, 0, 0, 1, 0, 0]);
  assert.deepEqual(Array.from(R.hiddenNodes(m, true)), [0, 0, 0, 0, 0, 0]);
  /* A stack of runtime frames only keeps them (charged to its innermost frame). */
  const b = blob(false);
  b.frames[0][4] = 1;
  assert.deepEqual(Array.from(R.hiddenNodes(R.decode(b), false)), [0, 0, 0, 1, 0, 0]);
  b.frames[1][4] = 1;
  b.frames[3][4] = 1;
  b.frames[4][4] = 1;
  assert.deepEqual(Array.from(R.hiddenNodes(R.decode(b), false)), [0, 0, 0, 0, 0, 0]);
});

test('view: children heaviest first, hidden ones left out', () => {
  const m = R.decode(blob(false));
  const v = R.buildView(m, { metric: 'inuse', showRuntime: false });
  assert.deepEqual(v.children[1], [2, 4, 5]);
  assert.equal(v.children[2], null);
  const w = R.buildView(m, { metric: 'inuse', showRuntime: true });
  assert.deepEqual(w.children[2], [3]);
});

test('layout: widths by weight, tiny children merged into other', () => {
  const m = R.decode(blob(false));
  const v = R.buildView(m, { metric: 'inuse', showRuntime: false });
  const { rects, depth } = R.layout(m, v, 0, 1101, 0.5);
  const byNode = Object.fromEntries(rects.filter((r) => r.node >= 0).map((r) => [r.node, r]));
  assert.equal(depth, 2);
  assert.equal(byNode[1].w, 1101);
  assert.equal(byNode[2].w, 1000);
  assert.equal(byNode[4].x, 1000);
  assert.equal(byNode[5].w, 1);
  /* At 110 px, "tiny" (0.1 px) becomes an "other" rectangle only if wide enough. */
  const narrow = R.layout(m, v, 0, 110.1, 0.5).rects;
  assert.equal(narrow.find((r) => r.node === 5), undefined);
  assert.equal(narrow.find((r) => r.node === -1), undefined);
  const merged = R.layout(m, v, 0, 1101, 2).rects.find((r) => r.node === -1);
  assert.equal(merged, undefined); /* 1 px of small children is below 2 px */
  const some = R.layout(m, v, 0, 1101, 101).rects.find((r) => r.node === -1);
  assert.deepEqual([some.parent, some.merged, some.x, some.w], [1, 2, 1000, 101]);
});

test('layout: zoom puts ancestors full width above the zoomed node', () => {
  const m = R.decode(blob(false));
  const v = R.buildView(m, { metric: 'inuse', showRuntime: true });
  const { rects } = R.layout(m, v, 2, 500, 0.5);
  assert.deepEqual(rects.map((r) => [r.node, r.x, r.w, r.depth]),
    [[0, 0, 500, 0], [1, 0, 500, 1], [2, 0, 500, 2], [3, 0, 500, 3]]);
});

test('search: substring and regular expression, share counted once', () => {
  const m = R.decode(blob(false));
  const v = R.buildView(m, { metric: 'inuse', showRuntime: false });
  assert.deepEqual(Array.from(R.searchFrames(m, 'PARSE')), [0, 1, 0, 0, 0]);
  assert.deepEqual(Array.from(R.searchFrames(m, '/^(load|tiny) /')), [0, 0, 0, 1, 1]);
  assert.deepEqual(Array.from(R.searchFrames(m, 'prog.c')), [1, 0, 0, 1, 1]);
  assert.equal(R.searchFrames(m, '/(/'), null);
  assert.equal(R.searchFrames(m, ''), null);
  assert.equal(R.markedShare(m, v, R.searchFrames(m, 'prog')), 1);
  assert.equal(R.markedShare(m, v, R.searchFrames(m, 'parse')), 1000 / 1101);
});

test('diff: weight is the larger side, colours by growth', () => {
  const m = R.decode(blob(true));
  const v = R.buildView(m, { metric: 'inuse', showRuntime: false });
  assert.equal(v.weight[2], 2000);
  assert.equal(v.delta[2], 1000);
  assert.equal(v.delta[4], 0);
  assert.equal(v.maxAbsDelta, 1000);
  assert.equal(R.diffColor(0, 1000), 'rgb(224,224,224)');
  assert.equal(R.diffColor(1000, 1000), 'rgb(214,39,40)');
  assert.equal(R.diffColor(-1000, 1000), 'rgb(31,100,214)');
  const half = R.diffColor(250, 1000).match(/\d+/g).map(Number);
  assert.ok(half[0] > half[1] && half[1] < 224 && half[1] > 39);
});

test('the other domains, for the header', () => {
  assert.equal(R.otherDomains([{ domain: 'mmap', size: 30425088, count: 30 },
                                { domain: '7', size: 48, count: 1 },
                                { domain: '9', size: 0, count: 0 }]),
               'mmap 29.0 MiB in 30 blocks; 7 48 B in 1 block');
  assert.equal(R.otherDomains([]), '');
  assert.equal(R.otherDomains(undefined), '');
});

test('sizes as tracemalloc formats them', () => {
  assert.equal(R.formatSize(1120000), '1094 KiB');
  assert.equal(R.formatSize(12288), '12.0 KiB');
  assert.equal(R.formatSize(4096), '4096 B');
  assert.equal(R.formatSize(-512, true), '-512 B');
  assert.equal(R.formatSize(0, true), '+0 B');
  /* A tie goes to even, as C's printf rounds it in heapsnap top. */
  assert.equal(R.formatSize(102912), '100 KiB');
  assert.equal(R.formatSize(103936), '102 KiB');
  assert.equal(R.formatSize(12544), '12.2 KiB');
  assert.equal(R.formatSize(3146.5), '3146 B');
  assert.equal(R.formatSize(-102912, true), '-100 KiB');
});

test('table rows: labels, sorting, and the frames a row marks', () => {
  const table = { stats: [
    { file: 'prog.c', line: 12, function: 'load', module: 'prog', size: 100, count: 1 },
    { file: 'parse.c', line: 80, function: 'parse', module: 'prog', size: 1000, count: 4 },
    { file: null, line: 0, function: null, module: 'libfoo.so', address: '0x1234', size: 10,
      count: 1 },
  ] };
  const rows = R.tableRows(table, 'lineno');
  assert.deepEqual(rows.map((r) => r.label), ['prog.c:12', 'parse.c:80', '0x1234 (libfoo.so)']);
  assert.deepEqual(R.tableRows(table, 'function').map((r) => r.label).slice(0, 1),
    ['load at prog.c (prog)']);
  assert.deepEqual(R.sortRows(rows, 'size', true).map((r) => r.rank), [2, 1, 3]);
  assert.deepEqual(R.sortRows(rows, 'label', false).map((r) => r.rank), [3, 2, 1]);
  assert.deepEqual(R.sortRows(rows, 'average', true).map((r) => r.rank), [2, 1, 3]);
  const m = R.decode(blob(false));
  assert.deepEqual(Array.from(R.rowFrames(m, 'lineno', rows[0])), [0, 0, 0, 1, 0]);
  assert.deepEqual(Array.from(R.rowFrames(m, 'filename', { file: 'prog.c' })), [1, 0, 0, 1, 1]);
  assert.deepEqual(Array.from(R.rowFrames(m, 'function',
    { file: 'parse.c', function: 'parse' })), [0, 1, 0, 0, 0]);
});

test('timeline chart from a synthetic timeline', () => {
  const tl = { t: [0, 1e9, 2e9, 4e9], bytes: [0, 500, 1000, 250], peak_t: 2e9, snaps: [1e9, 4e9] };
  const c = R.timelineChart(tl, 420, 120, 10);
  assert.equal(c.max, 1000);
  assert.equal(c.duration, 4e9);
  assert.deepEqual(c.points, [[10, 110], [110, 60], [210, 10], [410, 85]]);
  assert.deepEqual(c.peak, [210, 10]);
  assert.deepEqual(c.snaps, [110, 410]);
  assert.equal(R.timelineChart(null, 100, 100, 0), null);
  assert.equal(R.timelineChart({ t: [], bytes: [] }, 100, 100, 0), null);
});
