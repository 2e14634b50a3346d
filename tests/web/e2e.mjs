// `edgetrain serve` in a real browser: Debian's chromium driven by playwright-core (from web/).
// Draws digits with the mouse, trains, adds and deletes samples, fine-tunes, downloads and
// re-uploads the model, and saves screenshots. Every wait is for a state of the page (an attribute
// the page sets, an event), never for a fixed time; the time limits only stop a hung run.
//
//   node tests/web/e2e.mjs --edgetrain build/edgetrain --data ../shared/data/mnist --out build/web-e2e
//
// Exit codes: 0 passed, 1 failed, 77 skipped (no chromium; CTest's SKIP_RETURN_CODE).
import assert from 'node:assert/strict';
import { execFileSync, spawn } from 'node:child_process';
import fs from 'node:fs';
import { createRequire } from 'node:module';
import os from 'node:os';
import path from 'node:path';

const SKIPPED = 77;
const HUNG = 600_000;  // ms: only a run that hangs reaches it

function option(name, fallback) {
  const index = process.argv.indexOf(name);
  return index > 0 ? process.argv[index + 1] : fallback;
}
const edgetrain = path.resolve(option('--edgetrain', 'build/edgetrain'));
const mnist = path.resolve(option('--data', '../shared/data/mnist'));
const out = path.resolve(option('--out', 'build/web-e2e'));
const chromiumPath = process.env.EDGETRAIN_CHROMIUM || '/usr/bin/chromium';

if (!fs.existsSync(chromiumPath)) {
  console.log(`SKIPPED: ${chromiumPath} is not installed (scripts/setup.sh installs Debian's chromium)`);
  process.exit(SKIPPED);
}
let chromium;
try {
  const require = createRequire(new URL('../../web/package.json', import.meta.url));
  ({ chromium } = require('playwright-core'));
} catch (error) {
  console.error('FAILED: playwright-core is not installed in web/node_modules: run scripts/setup.sh ' +
    `(it runs npm ci in web/): ${error.message}`);
  process.exit(1);
}
for (const file of ['train-images-idx3-ubyte.gz', 't10k-images-idx3-ubyte.gz']) {
  if (!fs.existsSync(path.join(mnist, file))) {
    console.error(`FAILED: MNIST is not in ${mnist} (the tests use ../shared/data/mnist)`);
    process.exit(1);
  }
}

fs.mkdirSync(out, { recursive: true });
const work = fs.mkdtempSync(path.join(os.tmpdir(), 'edgetrain-e2e-'));

// ---- The server ---------------------------------------------------------------------------
function startServer() {
  const server = spawn(edgetrain, ['serve', '--port', '0', '--dataset', mnist, '--test-limit', '2000',
    '--threads', '2', '--samples-dir', path.join(work, 'samples')], { cwd: work });
  let output = '';
  const exited = new Promise((resolve) => server.on('exit', (code, signal) => resolve({ code, signal })));
  const url = new Promise((resolve, reject) => {
    server.stdout.on('data', (chunk) => {
      output += chunk;
      const found = /serving on (http:\/\/\S+)/.exec(output);
      if (found) resolve(found[1]);
    });
    server.stderr.on('data', (chunk) => { output += chunk; });
    exited.then(({ code }) => reject(new Error(`edgetrain serve exited (${code}) before serving:\n${output}`)));
  });
  return { server, url, exited, output: () => output };
}

// ---- Drawing with the mouse ---------------------------------------------------------------
// Strokes are polylines in the pad's own 280x280 coordinates; after each, the page's prediction
// for that many strokes is awaited.
async function draw(page, strokes) {
  const box = await page.locator('#pad').boundingBox();
  const at = ([x, y]) => [box.x + (x * box.width) / 280, box.y + (y * box.height) / 280];
  for (const stroke of strokes) {
    const before = await page.evaluate(() => document.getElementById('pad').dataset.strokes || '0');
    await page.mouse.move(...at(stroke[0]));
    await page.mouse.down();
    for (const point of stroke.slice(1)) await page.mouse.move(...at(point), { steps: 8 });
    await page.mouse.up();
    await page.waitForSelector(`#prediction[data-strokes="${Number(before) + 1}"]`);
  }
}
async function clearPad(page) {
  await page.click('#clear');
}

