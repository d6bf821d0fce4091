/**
 * The HTML report: one self-contained file (inline CSS and SVG, no script, nothing fetched) with the
 * bench summary, ratios with confidence intervals, latency distributions and percentiles, batch/thread
 * scaling, memory, the stress test, and size and accuracy bars for validated candidates.
 */
import type { BenchResult, ConfigRun, ModelRun } from '../bench/index.js';
import type { ValidateResult } from '../validate/index.js';
import { writeFileAtomic } from '../io/index.js';
import { barChart, colorOf, escapeHtml, histogramChart, lineChart, short, type Series } from './charts.js';

export interface ReportValidation {
  /** What was validated, e.g. "model.int8.onnx vs model.onnx". */
  label: string;
  /** Size of the candidate on disk, for the size bars. */
  sizeBytes?: number;
  /** Size of the reference on disk (shown when there is no bench result naming it). */
  referenceSizeBytes?: number;
  result: ValidateResult;
}

/** A table shown before the bench sections; cells are plain text (escaped when rendered, wrapped when long). */
export interface ReportTable {
  title: string;
  note?: string;
  header: string[];
  rows: string[][];
  /** Columns from this index on are right-aligned numbers (default: none). */
  numericFrom?: number;
}

export interface ReportInput {
  title?: string;
  /** Tables first (e.g. ship's candidates and choice). */
  tables?: ReportTable[];
  bench?: BenchResult;
  validations?: ReportValidation[];
}

const e = escapeHtml;
const ms = (v: number | undefined) => (v === undefined || !Number.isFinite(v) ? '-' : v >= 100 ? v.toFixed(0) : v >= 1 ? v.toFixed(2) : v.toFixed(3));
const mib = (b: number) => `${(b / 1048576).toFixed(1)} MiB`;
const configName = (r: ConfigRun) => `batch ${r.batch}${r.threads !== null ? `, ${r.threads} thread${r.threads > 1 ? 's' : ''}` : ''}`;

function section(title: string, content: string, note = ''): string {
  return `<section><h2>${e(title)}</h2>${note ? `<p class="note">${note}</p>` : ''}${content}</section>`;
}

function tableHtml(header: string[], rows: string[][], numericFrom = 1): string {
  const th = header.map((h, i) => `<th${i >= numericFrom ? ' class="num"' : ''}>${e(h)}</th>`).join('');
  const body = rows.map((r) => `<tr>${r.map((c, i) => `<td${i >= numericFrom ? ' class="num"' : ''}>${c}</td>`).join('')}</tr>`).join('');
  return `<table><thead><tr>${th}</tr></thead><tbody>${body}</tbody></table>`;
}

/** Percentile curve (0–100) of a sample, for the percentile plot. */
function percentileCurve(values: number[]): [number, number][] {
  if (!values.length) return [];
  const sorted = [...values].sort((a, b) => a - b);
  const at = (p: number) => {
    const pos = (p / 100) * (sorted.length - 1);
    const i = Math.floor(pos);
    return sorted[i]! + (sorted[Math.min(i + 1, sorted.length - 1)]! - sorted[i]!) * (pos - i);
  };
  const ps = [...Array.from({ length: 100 }, (_, i) => i), 99.5, 99.9, 100];
  return ps.map((p) => [p, at(p)]);
}

