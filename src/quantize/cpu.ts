/**
 * What the CPU can do fast with int8. x86 without VNNI multiplies u8×s8 with VPMADDUBSW, whose 16-bit
 * sums of two products saturate (255·127·2 > 32767), so 8-bit weights there lose accuracy; 7-bit
 * weights ("reduce range", as onnxruntime's quantizer offers) cannot saturate.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';

export interface CpuFeatures {
  arch: string;
  /** x86/x64: onnxruntime's int8 kernels there are u8×s8. */
  x86: boolean;
  model?: string;
  /** The int8 dot-product instructions found (avx512_vnni, avx_vnni, or asimddp/i8mm on Arm). */
  int8DotProduct: string[];
  /** True where u8×s8 products can saturate, so weights should use 7 bits. */
  saturationRisk: boolean;
  /** Where the answer came from. */
  source: string;
}

const X86_DOT = ['avx512_vnni', 'avx_vnni', 'amx_int8'];
const ARM_DOT = ['asimddp', 'i8mm'];

/** Reads /proc/cpuinfo (or the text given, for tests). Arm and unknown platforms have no saturation risk. */
export function detectCpuFeatures(cpuinfo?: string, arch = os.arch()): CpuFeatures {
  let text = cpuinfo;
  let source = 'given cpuinfo';
  if (text === undefined) {
    try {
      text = fs.readFileSync('/proc/cpuinfo', 'utf8');
      source = '/proc/cpuinfo';
    } catch {
      text = '';
      source = 'unavailable (no /proc/cpuinfo)';
    }
  }
  const flags = new Set<string>();
  let model: string | undefined;
  for (const line of text.split('\n')) {
    const m = /^(flags|Features)\s*:\s*(.*)$/.exec(line);
    if (m) for (const f of m[2]!.split(/\s+/)) flags.add(f);
    const name = /^model name\s*:\s*(.*)$/.exec(line);
    if (name && !model) model = name[1]!.trim();
  }
  const x86 = arch === 'x64' || arch === 'ia32';
  const int8DotProduct = (x86 ? X86_DOT : ARM_DOT).filter((f) => flags.has(f));
  // Without flags to read we cannot tell; assume the safe choice on x86.
  const saturationRisk = x86 && int8DotProduct.length === 0;
  return { arch, x86, model, int8DotProduct, saturationRisk, source };
}
