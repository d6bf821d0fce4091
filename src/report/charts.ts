/**
 * Inline SVG charts, rendered to strings at report time (no script, no network in the page): d3-scale
 * for scales and ticks, d3-shape for paths, d3-array for histogram bins.
 */
import { bin, extent, max } from 'd3-array';
import { format } from 'd3-format';
import { scaleBand, scaleLinear, scaleLog } from 'd3-scale';
import { line } from 'd3-shape';

export const PALETTE = ['#4e79a7', '#f28e2b', '#e15759', '#76b7b2', '#59a14f', '#edc948', '#b07aa1', '#ff9da7', '#9c755f', '#bab0ac'];
export const colorOf = (i: number) => PALETTE[i % PALETTE.length]!;

const WIDTH = 560;
const HEIGHT = 280;
const M = { top: 34, right: 16, bottom: 44, left: 64 };

export function escapeHtml(s: string): string {
  return s.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!);
}

const num = (v: number) => (Number.isFinite(v) ? Number(v.toFixed(2)) : 0);
const tickFormat = format('.3~s');
/** Short number for ticks and labels: 0.0123 → "0.0123", 12345 → "12.3k". */
export function short(v: number): string {
  if (!Number.isFinite(v)) return String(v);
  const a = Math.abs(v);
  if (a === 0) return '0';
  if (a >= 1000) return tickFormat(v);
  if (a >= 100) return v.toFixed(0);
  if (a >= 1) return Number(v.toPrecision(3)).toString();
  return Number(v.toPrecision(2)).toString();
}

function frame(title: string, body: string, xLabel: string, yLabel: string, legend: { name: string; color: string }[] = []): string {
  const perRow = 3;
  const rows = Math.ceil(legend.length / perRow);
  const height = HEIGHT + rows * 16;
  const legendItems = legend
    .map((l, i) => {
      const x = M.left + (i % perRow) * 165;
      const y = HEIGHT + Math.floor(i / perRow) * 16;
      return `<g transform="translate(${x},${y})"><rect width="10" height="10" y="-9" fill="${l.color}"/><text x="14">${escapeHtml(truncate(l.name, 24))}</text></g>`;
    })
    .join('');
  return (
    `<svg class="chart" viewBox="0 0 ${WIDTH} ${height}" width="${WIDTH}" height="${height}" role="img" aria-label="${escapeHtml(title)}">` +
    `<text class="title" x="${M.left}" y="18">${escapeHtml(title)}</text>` +
    body +
    `<text class="axis-label" x="${M.left + (WIDTH - M.left - M.right) / 2}" y="${HEIGHT - M.bottom + 34}" text-anchor="middle">${escapeHtml(xLabel)}</text>` +
    `<text class="axis-label" transform="translate(14,${M.top + (HEIGHT - M.top - M.bottom) / 2}) rotate(-90)" text-anchor="middle">${escapeHtml(yLabel)}</text>` +
    (legend.length ? `<g class="legend">${legendItems}</g>` : '') +
    `</svg>`
  );
}

const truncate = (s: string, n: number) => (s.length > n ? `${s.slice(0, n - 1)}…` : s);

function yAxis(ticks: number[], y: (v: number) => number, fmt: (v: number) => string = short): string {
  return ticks
    .map((t) => {
      const py = num(y(t));
      return `<line class="grid" x1="${M.left}" x2="${WIDTH - M.right}" y1="${py}" y2="${py}"/><text class="tick" x="${M.left - 6}" y="${py + 4}" text-anchor="end">${fmt(t)}</text>`;
    })
    .join('');
}

function xAxis(ticks: number[], x: (v: number) => number, fmt: (v: number) => string = short): string {
  const y0 = HEIGHT - M.bottom;
  return (
    `<line class="axis" x1="${M.left}" x2="${WIDTH - M.right}" y1="${y0}" y2="${y0}"/>` +
    ticks.map((t) => `<text class="tick" x="${num(x(t))}" y="${y0 + 16}" text-anchor="middle">${fmt(t)}</text>`).join('')
  );
}

/** Ticks of a scale; on a log scale only 1, 2 and 5 times powers of ten, so labels do not collide. */
function logTicks(x: { ticks(n?: number): number[] }, log: boolean): number[] {
  const ticks = x.ticks(6);
  if (!log) return ticks;
  return ticks.filter((t) => [1, 2, 5].includes(Number((t / 10 ** Math.floor(Math.log10(t))).toFixed(6))));
}