function benchSections(b: BenchResult): string {
  const env = b.environment;
  const out: string[] = [];
  const names = b.models.map((m) => m.name);
  const colorFor = (name: string) => colorOf(names.indexOf(name));

  // Summary
  const rows: string[][] = [];
  for (const run of b.runs) {
    for (const m of run.models) {
      const cmp = run.comparisons.find((c) => c.model === m.model);
      if (m.skipped) {
        rows.push([e(configName(run)), e(m.model), `<span class="muted">skipped: ${e(m.skipped)}</span>`, '', '', '', '', '', '', '', '', '', '']);
        continue;
      }
      const l = m.latencyMs!;
      rows.push([
        e(configName(run)),
        `<span class="swatch" style="background:${colorFor(m.model)}"></span>${e(m.model)}`,
        ms(l.mean),
        ms(l.std),
        ms(l.min),
        ms(l.p50),
        ms(l.p90),
        ms(l.p95),
        ms(l.p99),
        ms(l.max),
        short(m.throughput!),
        ms(m.sessionCreateMs),
        cmp ? `<span class="${cmp.ratio.verdict === 'faster' ? 'good' : cmp.ratio.verdict === 'slower' ? 'bad' : 'muted'}">${e(cmp.summary)}</span>` : run.models[0] === m ? 'baseline' : '-',
      ]);
    }
  }
  out.push(
    section(
      'Summary',
      tableHtml(['configuration', 'model', 'mean ms', 'std', 'min', 'p50', 'p90', 'p95', 'p99', 'max', 'samples/s', 'load ms', `vs ${names[0]}`], rows, 2),
      `${e(b.runtimes.join(' and '))} runtime (${e(env.onnxruntime)}), ${env.cpus} × ${e(env.cpuModel)}, Node ${e(env.node)}, load average ${env.loadAverage.toFixed(2)} at the start. ` +
        `Models were measured interleaved (one call each per round, order rotated every round); ratios are geometric means of per-round ratios with 95% bootstrap intervals. ` +
        `An interval that spans 1.0 is reported as no measurable difference.`,
    ),
  );

  // Ratios
  const ratioBars = b.runs.flatMap((run) =>
    run.comparisons.map((c) => ({ label: names.length > 2 ? `${c.model} · ${configName(run)}` : configName(run), value: c.ratio.ratio, low: c.ratio.low, high: c.ratio.high, color: colorFor(c.model), text: `${c.ratio.ratio.toFixed(3)} (${c.ratio.low.toFixed(3)}–${c.ratio.high.toFixed(3)})` })),
  );
  if (ratioBars.length) out.push(section(`Latency relative to ${names[0]}`, barChart({ title: `latency ratio${names.length === 2 ? ` of ${names[1]}` : ''} vs ${names[0]} (< 1 is faster), 95% CI`, valueLabel: 'ratio', bars: ratioBars, reference: 1 })));

  // Distributions and percentiles, per configuration
  const measured = b.runs.filter((r) => r.models.some((m) => m.samplesMs?.length));
  const dist = measured
    .map((run) => {
      const series = run.models.filter((m) => m.samplesMs?.length).map((m) => ({ name: m.model, values: m.samplesMs! }));
      const pct: Series[] = run.models.filter((m) => m.samplesMs?.length).map((m) => ({ name: m.model, points: percentileCurve(m.samplesMs!), color: colorFor(m.model) }));
      return `<div class="pair">${histogramChart(`latency distribution · ${configName(run)}`, 'latency (ms), tail above p99 cut', series)}${lineChart({ title: `latency percentiles · ${configName(run)}`, xLabel: 'percentile', yLabel: 'latency (ms)', series: pct, yScale: 'log' })}</div>`;
    })
    .join('');
  if (dist) out.push(section('Latency distribution', dist));

  // Scaling
  const batches = b.settings.batches;
  const threads = b.settings.threads;
  const scaling: string[] = [];
  /** One series per model over the runs that `include`, x from the run, y from the model's result there. */
  const seriesOver = (include: (r: ConfigRun) => boolean, x: (r: ConfigRun) => number, y: (m: ModelRun) => number): Series[] =>
    b.models.map((m) => ({
      name: m.name,
      color: colorFor(m.name),
      points: b.runs.filter(include).flatMap((r) => {
        const mr = r.models.find((x) => x.model === m.name);
        return mr?.latencyMs ? [[x(r), y(mr)] as [number, number]] : [];
      }),
    }));
  if (batches.length > 1) {
    for (const t of threads) {
      const series = seriesOver((r) => r.threads === t, (r) => r.batch, (m) => m.throughput!);
      const lat = seriesOver((r) => r.threads === t, (r) => r.batch, (m) => m.latencyMs!.mean);
      const suffix = t !== null ? ` · ${t} thread${t > 1 ? 's' : ''}` : '';
      scaling.push(
        `<div class="pair">${lineChart({ title: `throughput by batch size${suffix}`, xLabel: 'batch size', yLabel: 'samples/s', series, xScale: 'log2', dots: true, yFromZero: true })}` +
          `${lineChart({ title: `mean latency by batch size${suffix}`, xLabel: 'batch size', yLabel: 'ms per call', series: lat, xScale: 'log2', dots: true, yFromZero: true })}</div>`,
      );
    }
  }
  if (threads.length > 1 && threads.every((t) => t !== null)) {
    for (const batch of batches) {
      const series = seriesOver((r) => r.batch === batch, (r) => r.threads!, (m) => m.throughput!);
      scaling.push(lineChart({ title: `throughput by intra-op threads · batch ${batch}`, xLabel: 'threads', yLabel: 'samples/s', series, xScale: 'log2', dots: true, yFromZero: true }));
    }
  }
  if (scaling.length) out.push(section('Scaling', scaling.join('')));

  // Memory
  const memSeries: Series[] = b.runs.map((r, i) => ({ name: configName(r), color: colorOf(i), points: r.memory.timeline.map(([t, rss]) => [t / 1000, rss / 1048576]) }));
  const memRows = b.runs.map((r) => [e(configName(r)), mib(r.memory.startBytes), mib(r.memory.peakBytes), mib(r.memory.endBytes), `${r.memory.growthBytes >= 0 ? '+' : ''}${mib(r.memory.growthBytes)}`]);
  const loadRows = b.runs
    .filter((r, i, all) => all.findIndex((x) => x.threads === r.threads) === i)
    .flatMap((r) => r.models.filter((m) => m.sessionRssBytes !== undefined).map((m) => [e(m.model), e(r.threads === null ? 'default' : String(r.threads)), ms(m.sessionCreateMs), mib(m.sessionRssBytes!), ms(m.firstRunMs)]));
  out.push(
    section(
      'Memory and load',
      `<div class="pair">${lineChart({ title: 'process RSS during measurement', xLabel: 'seconds', yLabel: 'MiB', series: memSeries })}<div>${tableHtml(['configuration', 'RSS start', 'peak', 'end', 'growth'], memRows)}${tableHtml(['model', 'threads', 'session create ms', 'RSS added', 'first call ms'], loadRows, 2)}</div></div>`,
      'RSS is the whole process (all models of a run share it). Growth that repeats run after run is a leak; a one-off step is allocator warm-up.',
    ),
  );

  // Stress test
  if (b.concurrency?.length) {
    const c = b.concurrency;
    const bars = c.map((r, i) => ({ label: `${r.model} · ${r.mode}`, value: r.throughput, color: colorOf(i), text: `${short(r.throughput)}/s` }));
    const rowsC = c.map((r) => [
      e(r.model),
      e(r.mode),
      String(r.concurrency),
      String(r.requests),
      r.errors ? `<span class="bad">${r.errors}${r.firstError ? `: ${e(r.firstError)}` : ''}</span>` : '0',
      short(r.throughput),
      ms(r.latencyMs.p50),
      ms(r.latencyMs.p99),
      `${ms(r.drift.firstP50Ms)} → ${ms(r.drift.lastP50Ms)} (×${r.drift.ratio.toFixed(2)})`,
      `${r.memory.growthBytes >= 0 ? '+' : ''}${mib(r.memory.growthBytes)}`,
    ]);
    const overTime: Series[] = c.map((r, i) => ({ name: `${r.model} · ${r.mode}`, color: colorOf(i), points: r.timeline }));
    out.push(
      section(
        'Stress test',
        `<div class="pair">${barChart({ title: 'throughput by serving mode', valueLabel: 'samples/s', bars })}${lineChart({ title: 'throughput over the run (drift shows as a slope)', xLabel: 'seconds', yLabel: 'samples/s', series: overTime, dots: true, yFromZero: true })}</div>` +
          tableHtml(['model', 'mode', 'in flight', 'requests', 'errors', 'samples/s', 'p50 ms', 'p99 ms', 'p50 drift (first → last fifth)', 'RSS growth'], rowsC, 2),
        'shared: one session, all requests on it; sessions: one session per client on the main thread; workers: one worker thread with its own session per client. onnxruntime-node runs a call on the calling JavaScript thread, so only workers compute requests in parallel.',
      ),
    );
  }
  return out.join('');
}

