/**
 * The data ship measures on, split so that calibration and evaluation never share a sample: rows
 * alternate (even rows calibrate, odd rows evaluate — a data set sorted by class still lands in both
 * halves); models with a fixed batch axis alternate whole samples. Without data, or with too few
 * rows to measure agreement, evaluation adds seeded generated inputs (recorded).
 */
import { Tensor, type Model, type TypedArray } from '../ir/index.js';
import { generateInputs, inputSpecs, loadSamples, type LoadedSample, type Sample } from '../data/index.js';
import { loadLabels } from '../validate/index.js';

/**
 * Evaluation below this many rows gets generated rows added (unless labels need every row real):
 * with 100 rows one changed prediction is 1% of top-1 agreement, the default budget.
 */
export const MIN_EVAL_ROWS = 100;

export interface DataSplit {
  /** Calibration samples for static quantization, or 'random' when generated inputs must do. */
  calibration: LoadedSample[] | 'random';
  evaluation: LoadedSample[];
  /** Labels of the evaluation rows, in order. */
  evaluationLabels?: Int32Array;
  description: DataDescription;
}

export interface DataDescription {
  files: string[];
  labels?: string;
  /** Rows in the data given (all files). */
  rows: number;
  split: 'alternate rows' | 'alternate samples' | 'none';
  calibration: { rows: number; from: string };
  evaluation: { rows: number; dataRows: number; generatedRows: number; generatedSeed?: number; from: string };
}

const firstAxis = (s: Sample) => Object.values(s)[0]?.dims[0] ?? 1;

/** The rows `keep` of a tensor along axis 0, as a new tensor (one copy). */
function takeRows(t: Tensor, keep: number[]): Tensor {
  const rows = t.dims[0]!;
  const rowSize = rows ? t.size / rows : 0;
  const dims = [keep.length, ...t.dims.slice(1)];
  const data = t.data;
  if (Array.isArray(data)) return Tensor.from('string', dims, keep.flatMap((r) => data.slice(r * rowSize, (r + 1) * rowSize)), t.name);
  const src = data as TypedArray;
  const out = new (src.constructor as new (n: number) => TypedArray)(keep.length * rowSize);
  keep.forEach((r, i) => (out as unknown as { set(a: ArrayLike<unknown>, o: number): void }).set(src.subarray(r * rowSize, (r + 1) * rowSize) as ArrayLike<unknown>, i * rowSize));
  return Tensor.from(t.dtype, dims, out, t.name);
}

function takeSampleRows(sample: LoadedSample, keep: number[], what: string): LoadedSample {
  const inputs: Sample = {};
  for (const [name, t] of Object.entries(sample.inputs)) inputs[name] = takeRows(t, keep);
  return { source: `${sample.source} (${what})`, inputs };
}

/** True when every input's first axis is symbolic: rows can be split and regrouped. */
function batchable(model: Model): boolean {
  return inputSpecs(model).every((s) => s.shape.length > 0 && typeof s.shape[0] !== 'number');
}

export interface SplitOptions {
  /** Data paths (test-case folders, test_data_set_N, .pb, .json), or loaded samples. */
  data?: (string | LoadedSample)[];
  labels?: string | ArrayLike<number>;
  /** Whether any strategy calibrates (else every data row evaluates). */
  needsCalibration: boolean;
  seed?: number;
}

export function splitData(model: Model, opts: SplitOptions): DataSplit {
  const specs = inputSpecs(model);
  const samples = (opts.data ?? []).flatMap((d) => (typeof d === 'string' ? loadSamples([d], specs) : [d]));
  const files = (opts.data ?? []).map((d) => (typeof d === 'string' ? d : d.source));
  if (opts.data?.length && !samples.length) throw new Error(`${files.join(', ')}: no samples in it`);
  const labelSource = typeof opts.labels === 'string' ? opts.labels : opts.labels ? 'labels' : undefined;
  const labels = typeof opts.labels === 'string' ? loadLabels(opts.labels) : opts.labels ? Int32Array.from(opts.labels) : undefined;
  if (labels && !samples.length) throw new Error(`${labelSource}: labels need --data (the rows they label)`);
  const rows = samples.reduce((n, s) => n + firstAxis(s.inputs), 0);
  if (labels && labels.length !== rows) throw new Error(`${labelSource}: ${labels.length} labels for ${rows} rows of data`);

  let calibration: LoadedSample[] = [];
  let evaluation: LoadedSample[] = [];
  let evaluationLabels: number[] | undefined = labels ? [] : undefined;
  let split: DataDescription['split'] = 'none';
  if (!opts.needsCalibration) evaluation = samples;
  else if (batchable(model) && rows >= 2) {
    split = 'alternate rows';
    let row = 0;
    for (const s of samples) {
      const n = firstAxis(s.inputs);
      const even: number[] = [];
      const odd: number[] = [];
      for (let r = 0; r < n; r++) ((row + r) % 2 === 0 ? even : odd).push(r);
      if (even.length) calibration.push(takeSampleRows(s, even, 'even rows'));
      if (odd.length) {
        evaluation.push(takeSampleRows(s, odd, 'odd rows'));
        for (const r of odd) evaluationLabels?.push(labels![row + r]!);
      }
      row += n;
    }
  } else if (samples.length >= 2) {
    split = 'alternate samples';
    let row = 0;
    samples.forEach((s, i) => {
      const n = firstAxis(s.inputs);
      if (i % 2 === 0) calibration.push(s);
      else {
        evaluation.push(s);
        for (let r = 0; r < n; r++) evaluationLabels?.push(labels![row + r]!);
      }
      row += n;
    });
  } else evaluation = samples;
  if (!opts.needsCalibration || split === 'none') evaluationLabels = labels ? Array.from(labels) : undefined;

  const dataRows = evaluation.reduce((n, s) => n + firstAxis(s.inputs), 0);
  const seed = opts.seed ?? 0;
  let generatedRows = 0;
  if (dataRows < MIN_EVAL_ROWS && !labels) {
    // Too few rows to measure agreement: seeded generated rows, one per sample, join the evaluation.
    const batch = batchable(model) ? 1 : undefined;
    for (let i = 0; generatedRows + dataRows < MIN_EVAL_ROWS; i++) {
      const inputs = generateInputs(model, { seed: seed + i, batch });
      evaluation.push({ source: `generated (seed ${seed + i})`, inputs });
      generatedRows += firstAxis(inputs);
    }
  }
  const calibrationRows = calibration.reduce((n, s) => n + firstAxis(s.inputs), 0);
  const calibrationFrom =
    !opts.needsCalibration ? 'not needed' : calibration.length ? (split === 'alternate rows' ? 'even rows of the data' : 'even-numbered samples of the data') : 'generated inputs (no data to spare)';
  return {
    calibration: calibration.length ? calibration : 'random',
    evaluation,
    evaluationLabels: evaluationLabels && Int32Array.from(evaluationLabels),
    description: {
      files,
      labels: labelSource,
      rows,
      split,
      calibration: { rows: calibrationRows, from: calibrationFrom },
      evaluation: {
        rows: dataRows + generatedRows,
        dataRows,
        generatedRows,
        generatedSeed: generatedRows ? seed : undefined,
        from: [dataRows ? (split === 'alternate rows' ? 'odd rows of the data' : split === 'alternate samples' ? 'odd-numbered samples of the data' : 'all of the data') : '', generatedRows ? `${generatedRows} generated rows (seeds ${seed}–${seed + generatedRows - 1})` : '']
          .filter(Boolean)
          .join(' + '),
      },
    },
  };
}
