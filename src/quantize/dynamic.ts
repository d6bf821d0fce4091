/**
 * `q8`: dynamic int8 quantization. Weights are stored as 8-bit integers; activations are quantized at
 * run time by DynamicQuantizeLinear (uint8, scale from each batch's own range).
 *
 * - MatMul/Gemm → MatMulInteger (u8 activations × s8 weights, per-column scales) → Cast → Mul by the
 *   scale product (→ Add bias): the pattern onnxruntime fuses into DynamicQuantizeMatMul.
 * - Conv: int8 weights behind DequantizeLinear, float compute — onnxruntime's CPU ConvInteger is several
 *   times slower than its float Conv. With `convInteger`, Conv → ConvInteger: it takes one zero point per
 *   weight tensor on CPU, so weights are uint8 with zero point 128 (symmetric) and per-channel scales
 *   are applied after, on the output; unsigned weights also avoid the u8×s8 saturation without VNNI.
 * - LSTM → com.microsoft DynamicQuantizeLSTM (int8 weights, transposed as the kernel expects).
 * - Gather over a float table (embeddings) → Gather over int8 rows, then Cast·scale of the rows taken.
 */
import { Tensor, attr, getFloat, getInt, type Graph, type Model, type Node } from '../ir/index.js';
import { pickGranularity, quantizeWeight, type Granularity } from './qmath.js';
import { cachedWeight, dequantizedWeight, type WeightCache } from './dequantize.js';
import { addConstant, dropOrphans, floatConstant, snapshot, type PassResult, type QuantizedUnit } from './select.js';

export const DYNAMIC_OP_TYPES = ['MatMul', 'Gemm', 'Conv', 'LSTM', 'Gather'] as const;

export interface DynamicOptions {
  granularity: Granularity;
  /** 7-bit int8 weights for u8×s8 products (CPUs without VNNI). */
  reduceRange: boolean;
  select: (node: Node) => boolean;
  /** Conv as ConvInteger (slower than float Conv on onnxruntime's CPU provider) instead of int8 weights only. */
  convInteger?: boolean;
}

export function quantizeDynamic(model: Model, opts: DynamicOptions): PassResult {
  const g = model.graph;
  const result: PassResult = { units: [], skipped: [] };
  const replaced: string[] = [];
  const cache: WeightCache = new Map();
  const dynamicInputs = new Map<string, { q: string; scale: string; zp: string }>();
  let usesContrib = false;

  /** DynamicQuantizeLinear of an activation, shared by all nodes that read it. */
  const quantizeActivation = (x: string, at: Node): { q: string; scale: string; zp: string } => {
    let r = dynamicInputs.get(x);
    if (!r) {
      r = { q: g.uniqueName(`${x}_q`), scale: g.uniqueName(`${x}_scale`), zp: g.uniqueName(`${x}_zp`) };
      g.addNode({ opType: 'DynamicQuantizeLinear', name: g.uniqueName(`${x}_DynamicQuantizeLinear`), inputs: [x], outputs: [r.q, r.scale, r.zp] }, g.nodes.indexOf(at));
      dynamicInputs.set(x, r);
    }
    return r;
  };

  for (const node of [...g.nodes]) {
    if (!opts.select(node)) continue;
    const skip = (reason: string) => result.skipped.push({ node: node.name, opType: node.opType, reason });
    const original = snapshot(node);
    let unit: Omit<QuantizedUnit, 'node' | 'opType' | 'original' | 'output'> | string;
    switch (node.opType) {
      case 'MatMul':
        unit = matmul(g, node, opts, quantizeActivation, cache);
        break;
      case 'Gemm':
        unit = gemm(g, node, opts, quantizeActivation, cache);
        break;
      case 'Conv':
        unit = opts.convInteger ? conv(g, node, opts, quantizeActivation) : weightOnly(g, cache, model.opset('') ?? 13, node, opts);
        break;
      case 'LSTM':
        unit = quantizeLstm(g, node, opts.granularity, opts.reduceRange);
        if (typeof unit !== 'string') usesContrib = true;
        break;
      case 'Gather': {
        // Gathers over computed values (shape arithmetic) are not embeddings: nothing to say about them.
        if (!floatConstant(g, node.inputs[0], [1, 2, 3, 4])) continue;
        const r = quantizeEmbedding(g, node, opts.granularity);
        unit = typeof r === 'string' ? r : { ...r, inputs: original.inputs };
        break;
      }
      default:
        continue;
    }
    if (typeof unit === 'string') {
      skip(unit);
      continue;
    }
    replaced.push(...original.inputs);
    result.units.push({ node: original.name, opType: original.opType, original: [original], output: original.outputs[0]!, ...unit });
  }
  g.invalidate();
  dropOrphans(g, replaced);
  if (usesContrib && model.opset('com.microsoft') === undefined) model.setOpset('com.microsoft', 1);
  return result;
}