export interface Series {
  name: string;
  points: [number, number][];
  color?: string;
}

export interface LineChartOptions {
  title: string;
  xLabel: string;
  yLabel: string;
  series: Series[];
  /** 'log2' for batch sizes and thread counts (ticks at the data), 'log' for spans over decades. */
  xScale?: 'linear' | 'log2' | 'log';
  /** 'log' when the values span more than a decade (a latency tail); linear otherwise. */
  yScale?: 'linear' | 'log';
  /** Draw a dot at every point (sparse data). */
  dots?: boolean;
  yFromZero?: boolean;
}

export function lineChart(o: LineChartOptions): string {
  const all = o.series.flatMap((s) => s.points).filter(([a, b]) => Number.isFinite(a) && Number.isFinite(b));
  if (!all.length) return frame(o.title, `<text class="empty" x="${WIDTH / 2}" y="${HEIGHT / 2}">no data</text>`, o.xLabel, o.yLabel);
  const [x0, x1] = extent(all, (p) => p[0]) as [number, number];
  const [y0, y1] = extent(all, (p) => p[1]) as [number, number];
  const range: [number, number] = [M.left, WIDTH - M.right];
  const log = o.xScale !== undefined && o.xScale !== 'linear' && x0 > 0;
  const x = log
    ? scaleLog()
        .base(o.xScale === 'log2' ? 2 : 10)
        .domain([x0, x1 === x0 ? x0 * 2 : x1])
        .range(range)
    : scaleLinear().domain([x0, x1 === x0 ? x0 + 1 : x1]).range(range);
  const yLog = o.yScale === 'log' && y0 > 0 && y1 / y0 > 10;
  const y = yLog
    ? scaleLog().domain([y0, y1]).nice().range([HEIGHT - M.bottom, M.top])
    : scaleLinear()
        .domain([o.yFromZero ? Math.min(0, y0) : y0, y1 === y0 ? y1 + Math.abs(y1 || 1) * 0.1 : y1])
        .nice()
        .range([HEIGHT - M.bottom, M.top]);
  const xTicks = log && o.xScale === 'log2' ? [...new Set(all.map((p) => p[0]))].sort((a, b) => a - b) : logTicks(x, log);
  const path = line<[number, number]>()
    .x((p) => num(x(p[0])))
    .y((p) => num(y(p[1])));
  const body =
    yAxis(yLog ? logTicks(y, true) : y.ticks(5), y) +
    xAxis(xTicks, x) +
    o.series
      .map((s, i) => {
        const color = s.color ?? colorOf(i);
        const pts = s.points.filter(([a, b]) => Number.isFinite(a) && Number.isFinite(b));
        const dots = o.dots ? pts.map((p) => `<circle cx="${num(x(p[0]))}" cy="${num(y(p[1]))}" r="3" fill="${color}"><title>${escapeHtml(s.name)}: ${short(p[0])}, ${short(p[1])}</title></circle>`).join('') : '';
        return `<path class="series" d="${path(pts)}" stroke="${color}"><title>${escapeHtml(s.name)}</title></path>${dots}`;
      })
      .join('');
  return frame(o.title, body, o.xLabel, o.yLabel, o.series.length > 1 ? o.series.map((s, i) => ({ name: s.name, color: s.color ?? colorOf(i) })) : []);
}

export interface Bar {
  label: string;
  value: number;
  color?: string;
  /** Interval drawn as a whisker (e.g. a 95% confidence interval). */
  low?: number;
  high?: number;
  /** Text at the end of the bar (default: the value). */
  text?: string;
}

export interface BarChartOptions {
  title: string;
  valueLabel: string;
  bars: Bar[];
  /** A vertical reference line (e.g. ratio 1.0). */
  reference?: number;
  fromZero?: boolean;
}

