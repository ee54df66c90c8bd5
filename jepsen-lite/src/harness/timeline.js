// timeline.html's drawing: the operations come as a compact JSON array
// (#ops-data) and only those in the visible time window and rows are drawn,
// on one canvas the size of the view, so that every operation of a long run
// is reachable at any zoom. See timeline.rs for the data's layout.
(function () {
  var body = document.body;
  window.addEventListener('error', function (e) { body.dataset.jsError = String(e.message || e); });
  var data = JSON.parse(document.getElementById('ops-data').textContent);
  var root = document.documentElement, scroll = document.querySelector('.scroll');
  var axis = document.getElementById('axis'), grid = document.getElementById('grid');
  var lanesEl = document.getElementById('lanes'), labels = document.getElementById('lane-labels');
  var canvas = document.getElementById('ops-canvas'), tip = document.getElementById('tip');
  var level = document.getElementById('zoom-level'), zoom = 1, ROW = 18, MAX_ZOOM = 16384;
  var span = data.span || 1;
  var COLOURS = ['#66bb6a', '#90a4ae', '#ff8f00', '#e53935', '#bdbdbd'];
  var OUTCOMES = ['ok', 'fail: CAS found another value (expected)', 'fail', 'info (indeterminate)', 'never completed'];

  // Decode: [dStart, duration | -1, outcome, f, key | -1, node | -1, lane, process, value, error].
  var ops = [], t = 0;
  data.ops.forEach(function (r) {
    t += r[0];
    ops.push({ s: t, e: r[1] < 0 ? span : t + r[1], done: r[1] >= 0, o: r[2], f: data.functions[r[3]],
               key: r[4] < 0 ? null : data.keys[r[4]], node: r[5], lane: r[6], p: r[7], v: r[8], err: r[9] || '' });
  });
  var failing = data.failing >= 0 ? ops[data.failing] : null;

  // Rows: each grouping packs its groups' operations into rows where none
  // overlap (the process grouping uses the lanes computed by the page).
  function numericFirst(a, b) {
    var x = Number(a), y = Number(b);
    if (a !== '' && b !== '' && Number.isFinite(x) && Number.isFinite(y)) return x - y;
    return a < b ? -1 : a > b ? 1 : 0;
  }
  function layout(mode) {
    var rows = [], groups = {};
    if (mode === 'process') {
      data.lanes.forEach(function (name) { rows.push({ label: name, ops: [] }); });
      ops.forEach(function (op) { if (rows[op.lane]) rows[op.lane].ops.push(op); });
      return rows;
    }
    ops.forEach(function (op) {
      var g = mode === 'key' ? (op.key === null ? '(no key)' : 'key ' + op.key)
                             : (op.node < 0 ? '(no server)' : 'server n' + op.node);
      (groups[g] = groups[g] || []).push(op);
    });
    Object.keys(groups).sort(function (a, b) {
      return numericFirst(a.replace(/^\S+ n?/, ''), b.replace(/^\S+ n?/, ''));
    }).forEach(function (g) {
      var free = [], first = rows.length;
      groups[g].forEach(function (op) {
        var i = free.findIndex(function (f) { return f < op.s; });
        if (i < 0) { i = free.length; free.push(0); rows.push({ label: free.length === 1 ? g : '', ops: [] }); }
        free[i] = op.e;
        rows[first + i].ops.push(op);
      });
    });
    return rows;
  }
  var rows = [];
  function setMode(mode) {
    rows = layout(mode);
    lanesEl.style.height = rows.length * ROW + 'px';
    var html = '';
    rows.forEach(function (r, i) { html += '<div class="lane-label" style="top:' + i * ROW + 'px"></div>'; });
    labels.innerHTML = html;
    Array.prototype.forEach.call(labels.children, function (el, i) { el.textContent = rows[i].label; el.title = rows[i].label; });
    body.dataset.lanes = mode;
    draw();
  }

  function nice(raw) {
    var m = Math.pow(10, Math.floor(Math.log10(raw)));
    return [1, 2, 5, 10].map(function (k) { return k * m; }).filter(function (s) { return s >= raw; })[0];
  }
  function ticks() {
    var spanS = span / 1e6, step = nice(spanS * 110 / Math.max(axis.clientWidth, 1));
    var digits = Math.min(9, Math.max(0, Math.ceil(-Math.log10(step)))), a = '', g = '';
    var first = Math.floor(viewStart() / 1e6 / step), last = Math.ceil(viewEnd() / 1e6 / step);
    for (var k = Math.max(first, 0); k <= last && k * step <= spanS * (1 + 1e-9); k++) {
      var left = (100 * k * step / spanS).toFixed(6) + '%';
      a += '<span class="tick" style="left:' + left + '">' + (k * step).toFixed(digits) + '</span>';
      g += '<div class="gridline" style="left:' + left + '"></div>';
    }
    axis.innerHTML = a;
    grid.innerHTML = g;
  }
  function labelWidth() { return labels.offsetWidth; }
  function trackWidth() { return axis.clientWidth; }
  function viewStart() { return Math.max(0, scroll.scrollLeft / trackWidth() * span); }
  function viewEnd() { return Math.min(span, (scroll.scrollLeft + scroll.clientWidth - labelWidth()) / trackWidth() * span); }
  function x(time) { return (time - viewStart()) / span * trackWidth(); }
  function bisect(list, fn) { var lo = 0, hi = list.length; while (lo < hi) { var mid = (lo + hi) >> 1; if (fn(list[mid])) hi = mid; else lo = mid + 1; } return lo; }

  function text(op) {
    var v = op.v === '' ? '' : ' ' + op.v;
    return op.f + (op.key === null ? '' : ' ' + op.key) + v;
  }
  function draw() {
    // The canvas covers the visible part of the lanes, never more (it
    // would grow the scrolled area).
    var top = Math.max(0, scroll.scrollTop - lanesEl.offsetTop);
    var w = Math.max(1, scroll.clientWidth - labelWidth());
    var h = Math.max(1, Math.min(scroll.clientHeight, rows.length * ROW - top));
    canvas.style.left = scroll.scrollLeft + labelWidth() + 'px';
    canvas.style.top = top + 'px';
    canvas.style.width = w + 'px';
    canvas.style.height = h + 'px';
    var ratio = window.devicePixelRatio || 1;
    canvas.width = Math.round(w * ratio);
    canvas.height = Math.round(h * ratio);
    var ctx = canvas.getContext('2d');
    ctx.setTransform(ratio, 0, 0, ratio, 0, 0);
    ctx.clearRect(0, 0, w, h);
    ctx.font = '10px monospace';
    ctx.textBaseline = 'middle';
    var t0 = viewStart(), t1 = viewEnd(), drawn = 0;
    var r0 = Math.floor(top / ROW), r1 = Math.min(rows.length, Math.ceil((top + h) / ROW));
    for (var r = r0; r < r1; r++) {
      var list = rows[r].ops, y = r * ROW - top + 3;
      for (var i = bisect(list, function (op) { return op.e >= t0; }); i < list.length && list[i].s <= t1; i++) {
        var op = list[i], a = x(op.s), b = x(op.e), bw = Math.max(2, b - a);
        ctx.fillStyle = COLOURS[op.o];
        ctx.fillRect(a, y, bw, 12);
        if (!op.done) { ctx.fillStyle = 'rgba(255,255,255,0.5)'; for (var s = a + 6; s < a + bw; s += 12) ctx.fillRect(s, y, Math.min(6, a + bw - s), 12); }
        if (op === failing) { ctx.strokeStyle = '#000'; ctx.lineWidth = 2; ctx.strokeRect(a - 1, y - 2, bw + 2, 16); }
        if (bw > 28) {
          var room = Math.floor((Math.min(b, w) - Math.max(a, 0) - 4) / 6), label = text(op);
          if (room > 2) { ctx.fillStyle = '#111'; ctx.fillText(label.length > room ? label.slice(0, room - 1) + '…' : label, Math.max(a, 0) + 2, y + 6.5); }
        }
        drawn++;
      }
    }
    if (failing) {
      var fx = x(failing.s);
      if (fx >= 0 && fx <= w) { ctx.fillStyle = '#d50000'; ctx.fillRect(fx - 1, 0, 2, h); }
    }
    body.dataset.drawn = drawn;
  }

  function details(op) {
    var lines = ['p' + op.p + ' ' + op.f + (op.key === null ? '' : ' key ' + op.key) + (op.v === '' ? '' : ' value ' + op.v),
                 OUTCOMES[op.o] + ' · invoked ' + (op.s / 1e6).toFixed(6) + ' s' +
                 (op.done ? ' · latency ' + human(op.e - op.s) : '') + (op.node >= 0 ? ' · answered by server n' + op.node : '')];
    if (op.err) lines.push('error: ' + op.err);
    if (op === failing) lines.push(data.failingText);
    return lines.join('\n');
  }
  function human(us) { return us < 1000 ? us + ' µs' : us < 1e6 ? (us / 1000).toFixed(1) + ' ms' : (us / 1e6).toFixed(3) + ' s'; }
  function at(ev) {
    var rect = canvas.getBoundingClientRect(), px = ev.clientX - rect.left, py = ev.clientY - rect.top;
    var top = Math.max(0, scroll.scrollTop - lanesEl.offsetTop), row = rows[Math.floor((py + top) / ROW)];
    if (!row) return null;
    var time = viewStart() + px / trackWidth() * span, slack = 3 / trackWidth() * span;
    var i = bisect(row.ops, function (op) { return op.e >= time - slack; });
    var op = row.ops[i];
    return op && op.s <= time + slack ? op : null;
  }
  canvas.addEventListener('mousemove', function (ev) {
    var op = at(ev);
    if (!op) { tip.style.display = 'none'; return; }
    tip.textContent = details(op);
    tip.style.display = 'block';
    tip.style.left = Math.min(ev.clientX + 12, window.innerWidth - tip.offsetWidth - 8) + 'px';
    tip.style.top = ev.clientY + 16 + 'px';
  });
  canvas.addEventListener('mouseleave', function () { tip.style.display = 'none'; });

  function setZoom(z, centre) {
    zoom = Math.min(Math.max(z, 1), MAX_ZOOM);
    root.style.setProperty('--zoom', zoom);
    level.textContent = (zoom < 10 ? zoom : Math.round(zoom)) + '\u00d7';
    scroll.scrollLeft = centre / span * trackWidth() - (scroll.clientWidth - labelWidth()) / 2;
    ticks();
    draw();
  }
  function centre() { return (viewStart() + viewEnd()) / 2; }
  document.querySelectorAll('.zoom button[data-zoom]').forEach(function (button) {
    button.addEventListener('click', function () {
      var factor = Number(button.getAttribute('data-zoom'));
      setZoom(factor ? zoom * factor : 1, centre());
    });
  });
  function goToFailing() {
    // About 40 times the operation's length in view, at least 50 ms.
    var want = Math.max(40 * (failing.e - failing.s), 50000);
    setZoom(span / want, (failing.s + failing.e) / 2);
    var row = rows.findIndex(function (r) { return r.ops.indexOf(failing) >= 0; });
    if (row >= 0) scroll.scrollTop = lanesEl.offsetTop + row * ROW - scroll.clientHeight / 2;
  }
  var go = document.getElementById('go-failing');
  if (go) go.addEventListener('click', goToFailing);
  document.querySelectorAll('input[name="lanes"]').forEach(function (input) {
    input.addEventListener('change', function () {
      if (input.checked) { setMode(input.value); if (failing) goToFailing(); }
    });
  });
  var pending = false;
  function later() { if (!pending) { pending = true; requestAnimationFrame(function () { pending = false; ticks(); draw(); }); } }
  scroll.addEventListener('scroll', later);
  window.addEventListener('resize', later);

  // `timeline.html#lanes=key` (or `server`) opens with that grouping.
  var asked = (/lanes=(process|key|server)/.exec(location.hash) || [])[1] || 'process';
  document.querySelectorAll('input[name="lanes"]').forEach(function (input) { input.checked = input.value === asked; });
  setMode(asked);
  ticks();
  if (failing) goToFailing();
  body.dataset.ops = ops.length;
  body.dataset.rendered = 'ok';
})();
