/**
 * Weights stored as int8 and turned back into float by a DequantizeLinear node: the QDQ form of a
 * weight (which onnxruntime fuses into integer kernels) and weight-only quantization.
 */
import { Tensor, attr, type Graph, type Node } from '../ir/index.js';
import { quantizeWeight, type Granularity } from './qmath.js';
import { addConstant } from './select.js';

/** Quantized copies of float weights already in the graph, so a weight shared by several layers is stored once. */
export type WeightCache = Map<Tensor, Map<string, StoredWeight>>;

export interface StoredWeight {
  /** Channel axis of the scales, undefined for one scale. */
  axis?: number;
  /** Initializer names of the integer data, its scale and zero point ('' when left to DequantizeLinear's default 0). */
  data: string;
  scale: string;
  zeroPoint: string;
  scales: Float32Array;
  sqnrDb: number;
}

/** The stored form of `source` for `variant` (layout and quantization settings), made once. */
export function cachedWeight(cache: WeightCache, source: Tensor, variant: string, make: () => StoredWeight): StoredWeight {
  let byVariant = cache.get(source);
  if (!byVariant) cache.set(source, (byVariant = new Map()));
  let w = byVariant.get(variant);
  if (!w) byVariant.set(variant, (w = make()));
  return w;
}

export interface DequantizedWeight {
  /** The DequantizeLinear output (a float tensor shaped like the weight). */
  name: string;
  scales: Float32Array;
  sqnrDb: number;
}

/**
 * Adds `source` as int8 (symmetric; per channel along `axis` as `granularity` says) with a
 * DequantizeLinear before `before`. Per-axis DequantizeLinear needs opset 13; older models get one scale.
 */
export function dequantizedWeight(
  g: Graph,
  cache: WeightCache,
  opset: number,
  source: Tensor,
  axis: number | undefined,
  granularity: Granularity,
  reduceRange: boolean,
  before: Node,
  /** onnxruntime fuses QDQ Gemm only with explicit zero points; Conv and MatMul take the default 0. */
  zeroPoint = false,
): DequantizedWeight {
  const base = source.name;
  const stored = cachedWeight(cache, source, `dq:${axis}:${granularity}:${reduceRange}:${zeroPoint}`, () => {
    const q = quantizeWeight(source.data as Float32Array, source.dims, { type: 'int8', axis: opset >= 13 ? axis : undefined, granularity, reduceRange });
    const channels = q.scales.length;
    const perAxis = q.axis !== undefined;
    return {
      axis: q.axis,
      data: addConstant(g, `${base}_q`, Tensor.from('int8', [...source.dims], q.data as Int8Array)),
      scale: addConstant(g, `${base}_scale`, Tensor.from('float32', perAxis ? [channels] : [], q.scales)),
      zeroPoint: zeroPoint ? addConstant(g, `${base}_zp`, Tensor.from('int8', perAxis ? [channels] : [], new Int8Array(channels))) : '',
      scales: q.scales,
      sqnrDb: q.sqnrDb,
    };
  });
  // One DequantizeLinear per reader (onnxruntime fuses each layer with its own).
  const name = g.uniqueName(`${base}_dq`);
  g.addNode(
    { opType: 'DequantizeLinear', inputs: stored.zeroPoint ? [stored.data, stored.scale, stored.zeroPoint] : [stored.data, stored.scale], outputs: [name], attributes: stored.axis !== undefined ? [attr.int('axis', stored.axis)] : [] },
    g.nodes.indexOf(before),
  );
  return { name, scales: stored.scales, sqnrDb: stored.sqnrDb };
}
