// Reference client for kiemidi's load benchmark: the same song → MIDI pipeline (separate →
// wait → transcribe → wait) written idiomatically for Node 20: global fetch (undici, keep-alive
// by default) for KIE, http.createServer for the callbacks, async/await for the flow.
// Prints one JSON line with the fields kiemidi-bench-load prints. Needs no npm install.
//
//   node pipeline.mjs --base-url http://127.0.0.1:PORT [--pipelines N] [--concurrency C]
//        [--mode callback|polling] [--delay-ms D] [--scenario NAME] [--poll-ms 50]
// HTTPS: give the emulator's CA with NODE_EXTRA_CA_CERTS=ca.pem (Node reads it at start-up).
import http from 'node:http';
import fs from 'node:fs';

const args = { baseUrl: '', apiKey: 'kie-emulator-key', pipelines: 1000, concurrency: 256, mode: 'callback',
               delayMs: 0, scenario: '', pollMs: 50 };
for (let i = 2; i < process.argv.length; i++) {
  const a = process.argv[i], v = () => process.argv[++i];
  if (a === '--base-url') args.baseUrl = v();
  else if (a === '--api-key') args.apiKey = v();
  else if (a === '--pipelines') args.pipelines = Number(v());
  else if (a === '--concurrency') args.concurrency = Number(v());
  else if (a === '--mode') args.mode = v();
  else if (a === '--delay-ms') args.delayMs = Number(v());
  else if (a === '--scenario') args.scenario = v();
  else if (a === '--poll-ms') args.pollMs = Number(v());
  else { console.error(`unknown argument ${a}`); process.exit(2); }
}
if (!args.baseUrl) { console.error('--base-url is required'); process.exit(2); }
const scheme = args.baseUrl.startsWith('https') ? 'https' : 'http';
if (!args.scenario) args.scenario = `${args.mode}-${scheme}`;
const headers = { 'Authorization': `Bearer ${args.apiKey}`, 'Content-Type': 'application/json' };
const stageTimeoutMs = args.delayMs + 60000;

// ---- measurement helpers ----
function statusKib(field) {
  const m = fs.readFileSync('/proc/self/status', 'utf8').match(new RegExp(`^${field}:\\s+(\\d+)`, 'm'));
  return m ? Number(m[1]) : 0;
}
const cpuSeconds = () => { const u = process.cpuUsage(); return (u.user + u.system) / 1e6; };
const sysCpuSeconds = () => process.cpuUsage().system / 1e6;
function percentile(v, p) {
  if (!v.length) return 0;
  const s = [...v].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.round(p / 100 * (s.length - 1)))];
}

// ---- KIE calls ----
async function kie(method, path, body) {
  const res = await fetch(args.baseUrl + path, { method, headers, body: body && JSON.stringify(body) });
  const json = await res.json();
  if (json.code !== 200) throw new Error(`${method} ${path}: ${json.code} ${json.msg}`);
  return json.data;
}

// ---- callbacks: task id → waiter, with a buffer for callbacks that beat the submit answer ----
const waiters = new Map(), early = new Map();
function taskIdOf(body) {
  const d = body && body.data;
  return (d && (d.task_id ?? d.taskId)) ?? body.task_id ?? body.taskId;
}
function waitCallback(taskId) {
  if (early.has(taskId)) { const b = early.get(taskId); early.delete(taskId); return Promise.resolve(b); }
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => { waiters.delete(taskId); reject(new Error(`callback timeout ${taskId}`)); }, stageTimeoutMs);
    waiters.set(taskId, (b) => { clearTimeout(timer); resolve(b); });
  });
}
const server = http.createServer((req, res) => {
  const chunks = [];
  req.on('data', (c) => chunks.push(c));
  req.on('end', () => {
    let body;
    try { body = JSON.parse(Buffer.concat(chunks).toString('utf8')); } catch { res.writeHead(400).end(); return; }
    const id = taskIdOf(body);
    res.writeHead(200, { 'Content-Type': 'application/json' }).end('{"status":"received"}');
    const w = waiters.get(id);
    if (w) { waiters.delete(id); w(body); } else early.set(id, body);
  });
});

// ---- polling ----
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
async function poll(path, taskId, done) {
  let interval = args.pollMs;
  const until = Date.now() + stageTimeoutMs;
  let polls = 0;
  for (;;) {
    await sleep(interval);
    const data = await kie('GET', `${path}?taskId=${encodeURIComponent(taskId)}`);
    polls++;
    const r = done(data);
    if (r) return { data, polls };
    if (Date.now() > until) throw new Error(`poll timeout ${taskId}`);
    interval = Math.min(interval * 1.5, args.pollMs * 4);
  }
}
const countNotes = (midiData) => (midiData?.instruments ?? []).reduce((n, i) => n + (i.notes?.length ?? 0), 0);

