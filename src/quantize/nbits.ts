/**
 * `q4` / `q4f16`: 4-bit block-wise weight-only quantization of MatMul (and Gemm) weights into
 * com.microsoft MatMulNBits, the operator onnxruntime (CPU, WASM, WebGPU) runs 4-bit LLM layers with.
 *
 * The weight [K, N] is quantized per column in blocks of `blockSize` rows, one scale per block;
 * symmetric by default (zero point 8 implied: no zero-point tensor), with per-block zero points when
 * `symmetric` is false. Packed as MatMulNBits wants it: B [N, blocks, blockSize/2] (low nibble first),
 * scales [N·blocks], zero points [N, ⌈blocks/2⌉].
 */
import { Tensor, attr, getFloat, getInt, type Model, type Node } from '../ir/index.js';
import { roundHalfEven, sqnrFromSums } from './qmath.js';
import { addConstant, dropOrphans, floatConstant, snapshot, type PassResult } from './select.js';
import { quantizeEmbedding } from './dynamic.js';

export const NBITS_OP_TYPES = ['MatMul', 'Gemm', 'Gather'] as const;

export interface NBitsOptions {
  blockSize: number;
  symmetric: boolean;
  select: (node: Node) => boolean;
}

export interface NBitsResult extends PassResult {
  /** Bytes of the MatMul/Gemm weights quantized, before (float32) and after (packed + scales + zero points). */
  weightBytes: { before: number; after: number };
}

export interface PackedWeight {
  packed: Uint8Array;
  scales: Float32Array;
  zeroPoints?: Uint8Array;
  blocks: number;
  sqnrDb: number;
}

/** Quantizes a row-major [K, N] weight (or [N, K] when `transposed`) column by column, block by block. */
export function packNBits(values: Float32Array, k: number, n: number, transposed: boolean, blockSize: number, symmetric: boolean): PackedWeight {
  const blocks = Math.ceil(k / blockSize);
  const half = blockSize / 2;
  const packed = new Uint8Array(n * blocks * half);
  const scales = new Float32Array(n * blocks);
  const zpBytes = Math.ceil(blocks / 2);
  const zeroPoints = symmetric ? undefined : new Uint8Array(n * zpBytes);
  const at = (row: number, col: number) => (transposed ? values[col * k + row]! : values[row * n + col]!);
  let signal = 0;
  let noise = 0;
  for (let col = 0; col < n; col++) {
    for (let b = 0; b < blocks; b++) {
      const start = b * blockSize;
      const end = Math.min(k, start + blockSize);
      let lo = 0;
      let hi = 0;
      for (let r = start; r < end; r++) {
        const v = at(r, col);
        if (v < lo) lo = v;
        if (v > hi) hi = v;
      }
      let scale: number;
      let zp: number;
      if (symmetric) {
        // Levels 1..15 around 8: ±7 steps, so the largest magnitude is exact on both sides.
        scale = Math.fround(Math.max(-lo, hi) / 7);
        zp = 8;
      } else {
        scale = Math.fround((hi - lo) / 15);
        zp = scale > 0 ? Math.min(15, Math.max(0, roundHalfEven(-lo / scale))) : 0;
      }
      if (!(scale > 0)) scale = 1;
      scales[col * blocks + b] = scale;
      if (zeroPoints) zeroPoints[col * zpBytes + (b >> 1)]! |= zp << ((b & 1) * 4);
      const base = (col * blocks + b) * half;
      for (let r = start; r < start + blockSize; r++) {
        const v = r < end ? at(r, col) : 0;
        const q = Math.min(15, Math.max(0, roundHalfEven(v / scale) + zp));
        const i = r - start;
        packed[base + (i >> 1)]! |= q << ((i & 1) * 4);
        if (r < end) {
          const e = v - (q - zp) * scale;
          signal += v * v;
          noise += e * e;
        }
      }
    }
  }
  return { packed, scales, zeroPoints, blocks, sqnrDb: sqnrFromSums(signal, noise) };
}

