/**
 * Quantization arithmetic: scales and zero points for activations (asymmetric, from a calibrated
 * range) and weights (symmetric, per tensor or per channel), and the rounding onnxruntime uses.
 */
export type QuantType = 'int8' | 'uint8';

/** Round half to even, as QuantizeLinear does. */
export function roundHalfEven(x: number): number {
  const r = Math.round(x);
  return Math.abs(x - Math.trunc(x)) === 0.5 && r % 2 !== 0 ? r - 1 : r;
}

const RANGE: Record<QuantType, [number, number]> = { int8: [-128, 127], uint8: [0, 255] };

export interface QParams {
  scale: number;
  zeroPoint: number;
}

/**
 * Asymmetric parameters covering [rmin, rmax] widened to include 0 (so zero is exact, as padding and
 * ReLU need). A degenerate range gets scale 1.
 */
export function activationParams(rmin: number, rmax: number, type: QuantType): QParams {
  const [qmin, qmax] = RANGE[type];
  const lo = Math.min(rmin, 0);
  const hi = Math.max(rmax, 0);
  const scale = Math.fround((hi - lo) / (qmax - qmin));
  if (!(scale > 0) || !Number.isFinite(scale)) return { scale: 1, zeroPoint: type === 'uint8' ? 0 : -128 };
  const zeroPoint = Math.min(qmax, Math.max(qmin, roundHalfEven(qmin - lo / scale)));
  return { scale, zeroPoint };
}

/**
 * Per-channel or per-tensor weight scales. 'auto' takes per-channel scales only where they pay for
 * their 4 bytes a channel: at least PER_CHANNEL_GAIN_DB better channel-balanced SQNR (the mean of
 * each channel's own SQNR, so a small channel crushed by one shared scale counts as much as a big one).
 */
export type Granularity = 'auto' | 'channel' | 'tensor';
export const PER_CHANNEL_GAIN_DB = 1;

/** The per-channel result unless `granularity` or (for 'auto') too small a gain says per-tensor. */
export function pickGranularity<T extends { balancedSqnrDb: number }>(perChannel: () => T, perTensor: () => T, granularity: Granularity): T {
  if (granularity === 'tensor') return perTensor();
  const pc = perChannel();
  if (granularity === 'channel') return pc;
  const pt = perTensor();
  return pc.balancedSqnrDb - pt.balancedSqnrDb >= PER_CHANNEL_GAIN_DB ? pc : pt;
}

export interface WeightQuantOptions {
  /** Storage type: int8 (zero point 0) or uint8 (zero point 128, for ConvInteger which takes u8×u8 only). */
  type: QuantType;
  /** Channel axis for per-channel scales; undefined for one scale per tensor. */
  axis?: number;
  /** With `axis`: whether to use it (default 'channel'). */
  granularity?: Granularity;
  /** The channels balancedSqnrDb averages over, when not `axis` of `dims`: the same values seen as [dims, axis]. */
  channels?: [number[], number];
  /** 7-bit weights (±64) so u8×s8 products cannot saturate on CPUs without VNNI. */
  reduceRange?: boolean;
}

export interface QuantizedWeight {
  data: Int8Array | Uint8Array;
  /** The channel axis of `scales`, or undefined for one scale. */
  axis?: number;
  /** One per channel (or one). */
  scales: Float32Array;
  zeroPoint: number;
  /** SQNR of the dequantized weight against the original, in dB. */
  sqnrDb: number;
  /** Mean over channels of each channel's own SQNR (capped at 100 dB), in dB. */
  balancedSqnrDb: number;
}

/** Splits `dims` around `axis` into [outer, channels, inner]. */
function axisSplit(dims: readonly number[], axis: number | undefined): [number, number, number] {
  const count = dims.reduce((a, b) => a * b, 1);
  if (axis === undefined) return [1, 1, count];
  const outer = dims.slice(0, axis).reduce((a, b) => a * b, 1);
  const inner = dims.slice(axis + 1).reduce((a, b) => a * b, 1);
  return [outer, dims[axis]!, inner];
}

/** Symmetric weight quantization (per tensor, or per channel along `axis`; see Granularity). */
export function quantizeWeight(values: Float32Array, dims: readonly number[], opts: WeightQuantOptions): QuantizedWeight {
  if (opts.axis === undefined) return quantizeAlong(values, dims, undefined, opts);
  return pickGranularity(() => quantizeAlong(values, dims, opts.axis, opts), () => quantizeAlong(values, dims, undefined, opts), opts.granularity ?? 'channel');
}

