/* report_core.js - heapsnap report's logic, without a DOM.
 *
 * Everything the page computes lives here so node's test runner can load it
 * (tests/report/*.test.js): decoding the data blob into typed arrays, which nodes the
 * runtime toggle hides, the laid-out rectangles of the icicle for a zoom and a width
 * (children too narrow to see merged into one "other" rectangle per parent), search,
 * diff colours, table rows and their sorting, and the memory-over-time chart's points.
 * report_ui.js draws and handles events with these.  Plain ES5-style script: in the
 * page it defines HeapsnapReport; under node it is a CommonJS module.
 */
'use strict';
var HeapsnapReport = (function () {
  var METRICS = ['inuse', 'peak', 'alloc', 'temporary'];
  var F_RUNTIME = 1, F_NOFUNC = 2, F_EMPTY = 4;

  /* The data blob as typed arrays: parent and frame per node, totals per node and set. */
  function decode(data) {
    var n = data.nodes.length / 2;
    var parent = new Int32Array(n), frame = new Int32Array(n);
    for (var i = 0; i < n; i++) {
      parent[i] = data.nodes[2 * i];
      frame[i] = data.nodes[2 * i + 1];
    }
    return {
      data: data, n: n, nsets: data.files.length, diff: !!data.diff,
      parent: parent, frame: frame, values: Float64Array.from(data.values),
      frames: data.frames
    };
  }

  function value(model, node, set, metric, blocks) {
    return model.values[(node * model.nsets + set) * METRICS.length * 2 +
                        METRICS.indexOf(metric) * 2 +
                        (blocks ? 1 : 0)];
  }

  function frameIsRuntime(model, f) {
    return f >= 0 && (model.frames[f][4] & F_RUNTIME) !== 0;
  }

  /* "function (file:line)", "function (module)", "0x1a2b (module)", "other". */
  function frameLabel(model, f) {
    if (f < 0)
      return 'other';
    var fr = model.frames[f];
    if (fr[1] !== null)
      return fr[0] + ' (' + fr[1] + ':' + fr[2] + ')';
    return fr[3] !== null && !(fr[4] & F_EMPTY) ? fr[0] + ' (' + fr[3] + ')' : fr[0];
  }

  function nodeLabel(model, node) {
    return node === 0 ? 'all' : frameLabel(model, model.frame[node]);
  }

  /* Nodes the runtime toggle hides: runtime frames at the inner end of a stack, below
   * some frame outside the runtime (as `heapsnap top` charges: the innermost frame
   * outside the runtime, else the innermost one).  Returns a Uint8Array, 1 = hidden. */
  function hiddenNodes(model, showRuntime) {
    var n = model.n, hidden = new Uint8Array(n);
    if (showRuntime)
      return hidden;
    var allRt = new Uint8Array(n), outside = new Uint8Array(n), i;
    for (i = 0; i < n; i++)
      allRt[i] = frameIsRuntime(model, model.frame[i]) ? 1 : 0;
    for (i = n - 1; i > 0; i--)
      if (!allRt[i])
        allRt[model.parent[i]] = 0;
    for (i = 1; i < n; i++) {
      var p = model.parent[i];
      outside[i] = outside[p] || (p > 0 && !frameIsRuntime(model, model.frame[p])) ? 1 : 0;
      hidden[i] = allRt[i] && outside[i] ? 1 : 0;
    }
    return hidden;
  }

  /* What the icicle draws for opts {metric, blocks, showRuntime}: weight per node (a
   * diff's larger of old and new), delta (new - old) and the visible children of each
   * node, heaviest first. */
  function buildView(model, opts) {
    var n = model.n, weight = new Float64Array(n), delta = new Float64Array(n), i;
    var hidden = hiddenNodes(model, opts.showRuntime), maxAbs = 0;
    for (i = 0; i < n; i++) {
      var a = value(model, i, 0, opts.metric, opts.blocks);
      if (model.nsets === 2) {
        var b = value(model, i, 1, opts.metric, opts.blocks);
        weight[i] = Math.max(a, b);
        delta[i] = b - a;
        if (i > 0 && Math.abs(delta[i]) > maxAbs)
          maxAbs = Math.abs(delta[i]);
      } else {
        weight[i] = a;
      }
    }
    var children = new Array(n);
    for (i = 0; i < n; i++)
      children[i] = null;
    for (i = 1; i < n; i++) {
      if (hidden[i] || weight[i] <= 0)
        continue;
      var p = model.parent[i];
      (children[p] || (children[p] = [])).push(i);
    }
    for (i = 0; i < n; i++)
      if (children[i] && children[i].length > 1)
        children[i].sort(function (x, y) { return weight[y] - weight[x] || x - y; });
    return { weight: weight, delta: delta, maxAbsDelta: maxAbs, children: children,
             hidden: hidden, opts: opts };
  }

  /* The path from the root to node, root first. */
  function pathTo(model, node) {
    var path = [];
    for (var i = node; i >= 0; i = model.parent[i])
      path.push(i);
    return path.reverse();
  }

  /* Rectangles {node, x, w, depth, merged} for zoom node `zoom` over `width` pixels: its
   * ancestors (root first) full width, then its subtree, each child inside its parent by
   * weight.  Children narrower than minWidth are merged into one rectangle per parent
   * (node -1, parent set, merged = how many), drawn only when at least minWidth wide. */
  function layout(model, view, zoom, width, minWidth) {
    var rects = [], path = pathTo(model, zoom), d;
    for (d = 0; d < path.length - 1; d++)
      rects.push({ node: path[d], x: 0, w: width, depth: d, merged: 0 });
    var total = view.weight[zoom];
    if (!(total > 0))
      return { rects: rects, depth: path.length - 1 };
    var scale = width / total, maxDepth = path.length - 1;
    var stack = [{ node: zoom, x: 0, depth: path.length - 1 }];
    while (stack.length) {
      var it = stack.pop(), w = view.weight[it.node] * scale;
      rects.push({ node: it.node, x: it.x, w: w, depth: it.depth, merged: 0 });
      if (it.depth > maxDepth)
        maxDepth = it.depth;
      var kids = view.children[it.node];
      if (!kids)
        continue;
      var x = it.x, small = 0, smallW = 0, smallX = -1;
      for (var k = 0; k < kids.length; k++) {
        var cw = view.weight[kids[k]] * scale;
        if (cw >= minWidth) {
          stack.push({ node: kids[k], x: x, depth: it.depth + 1 });
        } else {
          if (smallX < 0)
            smallX = x;
          small++;
          smallW += cw;
        }
        x += cw;
      }
      if (small && smallW >= minWidth) {
        rects.push({ node: -1, parent: it.node, x: smallX, w: smallW, depth: it.depth + 1,
                     merged: small });
        if (it.depth + 1 > maxDepth)
          maxDepth = it.depth + 1;
      }
    }
    return { rects: rects, depth: maxDepth };
  }

  /* A test for labels: "/re/flags" is a regular expression, anything else a
   * case-insensitive substring.  Returns null for an empty query or a bad expression. */
  function searchMatcher(query) {
    if (!query)
      return null;
    var m = /^\/(.+)\/([a-z]*)$/.exec(query);
    if (m) {
      try {
        var re = new RegExp(m[1], m[2].replace(/g/g, ''));
        return function (s) { return re.test(s); };
      } catch (e) {
        return null;
      }
    }
    var q = query.toLowerCase();
    return function (s) { return s.toLowerCase().indexOf(q) >= 0; };
  }

  /* Which frames match the query (label or module): a Uint8Array per frame, or null. */
  function searchFrames(model, query) {
    var match = searchMatcher(query);
    if (!match)
      return null;
    var hit = new Uint8Array(model.frames.length);
    for (var f = 0; f < model.frames.length; f++)
      hit[f] = match(frameLabel(model, f)) || (model.frames[f][3] !== null &&
                                                match(model.frames[f][3])) ? 1 : 0;
    return hit;
  }

  /* The weight of visible nodes whose frame is marked, counting nested marks once,
   * as a share of the root's weight. */
  function markedShare(model, view, marked) {
    var n = model.n, under = new Uint8Array(n), sum = 0;
    for (var i = 1; i < n; i++) {
      var p = model.parent[i];
      if (view.hidden[i] || view.weight[i] <= 0)
        continue;
      var m = model.frame[i] >= 0 && marked[model.frame[i]];
      if (m && !under[p])
        sum += view.weight[i];
      under[i] = under[p] || m ? 1 : 0;
    }
    return view.weight[0] > 0 ? sum / view.weight[0] : 0;
  }

  /* A diff colour: grey for no change, towards red for growth and blue for shrinkage,
   * by |delta| / maxAbs.  Returns "rgb(r,g,b)". */
  function diffColor(delta, maxAbs) {
    var t = maxAbs > 0 ? Math.min(1, Math.abs(delta) / maxAbs) : 0;
    var base = [224, 224, 224], to = delta > 0 ? [214, 39, 40] : [31, 100, 214];
    if (delta === 0)
      t = 0;
    var c = base.map(function (b, i) { return Math.round(b + (to[i] - b) * Math.sqrt(t)); });
    return 'rgb(' + c.join(',') + ')';
  }

  /* A flame colour for a frame: warm hues by function name; runtime frames grey-blue,
   * "other" grey. */
  function frameColor(model, f) {
    if (f < 0)
      return 'rgb(200,200,200)';
    var name = model.frames[f][0], h = 0;
    for (var i = 0; i < name.length; i++)
      h = (h * 31 + name.charCodeAt(i)) >>> 0;
    if (frameIsRuntime(model, f))
      return 'rgb(' + (170 + h % 30) + ',' + (180 + h % 25) + ',205)';
    return 'rgb(' + (205 + h % 50) + ',' + (80 + (h >>> 8) % 130) + ',' + (40 + (h >>> 16) % 50) +
           ')';
  }

  /* x with d decimals, a tie rounded to even, as C's printf("%.*f") rounds it (toFixed
   * and Math.round round a tie up: 100.5 KiB was "101 KiB" here, "100 KiB" in top). */
  function fixed(x, d) {
    var m = Math.pow(10, d), y = x * m, r = Math.round(y);
    if (Math.abs(y % 1) === 0.5)
      r = 2 * Math.round(y / 2);
    return (r / m).toFixed(d);
  }

  /* tracemalloc's _format_size(), as format_size() in C writes it. */
  function formatSize(size, sign) {
    var units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
    for (var i = 0; i < units.length; i++) {
      var s = sign && size >= 0 ? '+' : '';
      if (Math.abs(size) < 100 && i > 0)
        return s + fixed(size, 1) + ' ' + units[i];
      if (Math.abs(size) < 10 * 1024 || i === units.length - 1)
        return s + fixed(size, 0) + ' ' + units[i];
      size /= 1024;
    }
  }

  /* What the domains a page does not show hold: 'mmap 29.0 MiB in 30 blocks; 7 ...',
   * from [{domain, size, count}...]; '' for none. */
  function otherDomains(list) {
    return (list || []).filter(function (d) { return d.size || d.count; }).map(function (d) {
      return d.domain + ' ' + formatSize(d.size) + ' in ' + d.count +
             (d.count === 1 ? ' block' : ' blocks');
    }).join('; ');
  }

  /* A table row's label, as `heapsnap top` prints the key. */
  function siteLabel(key, e) {
    if (key === 'function' && e.function !== null)
      return e.function + (e.file !== null ? ' at ' + e.file : '') +
             (e.module ? ' (' + e.module + ')' : '');
    if (e.file !== null)
      return key === 'filename' ? e.file : e.file + ':' + e.line;
    var name = e.function !== null ? e.function :
               e.address !== undefined ? e.address : '[no frames]'; /* "0x..." */
    return name + (e.module ? ' (' + e.module + ')' : '');
  }

  /* The rows of a table ({stats: [...]} as `top --json` or `diff --json` prints it). */
  function tableRows(table, key) {
    return table.stats.map(function (e, i) {
      return {
        rank: i + 1, label: siteLabel(key, e), file: e.file, line: e.line,
        function: e.function, module: e.module, size: e.size, count: e.count,
        average: e.count ? e.size / e.count : 0,
        size_diff: e.size_diff, count_diff: e.count_diff
      };
    });
  }

  /* Sorts rows by column (numbers numerically, strings by code point), descending
   * when desc; ties keep their rank order.  Returns a new array. */
  function sortRows(rows, column, desc) {
    var out = rows.slice();
    out.sort(function (a, b) {
      var x = a[column], y = b[column], c;
      if (typeof x === 'number' || typeof y === 'number')
        c = (x || 0) - (y || 0);
      else
        c = String(x === null ? '' : x) < String(y === null ? '' : y) ? -1 :
            String(x === null ? '' : x) > String(y === null ? '' : y) ? 1 : 0;
      return (desc ? -c : c) || a.rank - b.rank;
    });
    return out;
  }

  /* Which frames a table row stands for: a Uint8Array per frame. */
  function rowFrames(model, key, row) {
    var hit = new Uint8Array(model.frames.length);
    for (var f = 0; f < model.frames.length; f++) {
      var fr = model.frames[f], fn = fr[4] & F_NOFUNC ? null : fr[0], ok;
      if (row.file === null)
        ok = fr[1] === null && fn === row.function && fr[3] === row.module;
      else if (key === 'filename')
        ok = fr[1] === row.file;
      else if (key === 'function')
        ok = fr[1] === row.file && fn === row.function;
      else
        ok = fr[1] === row.file && fr[2] === row.line;
      hit[f] = ok ? 1 : 0;
    }
    return hit;
  }

  /* The memory-over-time chart in a w x h box with pad pixels of margin: points
   * [[x, y]...] of the traced bytes, the peak's point, the snapshot marks' x, and
   * the largest value.  null when the timeline is missing or empty. */
  function timelineChart(tl, w, h, pad) {
    if (!tl || !tl.t || !tl.t.length || tl.t.length !== tl.bytes.length)
      return null;
    var t0 = tl.t[0], t1 = tl.t[tl.t.length - 1], max = 0, i;
    for (i = 0; i < tl.bytes.length; i++)
      max = Math.max(max, tl.bytes[i]);
    var sx = t1 > t0 ? (w - 2 * pad) / (t1 - t0) : 0, sy = max > 0 ? (h - 2 * pad) / max : 0;
    function x(t) { return pad + (t - t0) * sx; }
    function y(b) { return h - pad - b * sy; }
    var points = tl.t.map(function (t, k) { return [x(t), y(tl.bytes[k])]; });
    var peak = null;
    if (tl.peak_t !== undefined && tl.peak_t !== null) {
      var best = 0;
      for (i = 0; i < tl.t.length; i++)
        if (Math.abs(tl.t[i] - tl.peak_t) < Math.abs(tl.t[best] - tl.peak_t))
          best = i;
      peak = [x(tl.peak_t), points[best][1]];
    }
    return { points: points, peak: peak, snaps: (tl.snaps || []).map(x), max: max,
             duration: t1 - t0 };
  }

  return {
    METRICS: METRICS, decode: decode, value: value, frameLabel: frameLabel,
    nodeLabel: nodeLabel, hiddenNodes: hiddenNodes, buildView: buildView, pathTo: pathTo,
    layout: layout, searchMatcher: searchMatcher, searchFrames: searchFrames,
    markedShare: markedShare, diffColor: diffColor, frameColor: frameColor,
    formatSize: formatSize, otherDomains: otherDomains, siteLabel: siteLabel,
    tableRows: tableRows, sortRows: sortRows,
    rowFrames: rowFrames, timelineChart: timelineChart
  };
})();
if (typeof module !== 'undefined' && module.exports)
  module.exports = HeapsnapReport;
