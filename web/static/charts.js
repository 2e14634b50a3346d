// Live training charts (uPlot, served from the binary): a value per mini-batch as a thin line and
// per epoch as points joined by a thicker one, against epochs done.

export class TrainingChart {
  constructor(element, title, unit) {
    this.element = element;
    this.x = [];
    this.batch = [];
    this.epoch = [];
    this.redraws = 0;
    this.pending = false;
    if (!window.uPlot) {
      element.textContent = 'The chart library is missing: run scripts/setup.sh and rebuild.';
      return;
    }
    const width = Math.max(280, element.clientWidth || 420);
    this.plot = new window.uPlot(
      {
        title,
        width,
        height: 200,
        scales: { x: { time: false } },
        series: [
          { label: 'epochs' },
          { label: 'per mini-batch', stroke: '#6a9fd8', width: 1, points: { show: false } },
          { label: 'per epoch', stroke: '#c0392b', width: 2, spanGaps: true, points: { show: true, size: 7 } },
        ],
        axes: [{ label: 'epochs' }, { label: unit, size: 60 }],
        legend: { live: false },
      },
      [[], [], []],
      element,
    );
  }

  reset() {
    this.x = [];
    this.batch = [];
    this.epoch = [];
    this.draw();
  }

  addBatch(x, value) {
    this.x.push(x);
    this.batch.push(value);
    this.epoch.push(null);
    this.draw();
  }

  // An epoch ends where its last mini-batch does: at x = epochs done.
  addEpoch(x, value) {
    let i = this.x.length - 1;
    while (i >= 0 && Math.abs(this.x[i] - x) > 1e-9) i -= 1;
    if (i < 0) {
      this.x.push(x);
      this.batch.push(null);
      this.epoch.push(value);
    } else {
      this.epoch[i] = value;
    }
    this.draw();
  }

  // At most one redraw a frame, however fast the events come.
  draw() {
    if (this.pending || !this.plot) return;
    this.pending = true;
    requestAnimationFrame(() => {
      this.pending = false;
      this.plot.setData([this.x, this.batch, this.epoch]);
      this.redraws += 1;
    });
  }

  points() {
    return { batches: this.batch.filter((v) => v !== null).length, epochs: this.epoch.filter((v) => v !== null).length };
  }
}
