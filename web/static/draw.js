// The drawing pad (mouse, pen and touch through pointer events), the probability bars and the
// 28x28 preview of what the model saw.

const INK_WIDTH = 22;  // on the 280x280 pad: about MNIST's stroke width once scaled into 20x20

export class DrawingPad {
  // onStroke(): called when a stroke ends (the pointer lifted).
  constructor(canvas, onStroke) {
    this.canvas = canvas;
    this.context = canvas.getContext('2d');
    this.onStroke = onStroke;
    this.strokes = 0;
    this.last = null;
    this.clear();
    canvas.addEventListener('pointerdown', (event) => this.down(event));
    canvas.addEventListener('pointermove', (event) => this.move(event));
    canvas.addEventListener('pointerup', (event) => this.up(event));
    canvas.addEventListener('pointercancel', (event) => this.up(event));
  }

  clear() {
    this.context.fillStyle = '#fff';
    this.context.fillRect(0, 0, this.canvas.width, this.canvas.height);
    this.strokes = 0;
    this.canvas.dataset.strokes = '0';
  }

  isEmpty() {
    return this.strokes === 0;
  }

  point(event) {
    const box = this.canvas.getBoundingClientRect();
    return {
      x: ((event.clientX - box.left) * this.canvas.width) / box.width,
      y: ((event.clientY - box.top) * this.canvas.height) / box.height,
    };
  }

  down(event) {
    event.preventDefault();
    this.canvas.setPointerCapture(event.pointerId);
    this.last = this.point(event);
    this.line(this.last, this.last);
  }

  move(event) {
    if (!this.last) return;
    event.preventDefault();
    const point = this.point(event);
    this.line(this.last, point);
    this.last = point;
  }

  up(event) {
    if (!this.last) return;
    this.last = null;
    this.strokes += 1;
    this.canvas.dataset.strokes = String(this.strokes);
    this.onStroke();
  }

  line(from, to) {
    const c = this.context;
    c.strokeStyle = '#000';
    c.lineWidth = INK_WIDTH;
    c.lineCap = 'round';
    c.lineJoin = 'round';
    c.beginPath();
    c.moveTo(from.x, from.y);
    c.lineTo(to.x, to.y);
    c.stroke();
  }

  // The drawing as a PNG (dark ink on white: the server inverts it, as MNIST's ink is bright).
  png() {
    return new Promise((resolve) => this.canvas.toBlob(resolve, 'image/png'));
  }
}

// One bar per class, the predicted one highlighted; data-probability holds the exact value.
export function showProbabilities(container, labels, probabilities, predicted) {
  if (container.children.length !== probabilities.length) {
    container.replaceChildren();
    probabilities.forEach((_, k) => {
      const row = document.createElement('div');
      row.className = 'bar';
      row.innerHTML = '<span class="bar-label"></span><span class="bar-track"><span class="bar-fill">' +
        '</span></span><span class="bar-value"></span>';
      row.querySelector('.bar-label').textContent = labels[k] ?? k;
      container.appendChild(row);
    });
  }
  probabilities.forEach((p, k) => {
    const row = container.children[k];
    row.dataset.probability = String(p);
    row.classList.toggle('predicted', k === predicted);
    row.querySelector('.bar-fill').style.width = (100 * p).toFixed(1) + '%';
    row.querySelector('.bar-value').textContent = (100 * p).toFixed(1) + '%';
  });
}

// The model's input (values in [0, 1], row-major, side x side) drawn as gray levels.
export function showInput(canvas, input) {
  const side = Math.round(Math.sqrt(input.length));
  canvas.width = side;
  canvas.height = side;
  const context = canvas.getContext('2d');
  const image = context.createImageData(side, side);
  input.forEach((value, i) => {
    const level = Math.round(255 * value);
    image.data.set([level, level, level, 255], 4 * i);
  });
  context.putImageData(image, 0, 0);
}
