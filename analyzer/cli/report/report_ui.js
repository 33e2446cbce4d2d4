/* report_ui.js - heapsnap report's page: the DOM, the canvas and the events.
 *
 * The icicle is drawn on one canvas (thousands of DOM or SVG elements are what made
 * 100,000-stack pages slow; see docs/report.md): report_core.js lays the rectangles
 * out, this file fills them, finds the one under the pointer by a binary search in
 * its row, and redraws on zoom, search, metric or toggle changes.  State for tests is
 * mirrored in data- attributes of the canvas (zoom root, marked rectangles).
 */
(function () {
  'use strict';
  var R = HeapsnapReport;
  var ROW = 18, MIN_W = 0.5;
  var data = JSON.parse(document.getElementById('report-data').textContent);
  var model = R.decode(data);
  var $ = function (id) { return document.getElementById(id); };
  var canvas = $('flame'), ctx = canvas.getContext('2d'), tip = $('tip');
  var state = {
    metric: data.metrics[0], showRuntime: false, zoom: 0, search: '', searchHits: null,
    rowHits: null, key: 'lineno', sort: null, selectedRow: -1
  };
  var view = null, laid = null, rows = [], byDepth = [];

  function el(tag, text, cls) {
    var e = document.createElement(tag);
    if (text !== undefined)
      e.textContent = text;
    if (cls)
      e.className = cls;
    return e;
  }

  function showHeader() {
    var facts = $('facts'), h = data.headers;
    function fact(k, v) {
      facts.appendChild(el('dt', k));
      facts.appendChild(el('dd', v));
    }
    data.files.forEach(function (f, i) {
      var hd = h[i], pre = data.diff ? (i ? 'new ' : 'old ') : '';
      fact(pre + 'file', f);
      if (hd.command !== undefined)
        fact(pre + 'command', hd.command);
      if (hd.trigger !== undefined)
        fact(pre + 'trigger', hd.trigger + (hd.pid !== undefined ? ' (pid ' + hd.pid + ')' : ''));
      if (hd.current_bytes !== undefined)
        fact(pre + 'traced current', R.formatSize(hd.current_bytes) + ' (' + hd.current_bytes + ' B)');
      if (hd.peak_bytes !== undefined)
        fact(pre + 'traced peak', R.formatSize(hd.peak_bytes) + ' (' + hd.peak_bytes + ' B)');
      var others = R.otherDomains((data.other_domains || [])[i]);
      if (others)
        fact(pre + 'other domains', others + ' live, not on this page (heapsnap report --domain)');
      if (hd.lost_events !== undefined)
        fact(pre + 'lost events', String(hd.lost_events));
      if (hd.sampling_period > 0)
        fact(pre + 'sampling', 'estimates: one sample per ' + R.formatSize(hd.sampling_period) +
             ' allocated on average (Poisson sampling by bytes)');
      (hd.warnings || []).forEach(function (w) { $('warnings').appendChild(el('li', f + ': ' + w)); });
    });
    document.title = 'heapsnap report: ' + data.files.join(' → ');
  }

  function showTimeline() {
    var tl = data.timeline;
    if (!tl)
      return;
    var list = Array.isArray(tl) ? tl : [tl];
    $('timeline-section').hidden = false;
    var c = $('timeline'), w = c.clientWidth || 800, h = 160, dpr = window.devicePixelRatio || 1;
    c.width = w * dpr;
    c.height = h * dpr;
    c.style.height = h + 'px';
    var g = c.getContext('2d');
    g.scale(dpr, dpr);
    var colors = ['#1f64d6', '#d62728'];
    list.forEach(function (one, i) {
      var ch = R.timelineChart(one, w, h, 24);
      if (!ch)
        return;
      g.strokeStyle = colors[i % 2];
      g.beginPath();
      ch.points.forEach(function (p, k) { if (k) g.lineTo(p[0], p[1]); else g.moveTo(p[0], p[1]); });
      g.stroke();
      g.fillStyle = '#888';
      ch.snaps.forEach(function (x) { g.fillRect(x, 4, 1, h - 8); });
      if (ch.peak) {
        g.fillStyle = '#d62728';
        g.beginPath();
        g.arc(ch.peak[0], ch.peak[1], 4, 0, 2 * Math.PI);
        g.fill();
        g.fillText('peak ' + R.formatSize(ch.max), ch.peak[0] + 6, Math.max(12, ch.peak[1]));
      }
      g.fillStyle = '#444';
      g.fillText(R.formatSize(ch.max), 2, 14);
      g.fillText((ch.duration / 1e9).toFixed(2) + ' s', w - 60, h - 6);
    });
  }

  function marked(node) {
    var f = model.frame[node];
    if (f < 0)
      return false;
    return (state.searchHits && state.searchHits[f]) || (state.rowHits && state.rowHits[f]);
  }

  function draw() {
    var width = canvas.clientWidth || 1000, dpr = window.devicePixelRatio || 1;
    laid = R.layout(model, view, state.zoom, width, MIN_W);
    var height = (laid.depth + 1) * ROW;
    canvas.width = Math.round(width * dpr);
    canvas.height = Math.round(height * dpr);
    canvas.style.height = height + 'px';
    ctx.setTransform(dpr, 0, 0, dpr, 0, 0);
    ctx.font = '12px system-ui, sans-serif';
    ctx.textBaseline = 'middle';
    var any = state.searchHits || state.rowHits, nmarked = 0, drawn = [];
    byDepth = [];
    laid.rects.forEach(function (r) {
      (byDepth[r.depth] || (byDepth[r.depth] = [])).push(r);
      var y = r.depth * ROW, f = r.node >= 0 ? model.frame[r.node] : -1;
      var isMarked = r.node > 0 && marked(r.node);
      if (isMarked)
        nmarked++;
      ctx.fillStyle = r.node === 0 ? 'rgb(235,235,235)' :
                      model.diff && r.node > 0 ? R.diffColor(view.delta[r.node], view.maxAbsDelta) :
                      R.frameColor(model, f);
      ctx.globalAlpha = any && !isMarked && r.node !== 0 ? 0.35 : 1;
      ctx.fillRect(r.x, y, Math.max(r.w - 0.5, 0.5), ROW - 1);
      if (isMarked) {
        ctx.globalAlpha = 1;
        ctx.strokeStyle = '#6a00c9';
        ctx.lineWidth = 2;
        ctx.strokeRect(r.x + 1, y + 1, Math.max(r.w - 2, 0.5), ROW - 3);
      }
      ctx.globalAlpha = 1;
      if (r.w > 30) {
        var label = r.node >= 0 ? R.nodeLabel(model, r.node) : r.merged + ' small';
        var max = Math.floor((r.w - 6) / 6.5);
        if (max < label.length)
          label = max > 2 ? label.slice(0, max - 1) + '…' : '';
        if (label) {
          ctx.fillStyle = '#111';
          ctx.fillText(label, r.x + 3, y + ROW / 2);
          drawn.push(label);
        }
      }
    });
    byDepth.forEach(function (list) { list.sort(function (a, b) { return a.x - b.x; }); });
    canvas.dataset.zoom = R.nodeLabel(model, state.zoom);
    canvas.dataset.marked = String(nmarked);
    canvas.dataset.rects = String(laid.rects.length);
    window.__heapsnapDrawn = drawn;
    showCrumbs();
  }

  function showCrumbs() {
    var c = $('crumbs');
    c.textContent = '';
    R.pathTo(model, state.zoom).forEach(function (n, i) {
      if (i)
        c.appendChild(document.createTextNode(' › '));
      var s = el('span', R.nodeLabel(model, n));
      s.addEventListener('click', function () { zoomTo(n); });
      c.appendChild(s);
    });
  }

  function rectAt(ev) {
    var b = canvas.getBoundingClientRect(), x = ev.clientX - b.left, y = ev.clientY - b.top;
    var list = byDepth[Math.floor(y / ROW)];
    if (!list)
      return null;
    var lo = 0, hi = list.length - 1;
    while (lo <= hi) {
      var mid = (lo + hi) >> 1, r = list[mid];
      if (x < r.x)
        hi = mid - 1;
      else if (x >= r.x + r.w)
        lo = mid + 1;
      else
        return r;
    }
    return null;
  }

  function tipText(r) {
    var total = view.weight[0], unit = state.metric;
    if (r.node < 0) {
      return r.merged + ' frames too small to draw\n' + R.formatSize(r.w / canvas.clientWidth *
             view.weight[state.zoom]) + ' (approx.)';
    }
    var n = r.node, f = model.frame[n], lines = [R.nodeLabel(model, n)];
    function vals(set) {
      var b = R.value(model, n, set, unit, false), k = R.value(model, n, set, unit, true);
      return R.formatSize(b) + ' (' + b + ' B) in ' + k + ' blocks';
    }
    if (model.diff) {
      lines.push('old: ' + vals(0), 'new: ' + vals(1),
                 'change: ' + R.formatSize(view.delta[n], true));
    } else {
      lines.push(unit + ': ' + vals(0));
    }
    lines.push('share of total: ' + (total > 0 ? (100 * view.weight[n] / total).toFixed(2) : '0') + '%');
    if (f >= 0) {
      var fr = model.frames[f];
      lines.push('function: ' + fr[0]);
      if (fr[1] !== null)
        lines.push('file:line: ' + fr[1] + ':' + fr[2]);
      if (fr[3] !== null)
        lines.push('module: ' + fr[3] + (fr[4] & 1 ? ' (runtime)' : ''));
    }
    return lines.join('\n');
  }

  function zoomTo(n) {
    state.zoom = n;
    draw();
  }

  function rebuild() {
    view = R.buildView(model, { metric: state.metric, blocks: false,
                                showRuntime: state.showRuntime });
    if (state.zoom && (view.hidden[state.zoom] || !(view.weight[state.zoom] > 0)))
      state.zoom = 0;
    updateSearch();
    draw();
  }

  function updateSearch() {
    state.searchHits = R.searchFrames(model, state.search);
    var out = $('search-result');
    if (!state.searchHits) {
      out.textContent = state.search ? 'bad expression' : '';
      return;
    }
    var share = R.markedShare(model, view, state.searchHits);
    out.textContent = 'matches ' + (100 * share).toFixed(1) + '% of ' + state.metric;
  }

  function tableColumns() {
    var cols = [['rank', '#'], ['label', 'site']];
    if (data.diff)
      return cols.concat([['size', 'size'], ['size_diff', 'size change'], ['count', 'count'],
                          ['count_diff', 'count change'], ['average', 'average']]);
    return cols.concat([['size', 'size'], ['count', 'count'], ['average', 'average']]);
  }

  function cellText(row, c) {
    var v = row[c];
    if (c === 'size' || c === 'average')
      return R.formatSize(v);
    if (c === 'size_diff')
      return R.formatSize(v, true);
    if (c === 'count_diff')
      return (v >= 0 ? '+' : '') + v;
    return String(v);
  }

  function showTable() {
    var t = data.tables[state.metric][state.key];
    rows = R.tableRows(t, state.key);
    if (state.sort)
      rows = R.sortRows(rows, state.sort.column, state.sort.desc);
    var cols = tableColumns(), thead = $('table').tHead, body = $('table').tBodies[0];
    thead.textContent = '';
    body.textContent = '';
    var hr = el('tr');
    cols.forEach(function (c) {
      var th = el('th', c[1], c[0] === 'label' ? 'site' : '');
      if (state.sort && state.sort.column === c[0])
        th.className += state.sort.desc ? ' sorted-desc' : ' sorted-asc';
      th.addEventListener('click', function () {
        var desc = !(state.sort && state.sort.column === c[0] && state.sort.desc);
        state.sort = { column: c[0], desc: desc };
        showTable();
      });
      hr.appendChild(th);
    });
    thead.appendChild(hr);
    var frag = document.createDocumentFragment();
    rows.forEach(function (row, i) {
      var tr = el('tr');
      cols.forEach(function (c) {
        var td = el('td', cellText(row, c[0]), c[0] === 'label' ? 'site' : '');
        if ((c[0] === 'size_diff' || c[0] === 'count_diff') && row[c[0]])
          td.className = row[c[0]] > 0 ? 'grow' : 'shrink';
        tr.appendChild(td);
      });
      if (row.rank === state.selectedRow)
        tr.className = 'selected';
      tr.addEventListener('click', function () { selectRow(row, tr); });
      frag.appendChild(tr);
    });
    body.appendChild(frag);
    var foot = $('table').tFoot, other = t.other, total = t.total;
    foot.textContent = '';
    if (other && other.entries)
      foot.appendChild(footRow(other.entries + ' other', other));
    foot.appendChild(footRow('total', total));
    $('table-title').textContent = (data.diff ? 'Diff' : 'Top') + ' by ' +
      ($('key').selectedOptions[0] || { textContent: state.key }).textContent + ', ' + state.metric;
  }

  function footRow(label, v) {
    var tr = el('tr');
    tr.appendChild(el('td', ''));
    tr.appendChild(el('td', label, 'site'));
    tr.appendChild(el('td', R.formatSize(v.size)));
    if (data.diff)
      tr.appendChild(el('td', R.formatSize(v.size_diff, true)));
    tr.appendChild(el('td', String(v.count)));
    return tr;
  }

  function selectRow(row, tr) {
    var rowsEls = $('table').tBodies[0].rows;
    for (var i = 0; i < rowsEls.length; i++)
      rowsEls[i].className = '';
    if (state.selectedRow === row.rank) {
      state.selectedRow = -1;
      state.rowHits = null;
    } else {
      state.selectedRow = row.rank;
      state.rowHits = R.rowFrames(model, state.key, row);
      tr.className = 'selected';
    }
    draw();
  }

  function setup() {
    showHeader();
    showTimeline();
    var sel = $('metric');
    data.metrics.forEach(function (m) {
      var o = el('option', m);
      o.value = m;
      sel.appendChild(o);
    });
    sel.addEventListener('change', function () { state.metric = sel.value; rebuild(); showTable(); });
    $('runtime').addEventListener('change', function (e) {
      state.showRuntime = e.target.checked;
      rebuild();
    });
    $('search').addEventListener('input', function (e) {
      state.search = e.target.value;
      updateSearch();
      draw();
    });
    $('reset').addEventListener('click', function () { zoomTo(0); });
    $('key').addEventListener('change', function (e) {
      state.key = e.target.value;
      state.sort = null;
      state.selectedRow = -1;
      state.rowHits = null;
      showTable();
      draw();
    });
    canvas.addEventListener('click', function (ev) {
      var r = rectAt(ev);
      if (r)
        zoomTo(r.node >= 0 ? r.node : r.parent);
    });
    canvas.addEventListener('mousemove', function (ev) {
      var r = rectAt(ev);
      if (!r) {
        tip.hidden = true;
        return;
      }
      tip.textContent = tipText(r);
      tip.hidden = false;
      tip.style.left = Math.min(ev.clientX + 14, window.innerWidth - tip.offsetWidth - 8) + 'px';
      tip.style.top = (ev.clientY + 14) + 'px';
    });
    canvas.addEventListener('mouseleave', function () { tip.hidden = true; });
    window.addEventListener('resize', function () { draw(); });
    $('flame-title').textContent = data.diff ? 'Flame graph: growth (red) and shrinkage (blue)'
                                             : 'Flame graph';
    if (data.limit && data.limit.nodes > data.limit.max)
      $('flame-note').textContent = data.limit.nodes + ' call tree nodes; the ' + data.limit.max +
        ' heaviest are shown, the others merged into "other".';
    rebuild();
    showTable();
    document.body.dataset.ready = '1';
  }

  /* For tests: the state, and the drawn rectangles with their labels in CSS pixels. */
  window.heapsnapReport = {
    state: state, zoomTo: zoomTo, model: model,
    rects: function () {
      return laid.rects.map(function (r) {
        return { label: r.node >= 0 ? R.nodeLabel(model, r.node) : 'other', x: r.x, w: r.w,
                 y: r.depth * ROW, h: ROW };
      });
    }
  };
  setup();
})();