function quantizeAlong(values: Float32Array, dims: readonly number[], axis: number | undefined, opts: WeightQuantOptions): QuantizedWeight {
  const [outer, channels, inner] = axisSplit(dims, axis);
  const qmax = opts.type === 'int8' && opts.reduceRange ? 64 : 127;
  const zeroPoint = opts.type === 'uint8' ? 128 : 0;
  const absmax = new Float64Array(channels);
  for (let o = 0; o < outer; o++) {
    for (let c = 0; c < channels; c++) {
      const base = (o * channels + c) * inner;
      let m = absmax[c]!;
      for (let i = 0; i < inner; i++) {
        const v = Math.abs(values[base + i]!);
        if (v > m) m = v;
      }
      absmax[c] = m;
    }
  }
  const scales = new Float32Array(channels);
  for (let c = 0; c < channels; c++) scales[c] = absmax[c]! > 0 ? absmax[c]! / qmax : 1;
  const data = opts.type === 'uint8' ? new Uint8Array(values.length) : new Int8Array(values.length);
  let signal = 0;
  let noise = 0;
  for (let o = 0; o < outer; o++) {
    for (let c = 0; c < channels; c++) {
      const s = scales[c]!;
      const base = (o * channels + c) * inner;
      for (let i = 0; i < inner; i++) {
        const v = values[base + i]!;
        const q = Math.max(-qmax, Math.min(qmax, roundHalfEven(v / s)));
        data[base + i] = q + zeroPoint;
        const e = v - q * s;
        signal += v * v;
        noise += e * e;
      }
    }
  }
  const [statDims, statAxis] = opts.channels ?? [dims, opts.axis];
  return { data, axis, scales, zeroPoint, sqnrDb: sqnrFromSums(signal, noise), balancedSqnrDb: balancedSqnr(values, data, scales, zeroPoint, dims, axis, statDims, statAxis) };
}

/** Mean of per-channel SQNRs (channels along `statAxis` of `statDims`), each capped at 100 dB. */
function balancedSqnr(
  values: Float32Array,
  data: Int8Array | Uint8Array,
  scales: Float32Array,
  zeroPoint: number,
  dims: readonly number[],
  axis: number | undefined,
  statDims: readonly number[],
  statAxis: number | undefined,
): number {
  const [, qChannels, qInner] = axisSplit(dims, axis);
  const [, channels, inner] = axisSplit(statDims, statAxis);
  const signal = new Float64Array(channels);
  const noise = new Float64Array(channels);
  for (let i = 0; i < values.length; i++) {
    const c = Math.floor(i / inner) % channels;
    const s = scales[Math.floor(i / qInner) % qChannels]!;
    const v = values[i]!;
    const e = v - (data[i]! - zeroPoint) * s;
    signal[c] += v * v;
    noise[c] += e * e;
  }
  let sum = 0;
  let counted = 0;
  for (let c = 0; c < channels; c++) {
    if (!signal[c]) continue;
    sum += Math.min(100, sqnrFromSums(signal[c]!, noise[c]!));
    counted++;
  }
  return counted ? sum / counted : 100;
}

/** 10·log10(signal/noise), Infinity for no noise. */
export function sqnrFromSums(signal: number, noise: number): number {
  if (noise === 0) return Infinity;
  if (signal === 0) return -Infinity;
  return 10 * Math.log10(signal / noise);
}

/**
 * Bias as int32 with scale inputScale·weightScale[c] (what QLinearConv/QGemm expect), per channel.
 * Values beyond int32 are clamped and counted.
 */
export function quantizeBias(bias: Float32Array, inputScale: number, weightScales: Float32Array): { data: Int32Array; scales: Float32Array; clamped: number } {
  const n = bias.length;
  const scales = new Float32Array(n);
  const data = new Int32Array(n);
  let clamped = 0;
  for (let c = 0; c < n; c++) {
    const s = Math.fround(inputScale * weightScales[weightScales.length === 1 ? 0 : c]!);
    scales[c] = s > 0 ? s : 1;
    const q = roundHalfEven(bias[c]! / scales[c]!);
    if (q > 2147483647 || q < -2147483648) clamped++;
    data[c] = Math.max(-2147483648, Math.min(2147483647, q));
  }
  return { data, scales, clamped };
}
