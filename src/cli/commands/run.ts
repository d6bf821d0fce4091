import * as fs from 'node:fs';
import * as path from 'node:path';
import type { Command } from 'commander';
import { loadModel, readTensorFile, tensorFromJson, tensorToJson, writeTensorFile } from '../../io/index.js';
import { checkFeeds, createSession, type RuntimeName, type SessionValue } from '../../runtime/index.js';
import { generateInputs } from '../../data/index.js';
import { Tensor, formatShape, type TypedArray } from '../../ir/index.js';
import {
  UserError,
  collect,
  parseAssignment,
  parseChoice,
  parseIntOption,
  printJson,
  requirePath,
  withExamples,
} from '../common.js';

interface RunOptions {
  input?: string[];
  random?: boolean;
  seed: number;
  batch?: number;
  dim?: [string, string][];
  runtime: RuntimeName;
  threads?: number;
  outputDir?: string;
  json?: boolean;
}

/** min/max/mean and the first values of a tensor, for people. */
export function summarizeTensor(t: Tensor): { min?: number; max?: number; mean?: number; first: unknown[] } {
  if (t.dtype === 'string') return { first: (t.data as string[]).slice(0, 8) };
  let values: ArrayLike<number>;
  try {
    values = t.toFloat32();
  } catch {
    return { first: Array.from((t.data as TypedArray as ArrayLike<number | bigint>)).slice(0, 8) };
  }
  let min = Infinity;
  let max = -Infinity;
  let sum = 0;
  for (let i = 0; i < values.length; i++) {
    const v = values[i]!;
    if (v < min) min = v;
    if (v > max) max = v;
    sum += v;
  }
  const n = values.length;
  return { min: n ? min : undefined, max: n ? max : undefined, mean: n ? sum / n : undefined, first: Array.from(values).slice(0, 8) };
}

const fmt = (v: number | undefined) => (v === undefined ? '-' : Math.abs(v) >= 1e4 || (Math.abs(v) < 1e-3 && v !== 0) ? v.toExponential(4) : Number(v.toFixed(5)).toString());

function readInput(spec: string, inputs: SessionValue[]): [string, Tensor] {
  let name: string | undefined;
  let file = spec;
  const eq = spec.indexOf('=');
  if (eq > 0 && !fs.existsSync(spec)) [name, file] = parseAssignment(spec);
  if (!name) {
    if (inputs.length !== 1) throw new UserError(`--input ${spec}: name the input (NAME=FILE); the model has ${inputs.length} inputs: ${inputs.map((i) => i.name).join(', ')}`);
    name = inputs[0]!.name;
  }
  const target = inputs.find((i) => i.name === name);
  if (!target) throw new UserError(`--input ${spec}: the model has no input '${name}' (inputs: ${inputs.map((i) => i.name).join(', ')})`);
  requirePath(file);
  let tensor: Tensor;
  if (file.endsWith('.json')) {
    let parsed: unknown;
    try {
      parsed = JSON.parse(fs.readFileSync(file, 'utf8'));
    } catch (e) {
      throw new UserError(`${file}: not valid JSON (${(e as Error).message})`);
    }
    if (!target.dtype) throw new UserError(`--input ${spec}: input '${name}' is not a tensor`);
    tensor = tensorFromJson(parsed, file, { dtype: target.dtype, name });
  } else tensor = readTensorFile(file);
  // Checked here, not only at run time, so the message names the file that holds the wrong tensor.
  try {
    checkFeeds([target], { [name]: tensor });
  } catch (e) {
    throw new UserError(`${file}: ${(e as Error).message}`);
  }
  return [name, tensor];
}

