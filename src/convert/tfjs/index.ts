/**
 * TF.js → ONNX: `convertTfjs(path | artifacts, options)` reads a Layers or Graph model, builds the
 * ONNX model, and (by default) proves it against TF.js on generated inputs.
 */
import { check } from '../../checker/index.js';
import { cancelTransposes } from '../../optimize/index.js';
import type { Model } from '../../ir/index.js';
import { VERSION } from '../../version.js';
import { readTfjsModel, type LoadedTfjsModel, type TfjsArtifacts } from './artifacts.js';
import { ConvertError, Emitter, type Value } from './emitter.js';
import { convertGraphModel } from './graph-model.js';
import { convertLayersModel } from './layers-model.js';
import { permute } from './tensors.js';
import { verifyConversion, type InterfaceMap, type ConvertVerifyOptions, type ConvertVerifyReport } from './verify.js';

export const MIN_OPSET = 13;
export const MAX_OPSET = 21;
export const DEFAULT_OPSET = 17;

export interface ConvertOptions {
  /** ONNX opset, 13..21 (default 17). */
  opset?: number;
  /** Make the batch dimension symbolic ('batch') instead of 1. */
  batchDynamic?: boolean;
  /** Channels-first (NCHW) interface for rank-4 inputs and outputs; default keeps TF's NHWC. */
  nchw?: boolean;
  /** Check the result against TF.js (default on); false skips it. */
  verify?: boolean | ConvertVerifyOptions;
  /** Called as stages finish: converted, verified. */
  onProgress?: (done: number, total: number, label: string) => void;
}

export interface ConvertReport {
  source: string;
  /** Files read: model.json and its weight shards. */
  files: string[];
  format: 'layers-model' | 'graph-model';
  opset: number;
  inputs: { name: string; dtype: string; shape: (number | string | null)[] }[];
  outputs: { name: string; dtype: string; shape: (number | string | null)[] }[];
  nodes: number;
  opCounts: Record<string, number>;
  initializers: number;
  /** Weights read from the TF.js model: count, bytes as stored, and how many were quantized per dtype. */
  weights: { count: number; bytes: number; quantized: Record<string, number> };
  /** Transposes inserted for layout changes, and how many remained after cancelling pairs. */
  transposes: { inserted: number; final: number };
  convertMs: number;
  verify?: ConvertVerifyReport;
}

/** Thrown when the converted model disagrees with TF.js beyond the tolerance; carries the full report. */
export class ConvertVerifyError extends Error {
  constructor(readonly report: ConvertReport) {
    const v = report.verify!;
    const worst = v.outputs.filter((o) => !o.ok).map((o) => `'${o.name}' ${o.relError.toExponential(2)}`).join(', ');
    const where = v.firstDivergence ? `; first diverging TF node: ${v.firstDivergence.node} (${v.firstDivergence.op}, ${v.firstDivergence.relError.toExponential(2)})` : '';
    super(`${report.source}: the ONNX model disagrees with TF.js (${v.backend}) beyond relative error ${v.tolerance}: ${worst}${where}`);
    this.name = 'ConvertVerifyError';
  }
}

/** A converted model with what verification needs: the TF.js model as read, and how the interfaces map. */
export interface Conversion {
  model: Model;
  report: ConvertReport;
  source: LoadedTfjsModel;
  mapping: InterfaceMap;
}

/** Converts without running TF.js (the `convertTfjs` steps before verification). */
export function convertTfjsUnverified(input: string | TfjsArtifacts, options: Omit<ConvertOptions, 'verify'> = {}): Conversion {
  const t0 = performance.now();
  const opset = options.opset ?? DEFAULT_OPSET;
  if (!Number.isInteger(opset) || opset < MIN_OPSET || opset > MAX_OPSET) {
    throw new ConvertError(`opset ${opset} is not supported; expected ${MIN_OPSET}..${MAX_OPSET}`);
  }
  const loaded = readTfjsModel(input);
  const e = new Emitter(opset, graphName(loaded));
  const o = { batchDynamic: options.batchDynamic ?? false, nchw: options.nchw ?? false };
  const io = loaded.format === 'graph' ? convertGraphModel(loaded, e, o) : convertLayersModel(loaded, e, o);
  const mapping: InterfaceMap = { inputs: [], outputs: [], intermediates: [] };
  for (const i of io.inputs) mapping.inputs.push({ name: i.name, tfName: i.tfName ?? i.name, perm: i.value.perm ?? undefined });
  for (const out of io.outputs) {
    const perm = o.nchw && out.value.shape?.length === 4 ? [0, 3, 1, 2] : undefined;
    bindOutput(e, out.name, out.value, perm);
    mapping.outputs.push({ name: out.name, tfName: out.tfName ?? out.name, perm });
  }
  for (const t of io.intermediates) {
    mapping.intermediates.push({ name: t.value.name!, tfName: t.tfName, op: t.op, dtype: t.value.dtype, perm: t.value.perm ?? undefined });
  }
  const inserted = e.transposes;
  // Layout changes are inserted once per value and layout; the optimize pass cancels any pair left.
  cancelTransposes(e.graph);
  e.setMetadata({
    source_format: loaded.format === 'graph' ? 'tfjs-graph-model' : 'tfjs-layers-model',
    converter: `modelship ${VERSION}`,
    source_generated_by: loaded.artifacts.generatedBy,
    source_converted_by: loaded.artifacts.convertedBy ?? undefined,
  });
  check(e.model);
  const report = buildReport(e.model, loaded, opset, inserted, performance.now() - t0);
  return { model: e.model, report, source: loaded, mapping };
}

