// The rate chart (uPlot, loaded before this module as a classic script). Its element's data-*
// attributes say what it shows (points, highest rates), for tests and for anyone reading the DOM.

const { uPlot } = globalThis;

export class RateChart {
  constructor(element) {
    this.element = element;
    this.plot = new uPlot(
      {
        width: this.width(),
        height: 220,
        scales: { x: { time: true }, y: { range: (_u, _min, max) => [0, Math.max(1, max * 1.1)] } },
        series: [{}, { label: 'published /s', stroke: '#2563eb', width: 2 }, { label: 'delivered /s', stroke: '#16a34a', width: 2 }],
        axes: [{}, { size: 60 }],
        legend: { live: false },
      },
      [[], [], []],
      element,
    );
    window.addEventListener('resize', () => this.plot.setSize({ width: this.width(), height: 220 }));
  }

  width() {
    return Math.max(320, this.element.clientWidth || 600);
  }

  show(rates) {
    this.plot.setData([rates.t, rates.published, rates.deliveries]);
    const d = this.element.dataset;
    d.points = String(rates.t.length);
    d.maxPublished = String(Math.max(0, ...rates.published));
    d.maxDelivered = String(Math.max(0, ...rates.deliveries));
    d.lastPublished = String(rates.published.at(-1) ?? 0);
  }
}
