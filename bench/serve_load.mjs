// Load check of `edgetrain serve` (issue #12): 1,000 predictions of MNIST test digits from 8
// concurrent clients (keep-alive connections on loopback), first with the server idle, then while
// a training run is going on; every answer is checked (HTTP 200, ten probabilities adding up to 1,
// the label their arg-max), and the latencies are reported (median, p90, p99, max).
//
//   node bench/serve_load.mjs [--edgetrain build/edgetrain] [--data ../shared/data/mnist]
//                             [--requests 1000] [--clients 8]
//
// The server first trains the LeNet for one epoch, so its answers can be compared with the true
// digits too (reported, not required: the model keeps changing while it trains).
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import zlib from 'node:zlib';

function option(name, fallback) {
  const index = process.argv.indexOf(name);
  return index > 0 ? process.argv[index + 1] : fallback;
}
const edgetrain = path.resolve(option('--edgetrain', 'build/edgetrain'));
const data = path.resolve(option('--data', '../shared/data/mnist'));
const requests = Number(option('--requests', '1000'));
const clients = Number(option('--clients', '8'));

function readIdx(file, offset) {
  return zlib.gunzipSync(fs.readFileSync(path.join(data, file))).subarray(offset);
}
const images = readIdx('t10k-images-idx3-ubyte.gz', 16);
const labels = readIdx('t10k-labels-idx1-ubyte.gz', 8);
const bodies = [];
for (let i = 0; i < requests; ++i) {
  const n = i % labels.length;
  bodies.push(JSON.stringify({ pixels: Array.from(images.subarray(n * 784, (n + 1) * 784), (v) => v / 255) }));
}

const work = fs.mkdtempSync(path.join(os.tmpdir(), 'edgetrain-load-'));
const server = spawn(edgetrain, ['serve', '--port', '0', '--dataset', data, '--samples-dir', path.join(work, 'samples')],
  { cwd: work, stdio: ['ignore', 'pipe', 'inherit'] });
process.on('exit', () => server.exitCode === null && server.kill('SIGKILL'));
const base = await new Promise((resolve, reject) => {
  let output = '';
  server.stdout.on('data', (chunk) => {
    output += chunk;
    const found = /serving on http:\/\/([^/]+)\//.exec(output);
    if (found) resolve(found[1]);
  });
  server.on('exit', () => reject(new Error('edgetrain serve exited:\n' + output)));
});
const [host, port] = base.split(':');

// One HTTP request on `agent`; resolves to { status, body, ms }.
function request(agent, method, route, body) {
  return new Promise((resolve, reject) => {
    const started = performance.now();
    const req = http.request({ host, port, method, path: route, agent,
      headers: body ? { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(body) } : {} }, (res) => {
      const chunks = [];
      res.on('data', (chunk) => chunks.push(chunk));
      res.on('end', () => resolve({ status: res.statusCode, body: Buffer.concat(chunks).toString(), ms: performance.now() - started }));
    });
    req.on('error', reject);
    req.end(body);
  });
}
const control = new http.Agent({ keepAlive: true, maxSockets: 1 });
const api = async (method, route, body) => JSON.parse((await request(control, method, route, body)).body);
async function trainingRunning() {
  return (await api('GET', '/api/train/status?history=0')).running;
}
async function waitForTrainingEnd() {
  while (await trainingRunning()) await new Promise((r) => setTimeout(r, 200));
}

// `requests` predictions from `clients` clients, each on its own keep-alive connection.
async function load() {
  let next = 0;
  const latencies = [];
  const failures = [];
  const versions = new Set();
  let matches = 0;
  const worker = async () => {
    const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
    while (next < requests) {
      const i = next++;
      const { status, body, ms } = await request(agent, 'POST', '/api/predict', bodies[i]);
      latencies.push(ms);
      let answer = null;
      try {
        answer = JSON.parse(body);
      } catch {}
      const p = answer && answer.probabilities;
      const ok = status === 200 && Array.isArray(p) && p.length === 10 && p.every(Number.isFinite) &&
        Math.abs(p.reduce((a, b) => a + b, 0) - 1) < 1e-4 && answer.label === p.indexOf(Math.max(...p));
      if (!ok) failures.push({ i, status, body: body.slice(0, 200) });
      else {
        versions.add(answer.model_version);
        matches += answer.label === labels[i % labels.length];
      }
    }
    agent.destroy();
  };
  const started = performance.now();
  await Promise.all(Array.from({ length: clients }, worker));
  const seconds = (performance.now() - started) / 1000;
  latencies.sort((a, b) => a - b);
  const at = (q) => latencies[Math.min(latencies.length - 1, Math.floor(q * latencies.length))];
  return { answered: latencies.length - failures.length, failures, seconds, versions: versions.size, matches,
    median: at(0.5), p90: at(0.9), p99: at(0.99), max: latencies.at(-1) };
}

function report(name, r) {
  console.log(`${name}: ${r.answered}/${requests} answered correctly by ${r.versions} model version(s) in ` +
    `${r.seconds.toFixed(2)} s (${Math.round(requests / r.seconds)} predictions/s); latency median ` +
    `${r.median.toFixed(2)} ms, p90 ${r.p90.toFixed(2)} ms, p99 ${r.p99.toFixed(2)} ms, max ${r.max.toFixed(2)} ms; ` +
    `${(100 * r.matches / requests).toFixed(1)}% match the true digit`);
  for (const failure of r.failures.slice(0, 5)) console.log('  failed:', JSON.stringify(failure));
}

let failed = false;
try {
  console.log(`edgetrain serve on ${base}, ${os.cpus().length} cores; training the LeNet for one epoch first`);
  await api('POST', '/api/train/start', JSON.stringify({ epochs: 1 }));
  await waitForTrainingEnd();
  const idle = await load();
  report('idle', idle);
  await api('POST', '/api/train/start', JSON.stringify({ epochs: 100 }));
  while ((await api('GET', '/api/train/status?history=0')).samples_done === 0) await new Promise((r) => setTimeout(r, 50));
  const busy = await load();
  const stillTraining = await trainingRunning();
  const status = await api('GET', '/api/train/status?history=0');
  report('while training', busy);
  console.log(`training ${stillTraining ? 'was still running' : 'had ENDED'} when the last answer came ` +
    `(${Math.round(status.samples_per_second)} samples/s)`);
  failed = idle.failures.length > 0 || busy.failures.length > 0 || !stillTraining;
  console.log(JSON.stringify({ requests, clients, idle: { ...idle, failures: idle.failures.length },
    training: { ...busy, failures: busy.failures.length }, training_samples_per_second: status.samples_per_second }));
  await api('POST', '/api/train/stop', '');
} finally {
  const exited = new Promise((r) => (server.exitCode !== null ? r() : server.on('exit', r)));
  server.kill('SIGINT');
  await exited;
  fs.rmSync(work, { recursive: true, force: true });
}
process.exit(failed ? 1 : 0);