type ActivationQuantizer = (x: string, at: Node) => { q: string; scale: string; zp: string };

/** Transposes a row-major [rows, cols] float matrix. */
function transpose2d(src: Float32Array, rows: number, cols: number): Float32Array {
  const out = new Float32Array(src.length);
  for (let r = 0; r < rows; r++) for (let c = 0; c < cols; c++) out[c * rows + r] = src[r * cols + c]!;
  return out;
}

/**
 * Replaces `node` by an integer op on the dynamically quantized activation and the stored weight,
 * Cast to float, times (activation scale · weight scale), plus `bias`: ending in the node's output.
 */
function rescaledInteger(
  g: Graph,
  node: Node,
  opType: 'MatMulInteger' | 'ConvInteger',
  act: { q: string; scale: string; zp: string },
  weight: { data: string; zeroPoint: string; scale: string },
  bias: string | undefined,
): void {
  const base = node.name || node.outputs[0]!;
  const out = node.outputs[0]!;
  const id = g.uniqueName(`${base}_int`);
  const f = g.uniqueName(`${base}_int_float`);
  const s = g.uniqueName(`${base}_output_scale`);
  const scaled = bias ? g.uniqueName(`${base}_scaled`) : out;
  const nodes = [
    { opType, name: g.uniqueName(`${base}_${opType}`), inputs: [act.q, weight.data, act.zp, weight.zeroPoint], outputs: [id], attributes: opType === 'ConvInteger' ? node.attributes : [] },
    { opType: 'Cast', name: g.uniqueName(`${base}_Cast`), inputs: [id], outputs: [f], attributes: [attr.int('to', 1)] },
    { opType: 'Mul', name: g.uniqueName(`${base}_scale_Mul`), inputs: [act.scale, weight.scale], outputs: [s] },
    { opType: 'Mul', name: g.uniqueName(`${base}_Mul`), inputs: [f, s], outputs: [scaled] },
  ];
  if (bias) nodes.push({ opType: 'Add', name: g.uniqueName(`${base}_bias_Add`), inputs: [scaled, bias], outputs: [out], attributes: [] });
  g.replaceNode(node, nodes);
}

/**
 * Integer matmul of activation `a` with a [K, N] float weight, rescaled to float, ending in `output`
 * (with `bias` added when given). Returns the weight SQNR.
 */
function integerMatMul(
  g: Graph,
  node: Node,
  a: string,
  source: Tensor,
  transposed: boolean,
  bias: string | undefined,
  scaleFactor: number,
  opts: DynamicOptions,
  quantizeActivation: ActivationQuantizer,
  cache: WeightCache,
): number {
  const base = node.name || node.outputs[0]!;
  const [k, n] = transposed ? [source.dims[1]!, source.dims[0]!] : [source.dims[0]!, source.dims[1]!];
  const w = cachedWeight(cache, source, `mm:${transposed}:${opts.granularity}:${opts.reduceRange}:${scaleFactor}`, () => {
    const values = transposed ? transpose2d(source.data as Float32Array, n, k) : (source.data as Float32Array);
    const q = quantizeWeight(values, [k, n], { type: 'int8', axis: 1, granularity: opts.granularity, reduceRange: opts.reduceRange });
    const channels = q.scales.length;
    const shape = q.axis !== undefined ? [channels] : [];
    return {
      data: addConstant(g, `${base}_weight_q`, Tensor.from('int8', [k, n], q.data as Int8Array)),
      zeroPoint: addConstant(g, `${base}_weight_zp`, Tensor.from('int8', shape, new Int8Array(channels))),
      scale: addConstant(g, `${base}_weight_scale`, Tensor.from('float32', shape, scaleFactor === 1 ? q.scales : q.scales.map((s) => s * scaleFactor))),
      scales: q.scales,
      sqnrDb: q.sqnrDb,
    };
  });
  rescaledInteger(g, node, 'MatMulInteger', quantizeActivation(a, node), w, bias);
  return w.sqnrDb;
}

function matmul(g: Graph, node: Node, opts: DynamicOptions, qa: ActivationQuantizer, cache: WeightCache) {
  const [a, b] = node.inputs;
  const w = floatConstant(g, b, [2]);
  if (!a || !w) return 'the weight (input 1) is not a 2-D float constant';
  const inputs = [...node.inputs];
  const weightSqnrDb = integerMatMul(g, node, a, w, false, undefined, 1, opts, qa, cache);
  return { inputs, quantizedOutput: node.outputs[0]!, weightSqnrDb };
}

