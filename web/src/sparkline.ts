/**
 * A small SVG line of a numeric property's recent values. Decorative (aria-hidden):
 * the value itself is shown as text next to it.
 */
const SVG = 'http://www.w3.org/2000/svg';
const WIDTH = 100;
const HEIGHT = 24;
/** Samples kept per property: about a minute of a sensor that reports every second. */
export const SPARK_POINTS = 60;

export class Sparkline {
  readonly element: SVGSVGElement;
  private readonly line: SVGPolylineElement;
  private readonly samples: number[] = [];

  constructor() {
    this.element = document.createElementNS(SVG, 'svg');
    this.element.setAttribute('class', 'spark');
    this.element.setAttribute('viewBox', `0 0 ${WIDTH} ${HEIGHT}`);
    this.element.setAttribute('preserveAspectRatio', 'none');
    this.element.setAttribute('aria-hidden', 'true');
    this.element.setAttribute('focusable', 'false');
    this.line = document.createElementNS(SVG, 'polyline');
    this.line.setAttribute('vector-effect', 'non-scaling-stroke');
    this.element.appendChild(this.line);
  }

  push(value: number): void {
    if (!Number.isFinite(value)) return;
    this.samples.push(value);
    if (this.samples.length > SPARK_POINTS) this.samples.splice(0, this.samples.length - SPARK_POINTS);
    this.draw();
  }

  private draw(): void {
    const count = this.samples.length;
    this.element.dataset.points = String(count);
    if (count < 2) {
      this.line.setAttribute('points', '');
      return;
    }
    let min = Infinity;
    let max = -Infinity;
    for (const sample of this.samples) {
      if (sample < min) min = sample;
      if (sample > max) max = sample;
    }
    // A flat series sits in the middle instead of dividing by zero.
    const span = max - min || 1;
    const offset = max === min ? HEIGHT / 2 : 0;
    // The line spans the whole width from the second sample on, and gets denser up to SPARK_POINTS.
    const step = WIDTH / (count - 1);
    const points = this.samples.map((sample, index) => {
      const x = index * step;
      const y = offset || HEIGHT - 1 - ((sample - min) / span) * (HEIGHT - 2);
      return `${x.toFixed(1)},${y.toFixed(1)}`;
    });
    this.line.setAttribute('points', points.join(' '));
  }
}
