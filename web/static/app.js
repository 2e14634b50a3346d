// edgetrain serve's page: draw and predict, train with live charts, personalise with samples.
import { api, subscribe, withToken } from './api.js';
import { DrawingPad, showInput, showProbabilities } from './draw.js';
import { TrainingChart } from './charts.js';

const $ = (id) => document.getElementById(id);

// Everything the page knows, on window for the browser test (and the curious).
const state = {
  info: null,
  run: 0,
  kind: '',
  settings: {},
  lastX: -1,
  progressLog: [],  // the progress bar's fraction after every mini-batch event
  predictionTicket: 0,
  predicting: false,
  predictAgain: false,
  lastPrediction: null,
};
window.edgetrain = state;

function notice(text, isError = false) {
  $('notice').textContent = text;
  $('notice').className = isError ? 'error' : '';
}
const failed = (error) => notice(error.message, true);

// ---- The model ------------------------------------------------------------------------------
function setLimits(input, parameter, reset) {
  if (!parameter) {
    input.disabled = true;
    return;
  }
  const values = parameter.set || parameter.range || [];
  input.min = values.length ? Math.min(...values) : '';
  input.max = values.length ? Math.max(...values) : '';
  input.title = parameter.set ? 'allowed: ' + parameter.set.join(', ')
    : parameter.range ? `allowed: ${parameter.range[0]} to ${parameter.range[1]}` : '';
  input.disabled = !!parameter.set && parameter.set.length === 1;
  if (reset || input.value === '') input.value = parameter.default;
}

async function loadInfo() {
  const info = await api('/api/model/info');
  const changed = !state.info || state.info.version !== info.version;
  state.info = info;
  $('model-name').textContent = info.description;
  $('model-info').dataset.version = info.version;
  $('model-details').textContent = `${info.parameters.toLocaleString()} parameters · input ` +
    `${info.input.type} · ${info.updatable ? 'updatable: ' + info.updatable_layers.join(', ') : 'not updatable'}` +
    ` · data: ${info.dataset} · model ${info.version}`;
  $('save').textContent = 'Save to ' + info.model_file;
  $('samples-dir').textContent = info.samples_dir;
  const select = $('sample-label');
  if (select.options.length !== info.class_labels.length) {
    select.replaceChildren(...info.class_labels.map((label, k) => new Option(String(label), String(k))));
  }
  const update = info.update || {};
  const fresh = changed && !info.training;
  setLimits($('epochs'), update.epochs, fresh && !$('epochs').value);
  setLimits($('batch-size'), update.batch_size, fresh && !$('batch-size').value);
  setLimits($('learning-rate'), update.learning_rate, fresh && !$('learning-rate').value);
  setLimits($('personal-epochs'), update.epochs, fresh && !$('personal-epochs').value);
  $('draw-section').classList.toggle('disabled', info.digit_field_size === 0);
  setBusy(info.training);
}

function setBusy(busy) {
  const updatable = state.info && state.info.updatable;
  $('start').disabled = busy || !updatable;
  $('personalise').disabled = busy || !updatable;
  $('stop').disabled = !busy;
  $('upload').disabled = busy;
}

// ---- Drawing and predicting -----------------------------------------------------------------
const pad = new DrawingPad($('pad'), () => predict());

// One prediction at a time; a stroke or a new model meanwhile asks for one more after it.
async function predict() {
  if (pad.isEmpty()) return;
  if (state.predicting) {
    state.predictAgain = true;
    return;
  }
  state.predicting = true;
  const strokes = pad.strokes;
  try {
    const answer = await api('/api/predict/drawing', { method: 'POST', body: await pad.png(), contentType: 'image/png' });
    if (!pad.isEmpty()) showPrediction(answer, strokes);
  } catch (error) {
    failed(error);
  } finally {
    state.predicting = false;
    if (state.predictAgain) {
      state.predictAgain = false;
      predict();
    }
  }
}

function showPrediction(answer, strokes) {
  state.lastPrediction = answer;
  $('predicted').textContent = String(answer.label);
  $('confidence').textContent = (100 * answer.probabilities[answer.class_index]).toFixed(1) + '% sure';
  showProbabilities($('bars'), state.info ? state.info.class_labels : [], answer.probabilities, answer.class_index);
  showInput($('preview'), answer.input);
  const box = $('prediction');
  box.dataset.strokes = String(strokes);
  box.dataset.modelVersion = String(answer.model_version);
  box.dataset.label = String(answer.label);
}

