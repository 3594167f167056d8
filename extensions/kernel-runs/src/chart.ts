// The latency chart, drawn as SVG: one point per candidate in the order measured, coloured by
// status (a single run) or by run (two runs overlaid), and each run's best-so-far as a step line.
// Plain SVG instead of plotly keeps the prebuilt extension a few kB (plotly.js-basic is ~1 MB).
import { ICandidate } from './api';

const NS = 'http://www.w3.org/2000/svg';
/** The same colours as the notebook dashboard (kernelbench/tune/records.py STATUS_COLOURS). */
export const STATUS_COLOURS: Record<string, string> = {
  ok: '#1f77b4',
  wrong: '#d62728',
  compile_error: '#7f7f7f',
  runtime_error: '#ff7f0e',
  timeout: '#9467bd',
  slow: '#9ecae1' // measured, then cut short (interpreter sweeps)
};
export const RUN_COLOURS = ['#1f77b4', '#e45756'];

export interface ISeries {
  label: string;
  /** Every point in this colour (overlay); unset: by status. */
  colour?: string;
  candidates: ICandidate[];
}

const W = 420;
const H = 240;
const M = { left: 54, right: 12, top: 26, bottom: 36 };

function el<K extends keyof SVGElementTagNameMap>(
  tag: K,
  attrs: Record<string, string | number>,
  parent?: Element
): SVGElementTagNameMap[K] {
  const node = document.createElementNS(NS, tag);
  for (const [key, value] of Object.entries(attrs)) {
    node.setAttribute(key, String(value));
  }
  parent?.appendChild(node);
  return node;
}

export function formatMs(ms: number): string {
  return ms >= 100 ? ms.toFixed(0) : ms >= 1 ? ms.toPrecision(3) : ms.toPrecision(2);
}

export function latencyChart(series: ISeries[], timer: string): SVGSVGElement {
  const svg = el('svg', { class: 'kb-chart', viewBox: `0 0 ${W} ${H}`, role: 'img' });
  const all = series.flatMap(s => s.candidates.map(c => c.ms)).filter((ms): ms is number => ms !== null && ms > 0);
  const n = Math.max(1, ...series.map(s => s.candidates.length));
  const lo = all.length ? Math.min(...all) : 1;
  const hi = all.length ? Math.max(...all) : 1;
  const log = hi / lo > 20;
  const f = (v: number) => (log ? Math.log10(v) : v);
  const pad = (f(hi) - f(lo)) * 0.08 || (log ? 0.1 : hi * 0.1 || 1);
  const y0 = log ? f(lo) - pad : Math.max(0, f(lo) - pad);
  const y1 = f(hi) + pad;
  const px = (i: number) => M.left + ((i + 0.5) / n) * (W - M.left - M.right);
  const py = (ms: number) => H - M.bottom - ((f(ms) - y0) / (y1 - y0)) * (H - M.top - M.bottom);

  // axes, ticks and labels
  el('line', { x1: M.left, y1: H - M.bottom, x2: W - M.right, y2: H - M.bottom, class: 'kb-axis' }, svg);
  el('line', { x1: M.left, y1: M.top, x2: M.left, y2: H - M.bottom, class: 'kb-axis' }, svg);
  for (let k = 0; k <= 4; k++) {
    const v = y0 + ((y1 - y0) * k) / 4;
    const ms = log ? 10 ** v : v;
    const y = py(ms);
    el('line', { x1: M.left, y1: y, x2: W - M.right, y2: y, class: 'kb-grid' }, svg);
    el('text', { x: M.left - 4, y: y + 3, class: 'kb-tick', 'text-anchor': 'end' }, svg).textContent = formatMs(ms);
  }
  const step = Math.max(1, Math.ceil(n / 8));
  for (let i = 0; i < n; i += step) {
    el('text', { x: px(i), y: H - M.bottom + 13, class: 'kb-tick', 'text-anchor': 'middle' }, svg).textContent = String(
      i + 1
    );
  }
  el('text', { x: (M.left + W - M.right) / 2, y: H - 4, class: 'kb-label', 'text-anchor': 'middle' }, svg).textContent =
    'candidate, in the order measured';
  el('text', { x: 12, y: (M.top + H - M.bottom) / 2, class: 'kb-label', 'text-anchor': 'middle',
    transform: `rotate(-90 12 ${(M.top + H - M.bottom) / 2})` }, svg).textContent = `ms${log ? ' (log)' : ''}`;
  el('text', { x: M.left, y: 14, class: 'kb-label' }, svg).textContent = timer;

  series.forEach((s, r) => {
    // best so far: a step line through the correct candidates
    let best = Infinity;
    const path: string[] = [];
    s.candidates.forEach((c, i) => {
      if (c.status === 'ok' && c.ms !== null && c.ms > 0 && c.ms < best) {
        path.push(best === Infinity ? `M${px(i)},${py(c.ms)}` : `H${px(i)}V${py(c.ms)}`);
        best = c.ms;
      }
    });
    if (path.length) {
      path.push(`H${px(s.candidates.length - 1)}`);
      el('path', { d: path.join(''), class: 'kb-best', stroke: s.colour ?? '#444' }, svg);
    }
    const group = el('g', { class: 'kb-series', 'data-run': s.label }, svg);
    s.candidates.forEach((c, i) => {
      const colour = s.colour ?? STATUS_COLOURS[c.status] ?? '#000';
      const tip = `${s.label} #${c.index + 1}: ${c.status}${c.ms !== null ? `, ${formatMs(c.ms)} ms` : ''}`;
      let mark: SVGElement;
      if (c.ms !== null && c.ms > 0) {
        mark = el('circle', { cx: px(i), cy: py(c.ms), r: 3.5, fill: c.status === 'ok' ? colour : 'none',
          stroke: colour, class: `kb-point kb-${c.status}` }, group);
      } else {
        // no time (compile error, crash, timeout): a cross along the top
        const x = px(i);
        const y = M.top - 6 + r * 3;
        mark = el('path', { d: `M${x - 3},${y - 3}L${x + 3},${y + 3}M${x - 3},${y + 3}L${x + 3},${y - 3}`,
          stroke: colour, class: `kb-failed kb-${c.status}` }, group);
      }
      el('title', {}, mark).textContent = tip;
    });
    if (series.length > 1) {
      const x = W - M.right - 118 + r * 62;
      el('circle', { cx: x, cy: 10, r: 4, fill: s.colour ?? '#444' }, svg);
      el('text', { x: x + 7, y: 14, class: 'kb-legend' }, svg).textContent = s.label;
    }
  });
  return svg;
}
