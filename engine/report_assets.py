"""The CSS and JavaScript inlined into every page of the HTML report
(:mod:`engine.report_html`): no file, font, script or image is fetched."""

CSS = r"""
:root { --ink:#1d2330; --mute:#5b6475; --line:#d5dae3; --band:#f3f5f9; --acc:#1f5fa8; --warn:#b3261e;
        --ok:#1e7a3c; --amber:#8a5a00; }
* { box-sizing: border-box; }
body { font-family: system-ui, -apple-system, "Segoe UI", Roboto, "Helvetica Neue", Arial, sans-serif;
       color: var(--ink); margin: 0; font-size: 14px; line-height: 1.45; background: #fff; }
header.top { background: #1d2a44; color: #fff; padding: 14px 28px; }
header.top h1 { margin: 0; font-size: 20px; }
header.top .sub { color: #c9d3e6; font-size: 13px; }
header.top a { color: #c9e0ff; }
main { padding: 16px 28px 40px; max-width: 1400px; }
h2 { font-size: 17px; margin: 26px 0 8px; border-bottom: 2px solid var(--line); padding-bottom: 3px; }
h3 { font-size: 15px; margin: 18px 0 6px; }
p.note, .note { color: var(--mute); font-size: 13px; }
table { border-collapse: collapse; margin: 6px 0 12px; font-size: 13px; }
th, td { border: 1px solid var(--line); padding: 3px 7px; text-align: left; vertical-align: top; }
th { background: var(--band); font-weight: 600; }
td.num, th.num { text-align: right; font-variant-numeric: tabular-nums; }
tr.incons td { background: #fdecea; }
tr.notcmp td { color: var(--mute); background: #fafafa; }
.badge { display: inline-block; padding: 0 6px; border-radius: 8px; font-size: 12px; border: 1px solid; }
.d-confirmed { color: var(--ok); border-color: var(--ok); }
.d-rejected { color: var(--warn); border-color: var(--warn); }
.d-inconclusive, .d-pending { color: var(--amber); border-color: var(--amber); }
.d-none { color: var(--mute); border-color: var(--line); }
.filters { background: var(--band); border: 1px solid var(--line); padding: 8px 12px; border-radius: 6px;
           display: flex; gap: 18px; flex-wrap: wrap; align-items: center; }
.filters label { font-size: 13px; }
.facts { display: grid; grid-template-columns: max-content 1fr; gap: 2px 14px; margin: 6px 0 10px; }
.facts dt { color: var(--mute); }
.facts dd { margin: 0; }
.big { font-size: 16px; }
.explain { margin: 2px 0 10px; }
.cards { display: grid; grid-template-columns: repeat(auto-fit, minmax(260px, 1fr)); gap: 10px; }
.card { border: 1px solid var(--line); border-radius: 6px; padding: 8px 12px; }
.card .v { font-size: 20px; font-weight: 600; }
.hyp { border-left: 4px solid var(--acc); padding: 4px 10px; background: #f6f9fd; margin: 6px 0; }
svg.pedigree .descent { fill: none; stroke: #444; stroke-width: 1.4; }
svg.pedigree .sym { stroke: #222; stroke-width: 1.6; fill: #fff; }
svg.pedigree .sym.typed { fill: #9fb7d9; }
svg.pedigree .sym.query { fill: #ffd9a8; stroke: #c0392b; stroke-width: 3; }
svg.pedigree .sym.missing { fill: #fff; stroke: #c0392b; stroke-dasharray: 4 3; }
svg.pedigree text { font-size: 11px; text-anchor: middle; fill: #222; }
svg.pedigree text.first { font-weight: 600; }
svg.pedigree text.mark { font-size: 15px; font-weight: 700; fill: #c0392b; }
.legend-ped span { margin-right: 14px; font-size: 12px; }
.sw { display: inline-block; width: 12px; height: 12px; border: 1.5px solid #222; vertical-align: -2px; margin-right: 3px; }
svg.lrplot .frame { fill: #fff; stroke: #999; }
svg.lrplot .grid { stroke: #eee; }
svg.lrplot .axis, svg.lrplot .legend { font-size: 11px; fill: #333; }
svg.lrplot .observed { fill: none; stroke: var(--acc); stroke-width: 2; }
svg.lrplot .chance { fill: none; stroke: var(--warn); stroke-width: 1.6; stroke-dasharray: 6 4; }
svg.lrplot .chance-pt { fill: var(--warn); }
svg.lrplot .thr { stroke: #777; stroke-dasharray: 2 3; }
svg.lrplot .tick-hit { stroke: var(--acc); }
form.recheck { border: 1px solid var(--line); border-radius: 6px; padding: 10px 14px; max-width: 760px; }
form.recheck label { display: block; margin: 6px 0 2px; font-weight: 600; }
form.recheck input[type=text], form.recheck select, form.recheck textarea { width: 100%; font: inherit; padding: 4px; }
button { font: inherit; padding: 4px 12px; cursor: pointer; }
pre.prov { background: var(--band); padding: 8px; font-size: 12px; white-space: pre-wrap; word-break: break-all; }
nav.crumbs { margin: 8px 0; font-size: 13px; }
.mono { font-family: ui-monospace, SFMono-Regular, Menlo, Consolas, monospace; font-size: 12px; }
.sensitive { color: var(--warn); font-size: 12px; }
@media print {
  @page { size: A4; margin: 14mm 12mm; }
  body { font-size: 11px; }
  header.top { background: none; color: #000; border-bottom: 2px solid #000; padding: 0 0 6px; }
  header.top .sub, header.top a { color: #000; }
  main { padding: 0; max-width: none; }
  .noprint, .filters, nav.crumbs, button { display: none !important; }
  table { page-break-inside: auto; width: 100%; }
  thead { display: table-header-group; }
  tr, .card, .hyp, svg, figure, form.recheck, dl.facts { page-break-inside: avoid; break-inside: avoid; }
  h2, h3 { page-break-after: avoid; break-after: avoid; }
  section.page-break { page-break-before: always; break-before: page; }
  form.recheck input, form.recheck textarea, form.recheck select { border: 1px solid #777; }
  .cards { grid-template-columns: repeat(3, 1fr); }
  table { font-size: 10px; }
  .mono { font-size: 9px; }
  a { color: #000; text-decoration: none; }
}
"""