function clearDrawing() {
  pad.clear();
  state.lastPrediction = null;
  $('predicted').textContent = '?';
  $('confidence').textContent = '';
  $('bars').replaceChildren();
  showInput($('preview'), new Array(28 * 28).fill(0));
  delete $('prediction').dataset.strokes;
}

$('clear').addEventListener('click', clearDrawing);

// ---- Samples --------------------------------------------------------------------------------
async function loadSamples() {
  const { samples } = await api('/api/samples');
  const container = $('samples');
  container.replaceChildren();
  const labels = [...new Set(samples.map((s) => s.label))];
  for (const label of labels) {
    const group = document.createElement('div');
    group.className = 'sample-group';
    const mine = samples.filter((s) => s.label === label);
    const heading = document.createElement('div');
    heading.className = 'sample-heading';
    heading.textContent = `${label}  (${mine.length})`;
    group.appendChild(heading);
    for (const sample of mine) {
      const figure = document.createElement('figure');
      figure.className = 'sample';
      figure.dataset.name = `${sample.label}/${sample.name}`;
      const image = new Image(28, 28);
      image.src = withToken(sample.url);
      image.alt = `sample ${sample.label}/${sample.name}`;
      const remove = document.createElement('button');
      remove.type = 'button';
      remove.textContent = '×';
      remove.title = 'delete this sample';
      remove.setAttribute('aria-label', `delete ${sample.label}/${sample.name}`);
      remove.addEventListener('click', () =>
        api(sample.url, { method: 'DELETE' }).then(loadSamples).catch(failed));
      figure.append(image, remove);
      group.appendChild(figure);
    }
    container.appendChild(group);
  }
  container.dataset.count = String(samples.length);
}

$('add-sample').addEventListener('click', async () => {
  if (pad.isEmpty()) return notice('draw a digit first', true);
  const label = $('sample-label').value;
  try {
    await api('/api/samples?label=' + encodeURIComponent(label), { method: 'POST', body: await pad.png(), contentType: 'image/png' });
    notice(`added a sample of ${$('sample-label').selectedOptions[0].text}`);
    clearDrawing();
    await loadSamples();
  } catch (error) {
    failed(error);
  }
});

// ---- Training -------------------------------------------------------------------------------
const lossChart = new TrainingChart($('loss-chart'), 'loss', 'loss');
const accuracyChart = new TrainingChart($('accuracy-chart'), 'training accuracy', 'accuracy');
state.charts = { loss: lossChart, accuracy: accuracyChart };

function formatSeconds(seconds) {
  const s = Math.max(0, Math.round(seconds));
  return `${Math.floor(s / 60)}:${String(s % 60).padStart(2, '0')}`;
}

function showProgress(p) {
  const fraction = p.total_samples ? Math.min(1, p.samples_done / p.total_samples) : 0;
  $('progress-bar').style.width = (100 * fraction).toFixed(1) + '%';
  $('progress').dataset.fraction = String(fraction);
  $('progress').setAttribute('aria-valuenow', (100 * fraction).toFixed(0));
  const epochs = state.settings.epochs || p.epochs || 0;
  $('progress-text').textContent = `epoch ${p.epoch + 1}/${epochs} · batch ${p.batch + 1}/${p.batches_per_epoch}` +
    ` · loss ${p.loss.toFixed(4)} · accuracy ${(100 * p.accuracy).toFixed(1)}%` +
    ` · ${Math.round(p.samples_per_second).toLocaleString()} samples/s · ETA ${formatSeconds(p.eta_seconds)}`;
  state.progressLog.push(fraction);
}

function setJobState(run, kind, jobState, text) {
  const element = $('job-state');
  element.dataset.run = String(run);
  element.dataset.kind = kind;
  element.dataset.state = jobState;
  element.textContent = text || `${kind ? kind + ': ' : ''}${jobState}`;
  setBusy(jobState === 'running');
}

function resetRun(run, kind, settings) {
  state.run = run;
  state.kind = kind;
  state.settings = settings || {};
  state.lastX = -1;
  state.progressLog = [];
  lossChart.reset();
  accuracyChart.reset();
}

function addBatch(event) {
  if (event.x <= state.lastX) return;  // already in the status this stream began with
  state.lastX = event.x;
  lossChart.addBatch(event.x, event.loss);
  accuracyChart.addBatch(event.x, event.accuracy);
  showProgress(event);
}

