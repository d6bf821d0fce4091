/**
 * The optimizer: passes run in rounds until a round changes nothing (a fixed point), on the main
 * graph and every subgraph. The result carries value_info from shape inference, passes the
 * checker, and — unless told not to — is proven to compute what the original computes.
 */
import { walkGraphs, type Graph, type Model, type Tensor } from '../ir/index.js';
import { check, checkModel } from '../checker/index.js';
import { generateInputs } from '../data/index.js';
import { inferShapes, setInputShapes, type ShapeInfo } from '../shape-inference/index.js';
import { cloneModel } from './clone.js';
import type { Pass, PassContext } from './pass.js';
import { PASSES } from './passes/index.js';
import { verifyModels, type VerifyOptions, type VerifyReport } from './verify.js';

export interface OptimizeOptions {
  /** Run only these passes (names as in `PASSES`), still in the standard order. */
  passes?: string[];
  /** Leave these passes out. */
  skip?: string[];
  /** Fix dynamic input dims first, e.g. `{ input: [1, 3, 224, 224] }`, so shape computations fold. */
  inputShapes?: Record<string, number[]>;
  /** Compare original and optimized in onnxruntime and fail on any difference (default true). */
  verify?: boolean | VerifyOptions;
  /** Most rounds of all passes before giving up on a fixed point (default 10). */
  maxRounds?: number;
  onProgress?(done: number, total: number, label: string): void;
}

export interface ModelStats {
  /** Nodes in the main graph and all subgraphs. */
  nodes: number;
  initializers: number;
  initializerBytes: number;
}

export interface PassReport {
  name: string;
  /** Rewrites made, over all rounds. */
  changes: number;
  timeMs: number;
  /** What changed, e.g. `{ 'removed Identity': 15 }`. */
  changed: Record<string, number>;
}

export interface OptimizeReport {
  before: ModelStats;
  after: ModelStats;
  rounds: number;
  /** False when `maxRounds` ran out before a round changed nothing. */
  converged: boolean;
  passes: PassReport[];
  /** Main-graph inputs that nothing read and were removed (callers must stop feeding them). */
  removedInputs: string[];
  inputShapes?: Record<string, number[]>;
  /** Set when the IR version had to rise (IR < 4 requires every initializer to be a graph input). */
  irVersion?: { from: number; to: number };
  /** Node outputs whose type was inferred / stayed unknown (custom or unsupported ops). */
  shapeInference: { inferred: number; unknown: number };
  verify?: VerifyReport;
  /** Whole call, verification included. */
  timeMs: number;
  verifyMs?: number;
}

export interface OptimizeResult {
  model: Model;
  report: OptimizeReport;
}

/** Verification found a difference (or the optimized model does not run): the result must not be used. */
export class OptimizeVerificationError extends Error {
  constructor(readonly report: OptimizeReport) {
    super(`verification failed: ${report.verify?.message ?? 'outputs differ'} (find the pass responsible with --skip, or report a bug)`);
    this.name = 'OptimizeVerificationError';
  }
}

export function modelStats(model: Model): ModelStats {
  const stats: ModelStats = { nodes: 0, initializers: 0, initializerBytes: 0 };
  for (const { graph } of walkGraphs(model.graph)) {
    stats.nodes += graph.nodes.length;
    stats.initializers += graph.initializers.size;
    for (const t of graph.initializers.values()) stats.initializerBytes += t.byteLength;
  }
  return stats;
}

/** The passes `options` asks for, in standard order; unknown names are an error. */
export function selectPasses(options: Pick<OptimizeOptions, 'passes' | 'skip'>): Pass[] {
  const known = new Set(PASSES.map((p) => p.name));
  for (const name of [...(options.passes ?? []), ...(options.skip ?? [])]) {
    if (!known.has(name)) throw new Error(`unknown pass '${name}' (passes: ${[...known].join(', ')})`);
  }
  const only = options.passes?.length ? new Set(options.passes) : undefined;
  const skip = new Set(options.skip ?? []);
  return PASSES.filter((p) => (!only || only.has(p.name)) && !skip.has(p.name));
}

const graphsOf = (model: Model): Graph[] => [...walkGraphs(model.graph)].map((w) => w.graph);

function passContext(model: Model, record: PassContext['record']): PassContext & { invalidate(): void } {
  let shapes: ShapeInfo | undefined;
  return {
    model,
    shapes: () => (shapes ??= inferShapes(model, { write: false })),
    invalidate: () => (shapes = undefined),
    opset: (domain = '') => model.opset(domain) ?? 1,
    record,
  };
}

/**
 * Runs one pass in place over every graph of `model`, once (no fixed point, no verification), and
 * returns the number of rewrites, e.g. `await applyPass(model, 'fold-batchnorm')` before quantizing.
 */