export async function convertTfjs(input: string | TfjsArtifacts, options: ConvertOptions = {}): Promise<{ model: Model; report: ConvertReport }> {
  const stages = options.verify === false ? 1 : 2;
  const { model, report, source, mapping } = convertTfjsUnverified(input, options);
  options.onProgress?.(1, stages, 'converted');
  if (options.verify !== false) {
    const verifyOptions = typeof options.verify === 'object' ? options.verify : {};
    // A dynamic batch is exercised with 2, so a batch hard-wired somewhere in the graph shows up.
    const batch = options.batchDynamic && model.graph.inputs.some((i) => i.type?.kind === 'tensor' && i.type.shape?.[0] === 'batch') ? 2 : 1;
    report.verify = await verifyConversion(model, source, mapping, { batch, ...verifyOptions });
    options.onProgress?.(2, stages, 'verified');
    if (!report.verify.passed) throw new ConvertVerifyError(report);
  }
  return { model, report };
}

function graphName(loaded: LoadedTfjsModel): string {
  const name = (loaded.topology.config as { name?: unknown } | undefined)?.name;
  return typeof name === 'string' && name ? name : 'tfjs_model';
}

/**
 * Makes `value` (in layout `perm`) the graph output `name`: the producing node's output is renamed
 * when it is free to take the name, otherwise an Identity carries it.
 */
function bindOutput(e: Emitter, name: string, value: Value, perm: number[] | undefined): void {
  e.scope = name;
  const src = e.as(value, perm);
  const g = e.graph;
  g.reserveName(name);
  const producer = g.producer(src);
  if (src !== name && producer && !g.isGraphOutput(src)) {
    producer.outputs = producer.outputs.map((x) => (x === src ? name : x));
    g.replaceAllUses(src, name);
    g.invalidate();
    if (value.name === src) value.name = name;
  } else if (src !== name) {
    g.addNode({ opType: 'Identity', name: g.uniqueName(`${name}/identity`), inputs: [src], outputs: [name] });
  }
  const shape = value.shape && permute(value.shape, perm);
  g.outputs.push({ name, type: { kind: 'tensor', dtype: value.dtype, shape } });
}

function buildReport(model: Model, loaded: LoadedTfjsModel, opset: number, inserted: number, ms: number): ConvertReport {
  const g = model.graph;
  const opCounts: Record<string, number> = {};
  for (const n of g.nodes) opCounts[n.opType] = (opCounts[n.opType] ?? 0) + 1;
  const describe = (v: { name: string; type?: { kind: string; dtype?: string; shape?: (number | string | null)[] } }) => ({
    name: v.name,
    dtype: v.type?.dtype ?? '?',
    shape: v.type?.shape ?? [],
  });
  return {
    source: loaded.source,
    files: loaded.files,
    format: loaded.format === 'graph' ? 'graph-model' : 'layers-model',
    opset,
    inputs: g.inputs.map(describe),
    outputs: g.outputs.map(describe),
    nodes: g.nodes.length,
    opCounts,
    initializers: g.initializers.size,
    weights: { count: loaded.weights.size, bytes: loaded.weightBytes, quantized: loaded.quantization.counts },
    transposes: { inserted, final: opCounts.Transpose ?? 0 },
    convertMs: ms,
  };
}

export { ConvertError } from './emitter.js';
export type { TfjsArtifacts, TfjsWeightSpec } from './artifacts.js';
export { verifyConversion, verificationInputs, loadTfjsRunner, type InterfaceMap, type ConvertVerifyOptions, type ConvertVerifyReport, type TfjsBackend, type ConvertOutputAgreement } from './verify.js';