function gemm(g: Graph, node: Node, opts: DynamicOptions, qa: ActivationQuantizer, cache: WeightCache) {
  const [a, b, c] = node.inputs;
  const w = floatConstant(g, b, [2]);
  if (!a || !w) return 'the weight (input 1) is not a 2-D float constant';
  if (getInt(node, 'transA', 0)) return 'transA=1 is not supported';
  const alpha = getFloat(node, 'alpha', 1);
  const beta = getFloat(node, 'beta', 1);
  const transB = getInt(node, 'transB', 0) === 1;
  let bias: string | undefined;
  if (c) {
    if (beta === 1) bias = c;
    else {
      const ct = floatConstant(g, c, [0, 1, 2]);
      if (!ct) return 'a bias with beta ≠ 1 must be a float constant';
      bias = addConstant(g, `${c}_beta`, Tensor.from('float32', [...ct.dims], (ct.data as Float32Array).map((v) => v * beta)));
    }
  }
  const inputs = [...node.inputs];
  const weightSqnrDb = integerMatMul(g, node, a, w, transB, bias, alpha, opts, qa, cache);
  return { inputs, quantizedOutput: node.outputs[0]!, weightSqnrDb };
}

function conv(g: Graph, node: Node, opts: DynamicOptions, qa: ActivationQuantizer) {
  const [x, wName, bName] = node.inputs;
  const w = floatConstant(g, wName, [3, 4, 5]);
  if (!x || !w) return 'the weight (input 1) is not a float constant';
  const bias = floatConstant(g, bName, [1]);
  if (bName && !bias) return 'the bias is not a float constant';
  const base = node.name || node.outputs[0]!;
  const q = quantizeWeight(w.data as Float32Array, w.dims, { type: 'uint8', axis: 0, granularity: opts.granularity });
  // Output-channel scales (and the bias) broadcast over the spatial axes: [C, 1, 1] for a 2-D convolution.
  const spatial = Array(w.dims.length - 2).fill(1);
  const weight = {
    data: addConstant(g, `${base}_weight_q`, Tensor.from('uint8', [...w.dims], q.data as Uint8Array)),
    zeroPoint: addConstant(g, `${base}_weight_zp`, Tensor.from('uint8', [], new Uint8Array([q.zeroPoint]))),
    scale: addConstant(g, `${base}_weight_scale`, Tensor.from('float32', q.axis !== undefined ? [q.scales.length, ...spatial] : [], q.scales)),
  };
  const biasInput = bias && addConstant(g, `${bName}_reshaped`, Tensor.from('float32', [bias.size, ...spatial], bias.data as Float32Array));
  const inputs = [...node.inputs];
  const out = node.outputs[0]!;
  rescaledInteger(g, node, 'ConvInteger', qa(x, node), weight, biasInput);
  return { inputs, quantizedOutput: out, weightSqnrDb: q.sqnrDb };
}

/** Conv with int8 weights dequantized in the graph: smaller, float compute. */
function weightOnly(g: Graph, cache: WeightCache, opset: number, node: Node, opts: DynamicOptions) {
  const w = floatConstant(g, node.inputs[1], [3, 4, 5]);
  if (!w) return 'the weight (input 1) is not a float constant';
  const inputs = [...node.inputs];
  const dq = dequantizedWeight(g, cache, opset, w, 0, opts.granularity, false, node);
  g.setNodeInput(node, 1, dq.name);
  return { inputs, quantizedOutput: node.outputs[0]!, weightSqnrDb: dq.sqnrDb };
}

/** W [dirs, 4H, I] → int8 [dirs, I, 4H] with scales [dirs, 4H] (per channel) or [dirs]. */
function lstmWeight(g: Graph, t: Tensor, base: string, granularity: Granularity, reduceRange: boolean): { q: string; scale: string; zp: string; sqnrDb: number } {
  const [dirs, rows, cols] = t.dims as [number, number, number];
  const values = t.data as Float32Array;
  // Per channel: one scale per gate row of each direction; per tensor: one per direction.
  const rowsView: [number[], number] = [[dirs * rows, cols], 0];
  const q = pickGranularity(
    () => quantizeWeight(values, [dirs * rows, cols], { type: 'int8', axis: 0, reduceRange }),
    () => quantizeWeight(values, [dirs, rows * cols], { type: 'int8', axis: 0, reduceRange, channels: rowsView }),
    granularity,
  );
  const perChannel = q.scales.length !== dirs;
  const transposed = new Int8Array(values.length);
  for (let d = 0; d < dirs; d++) {
    const block = q.data.subarray(d * rows * cols, (d + 1) * rows * cols) as Int8Array;
    for (let r = 0; r < rows; r++) for (let c = 0; c < cols; c++) transposed[d * rows * cols + c * rows + r] = block[r * cols + c]!;
  }
  const scaleDims = perChannel ? [dirs, rows] : [dirs];
  return {
    q: addConstant(g, `${base}_q`, Tensor.from('int8', [dirs, cols, rows], transposed)),
    scale: addConstant(g, `${base}_scale`, Tensor.from('float32', scaleDims, q.scales)),
    zp: addConstant(g, `${base}_zp`, Tensor.from('int8', scaleDims, new Int8Array(q.scales.length))),
    sqnrDb: q.sqnrDb,
  };
}