/** Horizontal bars, one per label, with optional whiskers and a reference line. */
export function barChart(o: BarChartOptions): string {
  const bars = o.bars.filter((b) => Number.isFinite(b.value));
  const height = Math.max(HEIGHT, M.top + M.bottom + bars.length * 26);
  const left = 190;
  if (!bars.length) return frame(o.title, `<text class="empty" x="${WIDTH / 2}" y="${HEIGHT / 2}">no data</text>`, o.valueLabel, '');
  const values = bars.flatMap((b) => [b.value, b.low ?? b.value, b.high ?? b.value]);
  if (o.reference !== undefined) values.push(o.reference);
  const lo = o.fromZero === false ? Math.min(...values) : Math.min(0, ...values);
  const x = scaleLinear()
    .domain([lo, (max(values) ?? 1) * 1.08 || 1])
    .nice()
    .range([left, WIDTH - M.right - 110]);
  const y = scaleBand()
    .domain(bars.map((_, i) => String(i)))
    .range([M.top, height - M.bottom])
    .padding(0.25);
  const base = x(Math.max(lo, 0));
  let body = x
    .ticks(5)
    .map((t) => `<line class="grid" x1="${num(x(t))}" x2="${num(x(t))}" y1="${M.top}" y2="${height - M.bottom}"/><text class="tick" x="${num(x(t))}" y="${height - M.bottom + 16}" text-anchor="middle">${short(t)}</text>`)
    .join('');
  bars.forEach((b, i) => {
    const by = y(String(i))!;
    const bh = y.bandwidth();
    const color = b.color ?? colorOf(i);
    const x0 = Math.min(base, x(b.value));
    const w = Math.max(1, Math.abs(x(b.value) - base));
    body += `<text class="tick" x="${left - 6}" y="${num(by + bh / 2 + 4)}" text-anchor="end">${escapeHtml(truncate(b.label, 30))}</text>`;
    body += `<rect class="bar" x="${num(x0)}" y="${num(by)}" width="${num(w)}" height="${num(bh)}" fill="${color}"><title>${escapeHtml(b.label)}: ${escapeHtml(b.text ?? short(b.value))}</title></rect>`;
    if (b.low !== undefined && b.high !== undefined) {
      const cy = num(by + bh / 2);
      body += `<path class="whisker" d="M${num(x(b.low))},${cy}H${num(x(b.high))}M${num(x(b.low))},${cy - 5}V${cy + 5}M${num(x(b.high))},${cy - 5}V${cy + 5}"/>`;
    }
    body += `<text class="value" x="${num(Math.max(x(b.value), x(b.high ?? b.value)) + 4)}" y="${num(by + bh / 2 + 4)}">${escapeHtml(b.text ?? short(b.value))}</text>`;
  });
  if (o.reference !== undefined) body += `<line class="reference" x1="${num(x(o.reference))}" x2="${num(x(o.reference))}" y1="${M.top - 4}" y2="${height - M.bottom}"/>`;
  return (
    `<svg class="chart" viewBox="0 0 ${WIDTH} ${height}" width="${WIDTH}" height="${height}" role="img" aria-label="${escapeHtml(o.title)}">` +
    `<text class="title" x="${M.left}" y="18">${escapeHtml(o.title)}</text>${body}` +
    `<text class="axis-label" x="${(left + WIDTH - M.right) / 2}" y="${height - M.bottom + 34}" text-anchor="middle">${escapeHtml(o.valueLabel)}</text></svg>`
  );
}

/**
 * Latency distributions as overlaid histogram outlines (shared bins, counts as a share of each series).
 * Bins are logarithmic when the values span more than a decade, as call latencies with a tail do.
 */
export function histogramChart(title: string, xLabel: string, series: { name: string; values: number[] }[]): string {
  const all = series.flatMap((s) => s.values);
  if (!all.length) return lineChart({ title, xLabel, yLabel: 'share of calls', series: [] });
  // Cut the long tail at the 99th percentile of all values so the body of the distribution is visible.
  const sorted = [...all].sort((a, b) => a - b);
  const hi = sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * 0.99))]!;
  const lo = sorted[0]!;
  const top = hi === lo ? lo + 1 : hi;
  const logBins = lo > 0 && top / lo > 10;
  const thresholds = logBins ? Array.from({ length: 39 }, (_, i) => lo * (top / lo) ** ((i + 1) / 40)) : scaleLinear().domain([lo, top]).ticks(40);
  const binner = bin().domain([lo, top]).thresholds(thresholds);
  return lineChart({
    title,
    xLabel,
    yLabel: 'share of calls',
    yFromZero: true,
    xScale: logBins ? 'log' : 'linear',
    series: series.map((s) => {
      const inRange = s.values.filter((v) => v <= hi);
      const bins = binner(inRange);
      const points: [number, number][] = [];
      for (const b of bins) {
        const share = b.length / Math.max(1, s.values.length);
        points.push([b.x0!, share], [b.x1!, share]);
      }
      return { name: s.name, points };
    }),
  });
}