export function quantizeNBits(model: Model, opts: NBitsOptions): NBitsResult {
  const g = model.graph;
  const result: NBitsResult = { units: [], skipped: [], weightBytes: { before: 0, after: 0 } };
  const replaced: string[] = [];
  const cache = new Map<Tensor, { b: string; scales: string; zp?: string; bytes: number; sqnrDb: number }>();
  const { blockSize } = opts;
  if (blockSize < 16 || (blockSize & (blockSize - 1)) !== 0) throw new Error(`--block-size: ${blockSize} is not a power of two ≥ 16`);
  for (const node of [...g.nodes]) {
    if (!opts.select(node)) continue;
    const skip = (reason: string) => result.skipped.push({ node: node.name, opType: node.opType, reason });
    const original = snapshot(node);
    if (node.opType === 'Gather') {
      if (!floatConstant(g, node.inputs[0], [1, 2, 3, 4])) continue;
      const r = quantizeEmbedding(g, node, 'auto');
      if (typeof r === 'string') skip(r);
      else {
        replaced.push(...original.inputs);
        result.units.push({ node: original.name, opType: 'Gather', original: [original], inputs: original.inputs, output: original.outputs[0]!, ...r });
      }
      continue;
    }
    const [a, b, c] = node.inputs;
    const w = floatConstant(g, b, [2]);
    if (!a || !w) {
      skip('the weight (input 1) is not a 2-D float constant');
      continue;
    }
    const gemm = node.opType === 'Gemm';
    if (gemm && getInt(node, 'transA', 0)) {
      skip('transA=1 is not supported');
      continue;
    }
    const transposed = gemm && getInt(node, 'transB', 0) === 1;
    const [k, n] = transposed ? [w.dims[1]!, w.dims[0]!] : [w.dims[0]!, w.dims[1]!];
    if (k < 16) {
      skip(`K = ${k} is below MatMulNBits' minimum of 16`);
      continue;
    }
    const alpha = gemm ? getFloat(node, 'alpha', 1) : 1;
    const beta = gemm ? getFloat(node, 'beta', 1) : 1;
    let bias: string | undefined;
    let biasAfter: string | undefined;
    if (gemm && c) {
      const ct = floatConstant(g, c, [1]);
      if (ct && ct.size === n) bias = beta === 1 ? c : addConstant(g, `${c}_beta`, Tensor.from('float32', [n], (ct.data as Float32Array).map((v) => v * beta)));
      else if (beta === 1) biasAfter = c;
      else {
        skip('a bias with beta ≠ 1 that is not a [N] constant');
        continue;
      }
    }
    let stored = cache.get(w);
    if (!stored) {
      const p = packNBits(w.data as Float32Array, k, n, transposed, blockSize, opts.symmetric);
      const base = w.name;
      const bName = addConstant(g, `${base}_q4`, Tensor.from('uint8', [n, p.blocks, blockSize / 2], p.packed));
      const scales = alpha === 1 ? p.scales : p.scales.map((s) => s * alpha);
      stored = {
        b: bName,
        scales: addConstant(g, `${base}_q4_scale`, Tensor.from('float32', [n * p.blocks], scales)),
        zp: p.zeroPoints && addConstant(g, `${base}_q4_zp`, Tensor.from('uint8', [p.zeroPoints.length], p.zeroPoints)),
        bytes: p.packed.byteLength + scales.byteLength + (p.zeroPoints?.byteLength ?? 0),
        sqnrDb: p.sqnrDb,
      };
      cache.set(w, stored);
      result.weightBytes.before += w.byteLength;
      result.weightBytes.after += stored.bytes;
    }
    const out = node.outputs[0]!;
    const mm = biasAfter ? g.uniqueName(`${out}_nobias`) : out;
    const inputs = [a, stored.b, stored.scales, stored.zp ?? '', ...(bias ? ['', bias] : [])];
    while (inputs[inputs.length - 1] === '') inputs.pop();
    const nodes: Node[] = [
      {
        name: g.uniqueName(`${node.name || out}_MatMulNBits`),
        opType: 'MatMulNBits',
        domain: 'com.microsoft',
        inputs,
        outputs: [mm],
        attributes: [attr.int('K', k), attr.int('N', n), attr.int('bits', 4), attr.int('block_size', blockSize)],
      },
    ];
    if (biasAfter) nodes.push({ name: g.uniqueName(`${node.name || out}_bias`), opType: 'Add', domain: '', inputs: [mm, biasAfter], outputs: [out], attributes: [] });
    g.replaceNode(node, nodes);
    replaced.push(...original.inputs);
    result.units.push({ node: original.name, opType: original.opType, original: [original], inputs: original.inputs, output: out, quantizedOutput: out, weightSqnrDb: stored.sqnrDb });
  }
  g.invalidate();
  dropOrphans(g, replaced);
  if (result.units.some((u) => u.opType !== 'Gather') && model.opset('com.microsoft') === undefined) model.setOpset('com.microsoft', 1);
  return result;
}