/**
 * LSTM → com.microsoft DynamicQuantizeLSTM: int8 W and R (per gate row, or per direction), inputs
 * quantized at run time by the kernel. No int8 LSTM takes static scales, so `int8`/`uint8` use it too.
 */
export function quantizeLstm(g: Graph, node: Node, granularity: Granularity, reduceRange: boolean) {
  const w = floatConstant(g, node.inputs[1], [3]);
  const r = floatConstant(g, node.inputs[2], [3]);
  if (!w || !r) return 'W and R are not float constants';
  if (getInt(node, 'layout', 0) !== 0) return 'layout=1 is not supported by DynamicQuantizeLSTM';
  const base = node.name || node.outputs[0]!;
  const qw = lstmWeight(g, w, `${base}_W`, granularity, reduceRange);
  const qr = lstmWeight(g, r, `${base}_R`, granularity, reduceRange);
  const inputs = [...node.inputs];
  const pad = (i: number) => node.inputs[i] ?? '';
  const replacement: Node = {
    name: g.uniqueName(`${base}_quant`),
    opType: 'DynamicQuantizeLSTM',
    domain: 'com.microsoft',
    inputs: [node.inputs[0]!, qw.q, qr.q, pad(3), pad(4), pad(5), pad(6), pad(7), qw.scale, qw.zp, qr.scale, qr.zp],
    outputs: [...node.outputs],
    attributes: node.attributes,
  };
  g.replaceNode(node, [replacement]);
  const signal = Math.min(qw.sqnrDb, qr.sqnrDb);
  return { inputs, quantizedOutput: node.outputs[0]!, weightSqnrDb: signal };
}

/**
 * Embedding lookup on int8 rows: Gather the rows and their scales, Cast and multiply (per row); per
 * tensor, DequantizeLinear after the Gather. Dequantizing after the lookup touches only the rows taken.
 */
export function quantizeEmbedding(g: Graph, node: Node, granularity: Granularity): { quantizedOutput: string; weightSqnrDb: number } | string {
  const [data, ids] = node.inputs;
  const table = floatConstant(g, data, [1, 2, 3, 4]);
  if (!table || !ids) return 'the table (input 0) is not a float constant';
  if (table.size < 256) return 'table too small to be worth quantizing';
  const axis = getInt(node, 'axis', 0);
  const rowAxis = axis === 0 || axis === -table.dims.length;
  const base = node.name || node.outputs[0]!;
  const q = quantizeWeight(table.data as Float32Array, table.dims, { type: 'int8', axis: rowAxis ? 0 : undefined, granularity });
  const perRow = q.axis !== undefined;
  const qName = addConstant(g, `${base}_table_q`, Tensor.from('int8', [...table.dims], q.data as Int8Array));
  const out = node.outputs[0]!;
  const rows = g.uniqueName(`${base}_rows`);
  const nodes: Parameters<Graph['replaceNode']>[1] = [{ opType: 'Gather', name: g.uniqueName(`${base}_Gather`), inputs: [qName, ids], outputs: [rows], attributes: node.attributes }];
  if (perRow) {
    const scaleTable = addConstant(g, `${base}_row_scale`, Tensor.from('float32', [table.dims[0]!, ...Array(table.dims.length - 1).fill(1)], q.scales));
    const rowScales = g.uniqueName(`${base}_rows_scale`);
    const f = g.uniqueName(`${base}_rows_float`);
    nodes.push(
      { opType: 'Gather', name: g.uniqueName(`${base}_scale_Gather`), inputs: [scaleTable, ids], outputs: [rowScales], attributes: [attr.int('axis', 0)] },
      { opType: 'Cast', name: g.uniqueName(`${base}_Cast`), inputs: [rows], outputs: [f], attributes: [attr.int('to', 1)] },
      { opType: 'Mul', name: g.uniqueName(`${base}_Mul`), inputs: [f, rowScales], outputs: [out] },
    );
  } else {
    const scale = addConstant(g, `${base}_table_scale`, Tensor.from('float32', [], q.scales));
    const zp = addConstant(g, `${base}_table_zp`, Tensor.from('int8', [], new Int8Array(1)));
    nodes.push({ opType: 'DequantizeLinear', name: g.uniqueName(`${base}_DQ`), inputs: [rows, scale, zp], outputs: [out] });
  }
  g.replaceNode(node, nodes);
  return { quantizedOutput: out, weightSqnrDb: q.sqnrDb };
}