const SEVEN = [[[70, 60], [140, 58], [205, 60]], [[205, 60], [165, 140], [125, 230]]];
const ONE = [[[140, 45], [140, 140], [140, 235]]];
// A 7 the European way, with a crossbar, in a few sizes and places.
function crossedSeven(dx, dy, scale) {
  const p = ([x, y]) => [140 + (x - 140) * scale + dx, 140 + (y - 140) * scale + dy];
  return [[p([70, 60]), p([205, 60])], [p([205, 60]), p([165, 140]), p([125, 230])], [p([105, 150]), p([200, 150])]];
}

// ---- Checks on what the page shows --------------------------------------------------------
async function checkPrediction(page) {
  const shown = await page.evaluate(() => {
    const bars = [...document.querySelectorAll('#bars .bar')].map((bar) => Number(bar.dataset.probability));
    const preview = document.getElementById('preview');
    const pixels = preview.getContext('2d').getImageData(0, 0, preview.width, preview.height).data;
    const gray = [];
    for (let i = 0; i < pixels.length; i += 4) gray.push(pixels[i]);
    return { bars, label: document.getElementById('predicted').textContent, gray, width: preview.width,
      height: preview.height, answer: window.edgetrain.lastPrediction };
  });
  assert.equal(shown.bars.length, 10, 'ten probability bars');
  const sum = shown.bars.reduce((a, b) => a + b, 0);
  assert.ok(Math.abs(sum - 1) < 1e-4, `the probabilities add up to 1 (${sum})`);
  const best = shown.bars.indexOf(Math.max(...shown.bars));
  assert.equal(shown.label, String(best), 'the label shown is the most probable class');
  assert.equal(shown.width, 28);
  assert.equal(shown.height, 28);
  // The preview is exactly the input the server predicted on.
  shown.answer.input.forEach((value, i) => assert.equal(shown.gray[i], Math.round(255 * value), `preview pixel ${i}`));
  // MNIST-like: the longer side of the ink's box is 20 pixels, its centre of mass in pixel (14, 14).
  let mass = 0, mx = 0, my = 0, top = 28, bottom = -1, left = 28, right = -1;
  shown.answer.input.forEach((v, i) => {
    const x = i % 28, y = Math.floor(i / 28);
    mass += v; mx += v * (x + 0.5); my += v * (y + 0.5);
    if (v > 0) { top = Math.min(top, y); bottom = Math.max(bottom, y); left = Math.min(left, x); right = Math.max(right, x); }
  });
  assert.equal(Math.max(bottom - top + 1, right - left + 1), 20, 'the digit fills a 20-pixel box');
  assert.ok(Math.abs(mx / mass - 14.5) <= 0.5 + 1e-9 && Math.abs(my / mass - 14.5) <= 0.5 + 1e-9,
    `centre of mass at (${(mx / mass).toFixed(2)}, ${(my / mass).toFixed(2)})`);
  return shown;
}

async function jobDone(page, kind, run) {
  await page.waitForSelector(`#job-state[data-kind="${kind}"][data-run="${run}"][data-state="done"]`, { timeout: HUNG });
}