// ---- the pipeline ----
let callbackBase = '';
const stats = { done: 0, failed: 0, inFlight: 0, overhead: [], firstError: '', polls: 0, callbacks: 0 };
async function pipeline(i) {
  const t0 = performance.now();
  const callbacks = args.mode === 'callback';
  const sep = await kie('POST', '/api/v1/vocal-removal/generate', {
    taskId: `bench-music-${i >> 1}`, audioId: `bench-audio-${i}`, type: 'separate_vocal',
    callBackUrl: callbacks ? `${callbackBase}/separation` : 'https://callback.invalid/polling' });
  if (callbacks) {
    const cb = await waitCallback(sep.taskId);
    if (cb.code !== 200) throw new Error(`separation failed: ${cb.msg}`);
    stats.callbacks++;
  } else {
    const r = await poll('/api/v1/vocal-removal/record-info', sep.taskId, (d) => {
      if (d.successFlag === 'SUCCESS') return true;
      if (d.successFlag !== 'PENDING') throw new Error(`separation ${d.successFlag}`);
      return false;
    });
    stats.polls += r.polls;
  }
  const midi = await kie('POST', '/api/v1/midi/generate', {
    taskId: sep.taskId, callBackUrl: callbacks ? `${callbackBase}/midi` : 'https://callback.invalid/polling' });
  let notes;
  if (callbacks) {
    const cb = await waitCallback(midi.taskId);
    if (cb.code !== 200) throw new Error(`midi failed: ${cb.msg}`);
    notes = countNotes(cb.data?.midiData ?? cb.data);
    stats.callbacks++;
  } else {
    const r = await poll('/api/v1/midi/record-info', midi.taskId, (d) => {
      if (Number(d.successFlag) === 1) return true;
      if (Number(d.successFlag) !== 0) throw new Error(`midi ${d.successFlag}`);
      return false;
    });
    notes = countNotes(r.data.midiData);
    stats.polls += r.polls;
  }
  if (!notes) throw new Error('pipeline returned no notes');
  stats.overhead.push(performance.now() - t0 - 2 * args.delayMs);
}

async function counters() {
  try {
    const res = await fetch(args.baseUrl + '/emulator/counters');
    return res.ok ? await res.json() : null;
  } catch { return null; }
}

async function main() {
  if (args.mode === 'callback') {
    await new Promise((r) => server.listen(0, '127.0.0.1', r));
    callbackBase = `http://127.0.0.1:${server.address().port}/callback`;
  }
  const before = await counters();
  const rssBase = statusKib('VmRSS');
  const cpu0 = cpuSeconds(), sys0 = sysCpuSeconds(), t0 = performance.now();
  let peakInFlight = 0, rssAtPeak = 0;
  const sampler = setInterval(() => {
    const rss = statusKib('VmRSS') - rssBase;
    if (stats.inFlight > peakInFlight || (stats.inFlight === peakInFlight && rss > rssAtPeak)) {
      peakInFlight = stats.inFlight; rssAtPeak = rss;
    }
  }, 50);
  let next = 0;
  async function worker() {
    while (next < args.pipelines) {
      const i = next++;
      stats.inFlight++;
      try { await pipeline(i); stats.done++; }
      catch (e) { stats.failed++; if (!stats.firstError) stats.firstError = String(e.message ?? e); }
      stats.inFlight--;
    }
  }
  await Promise.all(Array.from({ length: Math.min(args.concurrency, args.pipelines) }, worker));
  const secs = (performance.now() - t0) / 1000, cpu = cpuSeconds() - cpu0, sys = sysCpuSeconds() - sys0;
  clearInterval(sampler);
  const after = await counters();
  const n = Math.max(1, stats.done);
  const perPipeline = {};
  let accepted = null, callbacksSent = null, duplicatePaid = null;
  if (before && after) {
    for (const [k, v] of Object.entries(after.requests)) {
      const d = v - (before.requests[k] ?? 0);
      if (d) perPipeline[k] = Number((d / n).toFixed(3));
    }
    accepted = after.tcp_connections_accepted + after.tls_connections_accepted
             - before.tcp_connections_accepted - before.tls_connections_accepted;
    callbacksSent = after.callbacks_sent - before.callbacks_sent;
    duplicatePaid = after.duplicate_paid_submissions - before.duplicate_paid_submissions;
  }
  const line = {
    client: 'node', scenario: args.scenario, mode: args.mode, scheme, pipelines: args.pipelines,
    concurrency: args.concurrency, delay_ms: args.delayMs, ok: stats.done, failed: stats.failed,
    elapsed_s: Number(secs.toFixed(3)), pipelines_per_s: Number((stats.done / secs).toFixed(1)),
    client_cpu_s_per_1000: Number((cpu / n * 1000).toFixed(4)),
    client_sys_cpu_s_per_1000: Number((sys / n * 1000).toFixed(4)), peak_rss_kib: statusKib('VmHWM'),
    peak_in_flight: peakInFlight, rss_delta_at_peak_kib: rssAtPeak,
    rss_per_inflight_kib: Number((peakInFlight ? rssAtPeak / peakInFlight : 0).toFixed(2)),
    rss_base_kib: rssBase,
    peak_rss_growth_per_inflight_kib: Number((peakInFlight ? (statusKib('VmHWM') - rssBase) / peakInFlight : 0).toFixed(2)),
    pool_size: null /* undici's default Agent: no per-origin connection limit */,
    requests_per_pipeline: perPipeline, emulator_connections_accepted: accepted, callbacks_sent: callbacksSent,
    duplicate_paid_submissions: duplicatePaid,
    polls_per_pipeline: Number((stats.polls / n).toFixed(3)), callbacks_per_pipeline: Number((stats.callbacks / n).toFixed(3)),
    overhead_ms_p50: Number(percentile(stats.overhead, 50).toFixed(3)),
    overhead_ms_p99: Number(percentile(stats.overhead, 99).toFixed(3)),
  };
  if (stats.firstError) line.first_error = stats.firstError;
  console.log(JSON.stringify(line));
  server.close();
  server.closeAllConnections?.();
  process.exit(stats.failed ? 1 : 0);
}
// Bounded: the whole run gives up after the scenario's worst case.
setTimeout(() => { console.error('pipeline.mjs: time limit reached'); process.exit(3); },
           2 * stageTimeoutMs + 120000 + args.pipelines * 5).unref();
main().catch((e) => { console.error(e); process.exit(1); });