export function register(program: Command): void {
  withExamples(
    program
      .command('run')
      .description('run a model in onnxruntime and print its outputs (summary; everything with --json)')
      .argument('<model>', 'ONNX model file')
      .option('-i, --input <NAME=FILE>', 'an input from a TensorProto .pb or a JSON file (repeatable; NAME may be left out for a one-input model)', collect(), [])
      .option('--random', 'generate seeded inputs for every input not given with --input')
      .option('--seed <n>', 'seed for --random', parseIntOption(0), 0)
      .option('--batch <n>', 'size of symbolic batch dimensions for --random', parseIntOption(1))
      .option('--dim <NAME=SIZE>', 'size of a named symbolic dimension for --random (repeatable)', collect(parseAssignment), [])
      .option('--runtime <name>', 'node (onnxruntime-node) or wasm (onnxruntime-web)', parseChoice(['node', 'wasm', 'cuda'] as const), 'node')
      .option('--threads <n>', 'intra-op threads', parseIntOption(1))
      .option('--output-dir <dir>', 'also write the inputs and outputs as an ONNX test data set (input_i.pb, output_i.pb)')
      .option('--json', 'print inputs used and full outputs as JSON')
      .action(async (file: string, opts: RunOptions) => {
        const model = loadModel(requirePath(file));
        const session = await createSession(file, { runtime: opts.runtime, threads: opts.threads });
        try {
          const feeds: Record<string, Tensor> = {};
          for (const spec of opts.input ?? []) {
            const [name, t] = readInput(spec, session.inputs);
            feeds[name] = t;
          }
          const missing = session.inputs.filter((i) => !(i.name in feeds));
          if (missing.length && !opts.random) {
            const list = missing.map((i) => `${i.name} (${i.dtype ?? 'non-tensor'}${formatShape(i.shape)})`).join(', ');
            throw new UserError(`${file} needs input${missing.length > 1 ? 's' : ''} ${list}: pass --input NAME=FILE.pb|FILE.json, or --random`);
          }
          if (missing.length) {
            const dims = Object.fromEntries((opts.dim ?? []).map(([k, v]) => [k, Number(v)]));
            const generated = generateInputs(model, { seed: opts.seed, batch: opts.batch, dims });
            for (const i of missing) feeds[i.name] = generated[i.name]!;
          }
          const t0 = performance.now();
          const outputs = await session.run(feeds);
          const ms = performance.now() - t0;
          if (opts.outputDir) {
            fs.mkdirSync(opts.outputDir, { recursive: true });
            session.inputs.forEach((i, k) => {
              const t = feeds[i.name]!;
              t.name = i.name;
              writeTensorFile(path.join(opts.outputDir!, `input_${k}.pb`), t);
            });
            session.outputs.forEach((o, k) => outputs[o.name] && writeTensorFile(path.join(opts.outputDir!, `output_${k}.pb`), outputs[o.name]!));
          }
          if (opts.json) {
            printJson({
              model: file,
              runtime: opts.runtime,
              latencyMs: ms,
              inputs: Object.values(feeds).map((t) => ({ name: t.name, dtype: t.dtype, dims: t.dims, ...summarizeTensor(t) })),
              outputs: Object.entries(outputs).map(([name, t]) => ({ ...tensorToJson(t), name, ...summarizeTensor(t), first: undefined })),
            });
            return;
          }
          console.log(`${file} (${opts.runtime}, ${ms.toFixed(2)} ms)`);
          for (const [name, t] of Object.entries(feeds)) console.log(`  input  ${name}: ${t.dtype}[${t.dims.join(',')}]`);
          for (const [name, t] of Object.entries(outputs)) {
            const s = summarizeTensor(t);
            console.log(`  output ${name}: ${t.dtype}[${t.dims.join(',')}]  min ${fmt(s.min)}  max ${fmt(s.max)}  mean ${fmt(s.mean)}`);
            console.log(`         first: ${s.first.map((v) => (typeof v === 'number' ? fmt(v) : String(v))).join(', ')}${t.size > s.first.length ? ', …' : ''}`);
          }
          if (opts.outputDir) console.log(`  wrote inputs and outputs to ${opts.outputDir}`);
        } finally {
          await session.release();
        }
      }),
    'modelship run model.onnx --random',
    'modelship run model.onnx --input image=test_data_set_0/input_0.pb --json',
    'modelship run model.onnx --random --batch 4 --dim seq=32',
  );
}