function applyStatus(status) {
  resetRun(status.run, status.kind, status.settings);
  const h = status.history || {};
  (h.batch_x || []).forEach((x, i) => {
    lossChart.addBatch(x, h.batch_loss[i]);
    accuracyChart.addBatch(x, h.batch_accuracy[i]);
    state.lastX = x;
  });
  (h.epoch_x || []).forEach((x, i) => {
    lossChart.addEpoch(x, h.epoch_loss[i]);
    accuracyChart.addEpoch(x, h.epoch_accuracy[i]);
  });
  if (status.run) {
    showProgress(status);
    setJobState(status.run, status.kind, status.state, status.phase && status.running ? `${status.kind}: ${status.phase}` : '');
    if (!status.running) showResult(status.kind, status.result);
  }
}

function percent(value) {
  return value === null || value === undefined ? '—' : (100 * value).toFixed(1) + '%';
}

function showResult(kind, result) {
  if (!result) return;
  if (kind === 'train') {
    $('train-result').textContent = result.test_accuracy !== undefined
      ? `test accuracy ${percent(result.test_accuracy)} on ${result.test_samples} images · ${result.epochs_completed} epochs in ${result.seconds.toFixed(1)} s`
      : `${result.epochs_completed} epochs in ${result.seconds.toFixed(1)} s${result.cancelled ? ' (stopped)' : ''}`;
  } else if (kind === 'personalise') {
    const table = $('personal-results');
    table.hidden = false;
    $('held-out-count').textContent = result.samples.held_out;
    $('test-count').textContent = result.test.samples;
    for (const [id, value] of [['samples-before', result.samples.before], ['samples-after', result.samples.after],
      ['test-before', result.test.before], ['test-after', result.test.after]]) {
      $(id).textContent = percent(value);
      $(id).dataset.value = value === null ? '' : String(value);
    }
    $('held-out-list').textContent = result.samples.held_out_predictions
      .map((p) => `${p.label}/${p.name}: ${p.before} → ${p.after}`).join(' · ');
  }
}

$('train-form').addEventListener('submit', async (event) => {
  event.preventDefault();
  const request = {
    epochs: Number($('epochs').value),
    batch_size: Number($('batch-size').value),
    learning_rate: Number($('learning-rate').value),
  };
  if ($('limit').value) request.limit = Number($('limit').value);
  try {
    await api('/api/train/start', { method: 'POST', json: request });
    notice('training started');
  } catch (error) {
    failed(error);
  }
});

$('stop').addEventListener('click', () => api('/api/train/stop', { method: 'POST' }).catch(failed));

$('personalise-form').addEventListener('submit', async (event) => {
  event.preventDefault();
  const request = { original_share: Number($('original-share').value) };
  if ($('personal-epochs').value && !$('personal-epochs').disabled) request.epochs = Number($('personal-epochs').value);
  try {
    await api('/api/personalise', { method: 'POST', json: request });
    notice('fine-tuning on your samples');
  } catch (error) {
    failed(error);
  }
});

// ---- The model file -------------------------------------------------------------------------
$('download').href = withToken('/api/model');

$('upload').addEventListener('change', async () => {
  const file = $('upload').files[0];
  if (!file) return;
  try {
    await api('/api/model?name=' + encodeURIComponent(file.name), {
      method: 'POST', body: await file.arrayBuffer(), contentType: 'application/octet-stream',
    });
    notice(`now using ${file.name}`);
    await loadInfo();
    predict();
  } catch (error) {
    failed(error);
  } finally {
    $('upload').value = '';
  }
});

$('save').addEventListener('click', async () => {
  try {
    const saved = await api('/api/model/save', { method: 'POST' });
    notice(`saved model ${saved.version} to ${saved.path}`);
    await loadInfo();
  } catch (error) {
    failed(error);
  }
});

// ---- Events from the server -----------------------------------------------------------------
subscribe({
  status(status) {
    applyStatus(status);
    document.body.dataset.connected = 'true';
  },
  began(event) {
    resetRun(event.run, event.kind, event.settings);
    setJobState(event.run, event.kind, 'running');
    $('train-result').textContent = '';
  },
  batch: addBatch,
  epoch(event) {
    lossChart.addEpoch(event.x, event.loss);
    accuracyChart.addEpoch(event.x, event.accuracy);
  },
  model(event) {
    $('model-info').dataset.version = event.version;
    predict();
  },
  phase(event) {
    setJobState(event.run, state.kind, 'running', `${state.kind}: ${event.text}`);
  },
  finished(event) {
    setJobState(event.run, event.kind, event.state, event.error ? `${event.kind} failed: ${event.error}` : '');
    showResult(event.kind, event.result);
    loadInfo().catch(failed);
  },
  lagged() {
    api('/api/train/status').then(applyStatus).catch(failed);
  },
  disconnected() {
    document.body.dataset.connected = 'false';
  },
});

clearDrawing();
loadInfo().then(loadSamples).catch(failed);
