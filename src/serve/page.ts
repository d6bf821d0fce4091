/**
 * `GET /`: one self-contained page (inline CSS and script, no external assets) listing the models with
 * their inputs/outputs, live request and latency figures from the statistics endpoint, and a form to
 * try `predict` (image upload or feature fields) or raw `infer` JSON.
 */
import type { FastifyInstance } from 'fastify';
import { VERSION } from '../version.js';

const PAGE = /* html */ `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1">
<title>modelship serve</title><link rel="icon" href="data:,">
<style>
:root{font-family:system-ui,sans-serif;color:#1b2330;background:#f5f7fa}
body{margin:0 auto;max-width:980px;padding:1.5rem}
h1{font-size:1.4rem;margin:0 0 .2rem} h2{font-size:1.1rem;margin:0}
.muted{color:#667085;font-size:.85rem}
.card{background:#fff;border:1px solid #d8dee8;border-radius:8px;padding:1rem 1.2rem;margin:1rem 0}
table{border-collapse:collapse;font-size:.85rem;margin:.5rem 0} td,th{padding:.2rem .8rem .2rem 0;text-align:left}
.figs{display:flex;gap:1.5rem;margin:.6rem 0;font-size:.9rem} .figs b{display:block;font-size:1.15rem}
form{display:flex;flex-wrap:wrap;gap:.6rem;align-items:end;margin-top:.6rem} label{display:flex;flex-direction:column;font-size:.8rem}
input[type=number]{width:8rem} textarea{width:100%;height:6rem;font-family:monospace;font-size:.8rem}
button{background:#2563eb;color:#fff;border:0;border-radius:6px;padding:.45rem 1rem;cursor:pointer}
.result{margin-top:.6rem;font-size:.9rem} .bar{height:.7rem;background:#2563eb;border-radius:3px}
.row{display:grid;grid-template-columns:9rem 1fr 5rem;gap:.5rem;align-items:center;margin:.15rem 0}
.error{color:#b42318} .ok{color:#067647}
#key{width:14rem}
</style></head><body>
<h1>modelship serve</h1>
<div class="muted">v${VERSION} · <span id="health">…</span> · <a href="/docs">API docs</a> · <a href="/metrics">metrics</a>
 · <label style="display:inline">API key <input id="key" type="password" placeholder="(if the server needs one)"></label></div>
<div id="models"></div>
<script>
const $ = (s, el = document) => el.querySelector(s);
const esc = (s) => String(s).replace(/[&<>"']/g, (c) => ({'&':'&amp;','<':'&lt;','>':'&gt;','"':'&quot;',"'":'&#39;'}[c]));
const keyInput = $('#key');
keyInput.value = localStorage.getItem('modelship-key') || '';
keyInput.onchange = () => { localStorage.setItem('modelship-key', keyInput.value); load(); };
const headers = () => keyInput.value ? { 'x-api-key': keyInput.value } : {};
async function api(path, init = {}) {
  const res = await fetch(path, { ...init, headers: { ...headers(), ...(init.headers || {}) } });
  const body = await res.json().catch(() => ({}));
  if (!res.ok) throw new Error(body.error || res.status + ' ' + res.statusText);
  return body;
}
const last = {};
function tensorRows(list) { return list.map((t) => '<tr><td>' + esc(t.name) + '</td><td>' + esc(t.datatype) + '</td><td>[' + t.shape.join(', ') + ']</td></tr>').join(''); }
function form(m) {
  const pre = m.page.preprocess;
  if (pre && pre.kind === 'image') return '<form data-kind="image"><label>image (' + pre.size.join('×') + ', ' + pre.channels + ' ch)<input type="file" name="image" accept="image/*" required></label><button>Predict</button></form>';
  if (pre && pre.kind === 'features') return '<form data-kind="features">' + pre.names.map((n) => '<label>' + esc(n) + '<input type="number" step="any" name="' + esc(n) + '" value="0" required></label>').join('') + '<button>Predict</button></form>';
  const sample = { inputs: m.inputs.map((t) => ({ name: t.name, datatype: t.datatype, shape: t.shape.map((d) => (d < 0 ? 1 : d)), data: Array(t.shape.map((d) => (d < 0 ? 1 : d)).reduce((a, b) => a * b, 1)).fill(t.datatype === 'BYTES' ? '' : 0) })) };
  return '<form data-kind="infer"><label style="width:100%">infer request (JSON)<textarea name="body">' + esc(JSON.stringify(sample)) + '</textarea></label><button>Infer</button></form>';
}
function showResult(el, r) {
  if (r.error) { el.innerHTML = '<span class="error">' + esc(r.error) + '</span>'; return; }
  if (r.predictions) {
    const p = r.predictions[0];
    let html = '';
    if (p && p.top_k) html = p.top_k.map((c) => '<div class="row"><span>' + esc(c.label) + '</span><div class="bar" style="width:' + (c.score * 100).toFixed(1) + '%"></div><span>' + (c.score * 100).toFixed(1) + '%</span></div>').join('');
    else html = '<pre>' + esc(JSON.stringify(p, null, 1)) + '</pre>';
    el.innerHTML = '<div class="ok prediction">' + (p && p.label !== undefined ? 'prediction: <b>' + esc(p.label) + '</b>' : 'result') + '</div>' + html + '<div class="muted">' + r.latency_ms.total.toFixed(2) + ' ms (compute ' + r.latency_ms.compute.toFixed(2) + ' ms)</div>';
  } else el.innerHTML = '<pre>' + esc(JSON.stringify(r.outputs, null, 1).slice(0, 2000)) + '</pre>';
}
async function submit(ev, m) {
  ev.preventDefault();
  const f = ev.target, out = $('.result', f.parentElement);
  out.textContent = '…';
  try {
    let init;
    if (f.dataset.kind === 'image') { const fd = new FormData(); fd.append('image', f.image.files[0]); init = { method: 'POST', body: fd }; }
    else if (f.dataset.kind === 'features') { const o = {}; for (const el of f.querySelectorAll('input')) o[el.name] = Number(el.value); init = { method: 'POST', body: JSON.stringify(o), headers: { 'content-type': 'application/json' } }; }
    else init = { method: 'POST', body: f.body.value, headers: { 'content-type': 'application/json' } };
    showResult(out, await api('/v2/models/' + encodeURIComponent(m.name) + (f.dataset.kind === 'infer' ? '/infer' : '/predict'), init));
  } catch (e) { showResult(out, { error: e.message }); }
  refresh();
}
async function load() {
  const root = $('#models');
  try {
    const models = await api('/ui/models');
    root.innerHTML = models.map((m) => '<div class="card model" data-name="' + esc(m.name) + '"><h2>' + esc(m.name) + ' <span class="muted">v' + esc(m.version) + ' · ' + esc(m.state) + (m.max_batch_size ? ' · max batch ' + m.max_batch_size : '') + '</span></h2>' +
      '<table><tr><th>inputs</th><th></th><th></th></tr>' + tensorRows(m.inputs) + '<tr><th>outputs</th><th></th><th></th></tr>' + tensorRows(m.outputs) + '</table>' +
      '<div class="figs"><span>requests<b class="f-req">0</b></span><span>failures<b class="f-fail">0</b></span><span>req/s<b class="f-rate">0</b></span><span>mean latency<b class="f-lat">–</b></span><span>mean batch<b class="f-batch">–</b></span></div>' +
      (m.state === 'READY' ? form(m) : '') + '<div class="result"></div></div>').join('');
    for (const m of models) { const f = $('.model[data-name="' + CSS.escape(m.name) + '"] form'); if (f) f.onsubmit = (ev) => submit(ev, m); }
    refresh();
  } catch (e) { root.innerHTML = '<div class="card error">' + esc(e.message) + '</div>'; }
}
async function refresh() {
  try {
    const ready = await fetch('/v2/health/ready');
    $('#health').textContent = ready.ok ? 'ready' : 'not ready';
    const { model_stats } = await api('/v2/models/stats');
    const now = performance.now();
    for (const s of model_stats) {
      const card = $('.model[data-name="' + CSS.escape(s.name) + '"]');
      if (!card) continue;
      const st = s.inference_stats, n = st.success.count + st.fail.count;
      const prev = last[s.name];
      $('.f-req', card).textContent = n;
      $('.f-fail', card).textContent = st.fail.count;
      if (prev) $('.f-rate', card).textContent = ((n - prev.n) / ((now - prev.t) / 1000)).toFixed(1);
      $('.f-lat', card).textContent = st.success.count ? (st.success.ns / st.success.count / 1e6).toFixed(2) + ' ms' : '–';
      $('.f-batch', card).textContent = s.execution_count ? (s.inference_count / s.execution_count).toFixed(1) : '–';
      last[s.name] = { n, t: now };
    }
  } catch { $('#health').textContent = 'unreachable'; }
}
load();
setInterval(refresh, 2000);
</script></body></html>`;

export async function pageRoutes(app: FastifyInstance): Promise<void> {
  app.get('/', { config: { auth: false, rateLimit: false }, schema: { hide: true } }, async (_req, reply) => reply.type('text/html; charset=utf-8').send(PAGE));
}