function validationSections(v: ReportValidation[], b: BenchResult | undefined): string {
  const out: string[] = [];
  const reference = b ? undefined : v.find((x) => x.referenceSizeBytes !== undefined);
  const sizes = [
    ...(b?.models ?? []).map((m) => ({ label: m.name, value: m.sizeBytes })),
    ...(reference ? [{ label: 'reference', value: reference.referenceSizeBytes! }] : []),
    ...v.filter((x) => x.sizeBytes !== undefined && !(b?.models ?? []).some((m) => m.path === x.result.candidate.model)).map((x) => ({ label: x.label, value: x.sizeBytes! })),
  ];
  if (sizes.length) out.push(section('Size on disk', barChart({ title: 'model size', valueLabel: 'MiB', bars: sizes.map((s, i) => ({ label: s.label, value: s.value / 1048576, color: colorOf(i), text: mib(s.value) })) })));
  if (!v.length) return out.join('');
  const charts: string[] = [];
  const withAccuracy = v.filter((x) => x.result.accuracy);
  if (withAccuracy.length) {
    const first = withAccuracy[0]!.result.accuracy!;
    charts.push(
      barChart({
        title: `task accuracy (${first.labels} labels)`,
        valueLabel: 'accuracy',
        bars: [{ label: 'reference', value: first.reference, text: `${(first.reference * 100).toFixed(2)}%` }, ...withAccuracy.map((x) => ({ label: x.label, value: x.result.accuracy!.candidate, text: `${(x.result.accuracy!.candidate * 100).toFixed(2)}%` }))].map((bar, i) => ({ ...bar, color: colorOf(i) })),
      }),
    );
  }
  const agreement = v.flatMap((x) => x.result.outputs.filter((o) => o.metrics?.top1Agreement !== undefined).map((o) => ({ label: `${x.label} · ${o.name}`, value: o.metrics!.top1Agreement! })));
  if (agreement.length) charts.push(barChart({ title: 'top-1 agreement with the reference', valueLabel: 'fraction of rows', bars: agreement.map((a, i) => ({ ...a, color: colorOf(i), text: `${(a.value * 100).toFixed(1)}%` })) }));
  const sqnrBars = v.flatMap((x) => x.result.outputs.filter((o) => o.metrics && Number.isFinite(o.metrics.sqnrDb)).map((o) => ({ label: `${x.label} · ${o.name}`, value: o.metrics!.sqnrDb })));
  if (sqnrBars.length) charts.push(barChart({ title: 'SQNR vs the reference (higher is closer)', valueLabel: 'dB', bars: sqnrBars.map((a, i) => ({ ...a, color: colorOf(i), text: `${a.value.toFixed(1)} dB` })) }));
  const runs = v.flatMap((x) => {
    const several = Boolean(x.result.otherRuntimes?.length);
    return [
      { x, label: several ? `${x.label} [${x.result.candidate.runtimes[0]}]` : x.label, outputs: x.result.outputs },
      ...(x.result.otherRuntimes ?? []).map((r) => ({ x, label: `${x.label} [${r.runtime}]`, outputs: r.outputs })),
    ];
  });
  const rows = runs.flatMap(({ x, label, outputs }) =>
    outputs.map((o) => {
      const m = o.metrics;
      return [
        e(label),
        e(o.name),
        x.result.passed && o.passed ? '<span class="good">pass</span>' : '<span class="bad">fail</span>',
        m ? short(m.maxAbsError) : e(o.error ?? ''),
        m ? short(m.meanAbsError) : '',
        m ? m.cosine.toFixed(6) : '',
        m?.pearson != null ? m.pearson.toFixed(6) : '-',
        m ? (Number.isFinite(m.sqnrDb) ? m.sqnrDb.toFixed(1) : String(m.sqnrDb)) : '',
        m?.top1Agreement !== undefined ? `${(m.top1Agreement * 100).toFixed(1)}%` : '-',
        m?.top5Agreement !== undefined ? `${(m.top5Agreement * 100).toFixed(1)}%` : '-',
      ];
    }),
  );
  const failures = v.flatMap((x) => x.result.failures.map((f) => `<li>${e(x.label)}: ${e(f)}</li>`)).join('');
  const cross = v
    .filter((x) => x.result.crossRuntime)
    .map((x) => {
      const c = x.result.crossRuntime!;
      const verdict = c.agree ? `<span class="good">agree</span> within rtol ${c.tolerance.rtol}, atol ${c.tolerance.atol}` : `<span class="bad">differ</span>: ${c.mismatches.map(e).join('; ')}`;
      return `<p>${e(x.label)}: ${e(c.runtimes.join(' vs '))} ${verdict}</p>`;
    })
    .join('');
  out.push(
    section(
      'Accuracy against the reference',
      `${charts.length ? `<div class="pair">${charts.join('')}</div>` : ''}${tableHtml(['candidate', 'output', '', 'max abs', 'mean abs', 'cosine', 'pearson', 'SQNR dB', 'top-1', 'top-5'], rows, 3)}${cross}${failures ? `<ul class="failures">${failures}</ul>` : ''}`,
      v.map((x) => `${e(x.label)}: ${x.result.inputs.samples} sample(s) ${x.result.inputs.source === 'generated' ? `generated (seed ${x.result.inputs.seed})` : 'from data'}, ${x.result.inputs.rows} rows.`).join(' '),
    ),
  );
  return out.join('');
}