// ---- The run ------------------------------------------------------------------------------
const { server, url, exited, output } = startServer();
// A server left running would outlive a failed test: it goes whenever this process does.
process.on('exit', () => server.exitCode === null && server.kill('SIGKILL'));
let context, page;
try {
  // A new, empty profile every run.
  context = await chromium.launchPersistentContext(path.join(work, 'chromium-profile'), {
    executablePath: chromiumPath,
    headless: true,
    acceptDownloads: true,
    viewport: { width: 1280, height: 1000 },
    args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking',
      '--disable-component-update', '--disable-sync'],
  });
  page = context.pages()[0] || (await context.newPage());
} catch (error) {
  console.error('FAILED: chromium did not start:', error.message);
  console.log('0 passed, 1 failed');
  process.exit(1);
}
const pageErrors = [];
page.on('pageerror', (error) => pageErrors.push(error.message));
let passed = 0;
async function step(name, body) {
  process.stdout.write(`e2e: ${name} ... `);
  await body();
  await page.screenshot({ path: path.join(out, `${String(passed + 1).padStart(2, '0')}-${name.replace(/\W+/g, '-')}.png`), fullPage: true });
  passed += 1;
  console.log('ok');
}

try {
  const base = await url;
  await step('page loads', async () => {
    await page.goto(base);
    await page.waitForSelector('body[data-connected="true"]');
    await page.waitForFunction(() => document.getElementById('model-name').textContent.includes('LeNet'));
    assert.equal(await page.textContent('#model-name'), 'LeNet, untrained');
    assert.ok(await page.evaluate(() => typeof window.uPlot === 'function'), 'uPlot is served');
    assert.equal(await page.locator('#loss-chart canvas').count(), 1, 'the loss chart is drawn');
  });

  await step('draw a seven', async () => {
    await draw(page, SEVEN);
    await checkPrediction(page);
  });

  await step('a drawing and predict --digit see the same input', async () => {
    const png = await page.evaluate(() => document.getElementById('pad').toDataURL('image/png'));
    fs.writeFileSync(path.join(work, 'drawing.png'), Buffer.from(png.split(',')[1], 'base64'));
    const model = await (await fetch(base + 'api/model')).arrayBuffer();
    fs.writeFileSync(path.join(work, 'untrained.mlmodel'), Buffer.from(model));
    const page_answer = await page.evaluate(async () => {
      const blob = await new Promise((r) => document.getElementById('pad').toBlob(r, 'image/png'));
      return (await fetch('/api/predict/drawing', { method: 'POST', body: blob, headers: { 'Content-Type': 'image/png' } })).json();
    });
    const cli = JSON.parse(execFileSync(edgetrain, ['predict', '--digit', '--json', 'untrained.mlmodel', 'drawing.png'],
      { cwd: work }).toString());
    assert.deepEqual(cli.probabilities, page_answer.probabilities, 'the same probabilities from the CLI and the page');
  });

  await step('train for two epochs with live progress', async () => {
    await page.fill('#epochs', '2');
    await page.fill('#limit', '2048');
    await page.click('#start');
    await page.waitForSelector('#job-state[data-kind="train"][data-state="running"]');
    await page.waitForFunction(() => Number(document.getElementById('progress').dataset.fraction) > 0, null, { timeout: HUNG });
    await jobDone(page, 'train', 1);
    const seen = await page.evaluate(() => ({ log: window.edgetrain.progressLog, loss: window.edgetrain.charts.loss.points(),
      accuracy: window.edgetrain.charts.accuracy.points(), text: document.getElementById('progress-text').textContent,
      result: document.getElementById('train-result').textContent }));
    assert.equal(seen.log.length, 32, 'a progress update per mini-batch (2048 / 128 x 2 epochs)');
    seen.log.forEach((f, i) => i && assert.ok(f > seen.log[i - 1], 'the progress bar only moves forward'));
    assert.equal(seen.log.at(-1), 1);
    assert.deepEqual(seen.loss, { batches: 32, epochs: 2 });
    assert.deepEqual(seen.accuracy, { batches: 32, epochs: 2 });
    assert.match(seen.text, /samples\/s · ETA/);
    const accuracy = Number(/test accuracy ([\d.]+)%/.exec(seen.result)[1]);
    assert.ok(accuracy > 80, `test accuracy after 2 epochs on 2048 images: ${accuracy}%`);
  });

  await step('the trained model reads a one', async () => {
    await clearPad(page);
    await draw(page, ONE);
    await page.waitForFunction(() => Number(document.getElementById('prediction').dataset.modelVersion) >= 2);
    await checkPrediction(page);
    assert.equal(await page.textContent('#predicted'), '1');
  });

  await step('add and delete samples', async () => {
    await page.selectOption('#sample-label', '7');
    const places = [[0, 0, 1], [-20, 5, 0.9], [15, -10, 0.95], [5, 10, 0.8], [-10, -5, 1.05], [20, 15, 0.85], [0, 0, 0.75]];
    for (const [i, [dx, dy, scale]] of places.entries()) {
      await clearPad(page);
      await draw(page, crossedSeven(dx, dy, scale));
      await page.click('#add-sample');
      await page.waitForSelector(`#samples[data-count="${i + 1}"]`);
    }
    await page.click('#samples figure:last-child button');
    await page.waitForSelector(`#samples[data-count="${places.length - 1}"]`);
    const files = fs.readdirSync(path.join(work, 'samples', '7'));
    assert.equal(files.filter((f) => f.endsWith('.png')).length, places.length - 1, 'PNG files under samples/7/');
    assert.equal(files.length, places.length - 1, 'no temporary file left behind');
  });

  await step('fine-tune on the samples', async () => {
    await page.click('#personalise');
    await jobDone(page, 'personalise', 2);
    const value = (id) => page.evaluate((i) => document.getElementById(i).dataset.value, id);
    const results = {};
    for (const id of ['samples-before', 'samples-after', 'test-before', 'test-after']) results[id] = Number(await value(id));
    for (const [id, v] of Object.entries(results)) assert.ok(v >= 0 && v <= 1, `${id} is an accuracy (${v})`);
    assert.equal(results['samples-after'], 1, 'the held-out crossed sevens are read as 7 after fine-tuning');
    assert.ok(results['test-after'] > 0.8, `the test accuracy stays up (${results['test-after']})`);
    assert.ok(await page.isVisible('#personal-results'));
  });

  await step('download and upload the model', async () => {
    await clearPad(page);
    await draw(page, SEVEN);
    const before = await page.evaluate(() => window.edgetrain.lastPrediction);
    const [download] = await Promise.all([page.waitForEvent('download'), page.click('#download')]);
    const file = path.join(work, download.suggestedFilename());
    await download.saveAs(file);
    assert.equal(path.basename(file), 'lenet.mlmodel');
    execFileSync(edgetrain, ['validate', file]);  // exits 1 on a bad file
    await page.setInputFiles('#upload', file);
    await page.waitForFunction(() => document.getElementById('model-name').textContent === 'lenet.mlmodel');
    const version = Number(await page.getAttribute('#model-info', 'data-version'));
    assert.ok(version > before.model_version, 'a new model is in use');
    await page.waitForSelector(`#prediction[data-model-version="${version}"]`);
    const after = await page.evaluate(() => window.edgetrain.lastPrediction);
    assert.deepEqual(after.probabilities, before.probabilities, 'the re-uploaded model predicts the same');
  });

  await step('the page as a whole', async () => {
    await page.screenshot({ path: path.join(out, 'serve.png'), fullPage: true });
  });

  assert.deepEqual(pageErrors, [], 'no script errors on the page');
  await context.close();
  server.kill('SIGINT');
  const { code } = await exited;
  assert.equal(code, 0, 'Ctrl-C stops the server with exit code 0');
  assert.match(output(), /edgetrain serve: stopped/);
  console.log(`screenshots in ${out}`);
  console.log(`${passed} passed, 0 failed`);
  fs.rmSync(work, { recursive: true, force: true });
} catch (error) {
  console.log('FAILED');
  console.error(error);
  if (pageErrors.length) console.error('page errors:', pageErrors);
  await page.screenshot({ path: path.join(out, 'failure.png'), fullPage: true }).catch(() => {});
  console.error('server output:\n' + output());
  console.log(`${passed} passed, 1 failed`);
  await context.close().catch(() => {});
  server.kill('SIGKILL');
  process.exit(1);
}