export async function applyPass(model: Model, pass: Pass | string): Promise<number> {
  const p = typeof pass === 'string' ? selectPasses({ passes: [pass] })[0]! : pass;
  const ctx = passContext(model, () => {});
  let n = 0;
  for (const g of graphsOf(model)) n += await p.run(g, ctx);
  return n;
}

/** Leaves the model ready to save: sorted nodes, no stale value_info, fresh inferred types. */
function finalize(model: Model): OptimizeReport['irVersion'] {
  for (const g of graphsOf(model)) {
    g.topologicalSort();
    const produced = new Set(g.nodes.flatMap((n) => n.outputs));
    for (const name of [...g.valueInfo.keys()]) if (!produced.has(name) || g.isGraphOutput(name)) g.valueInfo.delete(name);
  }
  const needsIr4 = model.irVersion < 4 && graphsOf(model).some((g) => [...g.initializers.keys()].some((n) => !g.isGraphInput(n)));
  if (!needsIr4) return undefined;
  const from = model.irVersion;
  model.irVersion = 4;
  return { from, to: 4 };
}

function verifyInputs(model: Model, opts: VerifyOptions): { inputs: Record<string, Tensor>[]; source: 'given' | 'generated' } {
  if (opts.inputs?.length) return { inputs: opts.inputs, source: 'given' };
  try {
    return { inputs: [generateInputs(model, { seed: opts.seed ?? 0 })], source: 'generated' };
  } catch (e) {
    throw new Error(`verify: cannot generate inputs (${(e as Error).message}); give test data or use --no-verify`);
  }
}

/**
 * Optimizes a copy of `model` (the original is left as it was) and reports what changed.
 * Throws OptimizeVerificationError when verification finds a difference.
 */
export async function optimize(model: Model, options: OptimizeOptions = {}): Promise<OptimizeResult> {
  const started = performance.now();
  const passes = selectPasses(options);
  const working = cloneModel(model);
  if (options.inputShapes) setInputShapes(working, options.inputShapes);
  const verify = options.verify === false ? undefined : options.verify === true || options.verify === undefined ? {} : options.verify;
  // Inputs are fixed before any pass runs: the original is fed every input, even ones the optimized model drops.
  const verifyFeeds = verify ? verifyInputs(working, verify) : undefined;

  const reports = passes.map((p): PassReport => ({ name: p.name, changes: 0, timeMs: 0, changed: {} }));
  let current = reports[0]!;
  const ctx = passContext(working, (what, count = 1) => {
    if (count) current.changed[what] = (current.changed[what] ?? 0) + count;
  });
  const maxRounds = options.maxRounds ?? 10;
  let rounds = 0;
  let converged = false;
  while (rounds < maxRounds && !converged) {
    rounds++;
    let changes = 0;
    for (const [i, pass] of passes.entries()) {
      options.onProgress?.(i, passes.length, `round ${rounds}: ${pass.name}`);
      current = reports[i]!;
      const t0 = performance.now();
      let n = 0;
      for (const g of graphsOf(working)) n += await pass.run(g, ctx);
      current.timeMs += performance.now() - t0;
      current.changes += n;
      if (n) ctx.invalidate();
      changes += n;
    }
    converged = changes === 0;
  }
  options.onProgress?.(passes.length, passes.length, 'done');

  const irVersion = finalize(working);
  const inferred = inferShapes(working);
  try {
    check(working);
  } catch (e) {
    // A model that was invalid to begin with is the input's problem, not a rewrite's.
    const before = checkModel(model);
    if (before.length) throw new Error(`the model is invalid before optimizing: ${before[0]!.where}: ${before[0]!.message}`);
    throw e;
  }
  const kept = new Set(working.graph.inputs.map((v) => v.name));
  const report: OptimizeReport = {
    before: modelStats(model),
    after: modelStats(working),
    rounds,
    converged,
    passes: reports,
    removedInputs: model.graph.inputs.filter((v) => !model.graph.initializers.has(v.name) && !kept.has(v.name)).map((v) => v.name),
    inputShapes: options.inputShapes,
    irVersion,
    shapeInference: { inferred: inferred.inferred, unknown: inferred.unknown.length },
    timeMs: 0,
  };
  if (verify && verifyFeeds) {
    const t0 = performance.now();
    report.verify = await verifyModels(model, working, verifyFeeds.inputs, { expected: verify.expected, rtol: verify.rtol, source: verifyFeeds.source });
    report.verifyMs = performance.now() - t0;
  }
  report.timeMs = performance.now() - started;
  if (report.verify && !report.verify.passed) throw new OptimizeVerificationError(report);
  return { model: working, report };
}