const CSS = `
body{font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;margin:24px auto;max-width:1180px;color:#222;padding:0 16px}
h1{font-size:22px;margin:0 0 4px}h2{font-size:17px;margin:28px 0 8px;border-bottom:1px solid #ddd;padding-bottom:4px}
.note,.meta{color:#555;font-size:13px;margin:4px 0 10px}
table{border-collapse:collapse;margin:8px 0 12px;font-size:12.5px}th,td{padding:3px 8px;border-bottom:1px solid #eee;text-align:left;white-space:nowrap}
th{background:#f6f6f6}table.text td{white-space:normal;vertical-align:top}td.num,th.num{text-align:right;font-variant-numeric:tabular-nums}
.swatch{display:inline-block;width:9px;height:9px;margin-right:6px;border-radius:2px}
.good{color:#1a7f37}.bad{color:#c62828}.muted{color:#777}
.pair{display:flex;flex-wrap:wrap;gap:12px;align-items:flex-start}
svg.chart{background:#fff;border:1px solid #e5e5e5;border-radius:4px;font-size:11px}
svg .title{font-size:13px;font-weight:600;fill:#222}svg .tick,svg .value{fill:#555}svg .axis-label{fill:#444}
svg .grid{stroke:#eee}svg .axis{stroke:#999}svg .series{fill:none;stroke-width:1.8}
svg .whisker{stroke:#222;stroke-width:1.2;fill:none}svg .reference{stroke:#c62828;stroke-dasharray:4 3}
svg .empty{fill:#999;text-anchor:middle}svg .legend text{fill:#333}
ul.failures{color:#c62828}
`;

/** The report as one HTML string. */
export function renderReport(input: ReportInput): string {
  const b = input.bench;
  const title = input.title ?? (b ? `modelship bench: ${b.models.map((m) => m.name).join(' vs ')}` : 'modelship validation report');
  const when = b?.startedAt ?? new Date().toISOString();
  const tables = (input.tables ?? [])
    .map((t) => section(t.title, tableHtml(t.header, t.rows.map((r) => r.map(e)), t.numericFrom ?? t.header.length).replace('<table>', '<table class="text">'), t.note ? e(t.note) : ''))
    .join('');
  const body = tables + (b ? benchSections(b) : '') + validationSections(input.validations ?? [], b);
  return (
    `<!doctype html><html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1">` +
    `<title>${e(title)}</title><style>${CSS}</style></head><body><h1>${e(title)}</h1>` +
    `<p class="meta">generated ${e(when)} by modelship${b ? `; ${b.runs.length} configuration(s), ${(b.durationMs / 1000).toFixed(1)} s. Timings were taken on the machine named below and vary with its load` : ''}.</p>` +
    `${body}</body></html>\n`
  );
}

/** Writes the report atomically. */
export function writeReport(file: string, input: ReportInput): void {
  writeFileAtomic(file, renderReport(input));
}