#: The index page: filters by mode, LR threshold and decision; a download of the
#: re-check entries this browser holds.
INDEX_JS = r"""
(function () {
  function q(s) { return document.querySelector(s); }
  function apply() {
    var mode = q('#f-mode').value, lr = parseFloat(q('#f-lr').value), dec = q('#f-dec').value;
    if (isNaN(lr)) { lr = -Infinity; }
    document.querySelectorAll('section.mode').forEach(function (sec) {
      var shown = 0;
      var inMode = (mode === '' || sec.dataset.mode === mode);
      sec.querySelectorAll('tbody tr.hit').forEach(function (tr) {
        var ok = inMode && parseFloat(tr.dataset.lr) >= lr && (dec === '' || tr.dataset.decision === dec);
        tr.style.display = ok ? '' : 'none';
        if (ok) { shown++; }
      });
      sec.style.display = inMode ? '' : 'none';
      var c = sec.querySelector('.shown'); if (c) { c.textContent = shown; }
    });
  }
  ['#f-mode', '#f-lr', '#f-dec'].forEach(function (s) {
    var e = q(s); if (e) { e.addEventListener('input', apply); e.addEventListener('change', apply); }
  });
  var b = q('#export-all');
  if (b) {
    b.addEventListener('click', function () {
      var rows = [];
      try { rows = JSON.parse(localStorage.getItem(STORE_KEY) || '[]'); } catch (e) { rows = []; }
      if (!rows.length) { q('#export-msg').textContent = 'No entries were made in this browser yet: fill in the form on a hit page.'; return; }
      strkinDownload(rows, 'recheck-' + RUN_ID + '.csv');
      q('#export-msg').textContent = rows.length + ' entries downloaded.';
    });
  }
  apply();
})();
"""

#: Shared by both pages: the re-check CSV and its download (a Blob; no server).
COMMON_JS = r"""
var RECHECK_COLUMNS = ['hit_key', 'mode', 'query_id', 'case_id', 'reference_id', 'reviewer', 'decision', 'comment', 'timestamp'];
function strkinCsv(rows) {
  function cell(v) { v = (v === undefined || v === null) ? '' : String(v); return '"' + v.replace(/"/g, '""') + '"'; }
  var out = [RECHECK_COLUMNS.join(',')];
  rows.forEach(function (r) { out.push(RECHECK_COLUMNS.map(function (c) { return cell(r[c]); }).join(',')); });
  return out.join('\r\n') + '\r\n';
}
function strkinDownload(rows, name) {
  var blob = new Blob([strkinCsv(rows)], {type: 'text/csv;charset=utf-8'});
  var a = document.createElement('a');
  a.href = URL.createObjectURL(blob); a.download = name;
  document.body.appendChild(a); a.click();
  setTimeout(function () { URL.revokeObjectURL(a.href); a.remove(); }, 1000);
}
"""

#: A hit page: the re-check form exports its entry (and keeps it in this browser
#: for the index page's download of every entry).
HIT_JS = r"""
(function () {
  var f = document.getElementById('recheck');
  if (!f) { return; }
  f.addEventListener('submit', function (ev) {
    ev.preventDefault();
    var msg = document.getElementById('recheck-msg');
    var rev = f.reviewer.value.trim(), dec = f.decision.value;
    if (!rev || !dec) { msg.textContent = 'Give the reviewer and the decision.'; return; }
    var row = {hit_key: HIT.hit_key, mode: HIT.mode, query_id: HIT.query_id, case_id: HIT.case_id,
               reference_id: HIT.reference_id, reviewer: rev, decision: dec, comment: f.comment.value,
               timestamp: new Date().toISOString().replace(/\.\d+Z$/, 'Z')};
    try {
      var all = JSON.parse(localStorage.getItem(STORE_KEY) || '[]').filter(function (r) { return r.hit_key !== row.hit_key; });
      all.push(row); localStorage.setItem(STORE_KEY, JSON.stringify(all));
    } catch (e) { /* no storage for file pages in this browser: the download still works */ }
    strkinDownload([row], 'recheck-' + HIT.hit_key + '.csv');
    msg.textContent = 'Downloaded recheck-' + HIT.hit_key + '.csv: read it back with  kinship report RESULTS --recheck FILE';
  });
})();
"""
