/**
 * Analyze: the model profile (family, parameter shares, quantization already present) and the CPU
 * choose which variants are worth generating, each with the reason; the rest are listed with why not.
 */
import type { ModelProfile } from '../inspect/index.js';
import type { CpuFeatures, QuantizeMode } from '../quantize/index.js';

export type VariantName = 'fp32' | QuantizeMode;
export const VARIANTS: readonly VariantName[] = ['fp32', 'fp16', 'q8', 'int8', 'uint8', 'q4', 'q4f16'];

export interface Strategy {
  name: VariantName;
  /** The quantize mode; undefined for fp32 (the original graph, optimized). */
  mode?: QuantizeMode;
  reason: string;
}

export interface Analysis {
  family: ModelProfile['family'];
  /** Why the family, from the profile. */
  familyReason: string;
  strategies: Strategy[];
  notTried: { name: VariantName; reason: string }[];
}

const pct = (x: number) => `${Math.round(x * 100)}%`;

/**
 * Candidate strategies for a model (see module doc). `asked` replaces the choice (every name is
 * tried, with "asked for" as the reason); fp32 is always a candidate: the variant to beat.
 */
export function chooseStrategies(profile: ModelProfile, cpu: Pick<CpuFeatures, 'x86'>, asked?: VariantName[]): Analysis {
  const s = profile.parameterShare;
  const dense = s.matmul + s.embedding;
  const tried: Strategy[] = [];
  const notTried: Analysis['notTried'] = [];
  const consider = (name: VariantName, yes: boolean, why: string, whyNot: string) => {
    if (yes) tried.push({ name, mode: name === 'fp32' ? undefined : (name as QuantizeMode), reason: why });
    else notTried.push({ name, reason: whyNot });
  };
  consider('fp32', true, 'the original graph, optimized (constants and BatchNorm folded, same results): the variant to beat; on small models quantizing can cost more than it saves', '');
  if (asked) {
    for (const name of asked) if (name !== 'fp32') tried.push({ name, mode: name as QuantizeMode, reason: 'asked for' });
    for (const name of VARIANTS) if (!asked.includes(name) && name !== 'fp32') notTried.push({ name, reason: 'not asked for' });
    return { family: profile.family, familyReason: profile.reason, strategies: tried, notTried };
  }
  if (profile.quantized) {
    const why = `the model is already quantized (${profile.quantization}): quantizing again would stack errors; it ships as it is, optimized`;
    for (const name of VARIANTS.slice(1)) notTried.push({ name, reason: why });
    return { family: profile.family, familyReason: profile.reason, strategies: tried, notTried };
  }
  const family = profile.family;
  const recurrent = family === 'recurrent';
  const transformer = family === 'transformer';
  const hasConv = s.conv > 0;

  consider('fp16', true, "float16 weights halve the file; onnxruntime's CPU computes in float32 behind Casts, so expect smaller, not faster", '');
  const q8Share = dense + s.recurrent;
  consider(
    'q8',
    q8Share >= 0.2,
    `dynamic int8: MatMul/Gemm${s.recurrent ? '/LSTM' : ''}${s.embedding ? '/embedding' : ''} weights (${pct(q8Share)} of the parameters) in int8, activations quantized per call (no calibration); onnxruntime fuses it into integer kernels${hasConv ? '; Conv stays float' : ''}`,
    `q8 quantizes MatMul/Gemm/LSTM weights, which hold only ${pct(q8Share)} of the parameters here (Conv stays float in q8)`,
  );
  const staticFits = !recurrent && !transformer && (hasConv || s.matmul > 0);
  consider(
    'int8',
    staticFits,
    `static int8: weights per channel and activations calibrated on data, QDQ around ${hasConv ? 'Conv/' : ''}MatMul/Gemm, which onnxruntime fuses into QLinearConv/QGemm${
      cpu.x86 ? '; on x86 its activations are uint8 (U8S8, onnxruntime\'s fast kernels), so it stands for uint8 too' : ''
    }`,
    recurrent
      ? 'static QDQ adds nothing here: LSTM/GRU weights are quantized as in q8 (DynamicQuantizeLSTM), and activations of a recurrence vary per step'
      : transformer
        ? 'static QDQ leaves attention (products of two activations) float; dynamic q8 quantizes activations per call, which suits varying sequences'
        : 'no Conv, MatMul or Gemm to quantize',
  );
  if (!cpu.x86) {
    consider('uint8', staticFits, 'static QDQ with uint8 activations (U8S8): on this CPU int8 mode runs S8S8, so both are measured', 'as int8');
  } else {
    notTried.push({ name: 'uint8', reason: 'on x86 int8 mode already uses uint8 activations (U8S8): the same model' });
  }
  consider(
    'q4',
    !recurrent && (transformer || s.matmul >= 0.5),
    `4-bit block-wise MatMul/Gemm weights (MatMulNBits; ${pct(s.matmul)} of the parameters): the smallest file; fastest on large, memory-bound MatMuls`,
    recurrent ? 'q4 quantizes MatMul/Gemm only; the recurrent layers hold most weights' : `q4 quantizes MatMul/Gemm only, which hold ${pct(s.matmul)} of the parameters here`,
  );
  notTried.push({ name: 'q4f16', reason: "q4f16 computes in float16, for GPU/WebGPU: onnxruntime's CPU and WASM would put Casts around every node" });
  return { family, familyReason: profile.reason, strategies: tried, notTried };
}
