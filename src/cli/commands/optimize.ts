import * as fs from 'node:fs';
import * as path from 'node:path';
import { InvalidArgumentError, type Command } from 'commander';
import { loadModel, modelSource, saveModel } from '../../io/index.js';
import { inputSpecs, loadSamples, type Sample } from '../../data/index.js';
import { checkFeeds } from '../../runtime/index.js';
import { setInputShapes } from '../../shape-inference/index.js';
import {
  cloneModel,
  DEFAULT_VERIFY_RTOL,
  optimize,
  OptimizeVerificationError,
  PASSES,
  selectPasses,
  type OptimizeOptions,
  type OptimizeReport,
} from '../../optimize/index.js';
import type { Model } from '../../ir/index.js';
import {
  UserError,
  assertNotInput,
  collect,
  formatBytes,
  interactive,
  parseAssignment,
  parseFloatOption,
  printJson,
  progress,
  requirePath,
  table,
  withExamples,
} from '../common.js';

interface OptimizeCliOptions {
  output: string;
  passes?: string[];
  skip?: string[];
  inputShape: [string, number[]][];
  testData: string[];
  verify: boolean;
  rtol: number;
  json?: boolean;
}

const parseList = (v: string): string[] => v.split(',').map((s) => s.trim()).filter(Boolean);

/** `NAME=1,3,224,224` */
export function parseInputShape(v: string): [string, number[]] {
  const [name, dims] = parseAssignment(v);
  const parts = dims.split(/[,x]/).map((s) => s.trim());
  const nums = parts.map(Number);
  if (!dims || nums.some((n) => !Number.isInteger(n) || n < 0)) {
    throw new InvalidArgumentError(`expected NAME=DIM,DIM,… with non-negative integer dims, got '${v}'`);
  }
  return [name, nums];
}

/** Test sets for verification: given with --test-data, else test_data_set_* beside the model when they fit it. */
function testSets(file: string, model: Model, given: string[]): { inputs?: Sample[]; source: string } {
  const specs = inputSpecs(model);
  const fixed = model.graph.inputs.filter((v) => !model.graph.initializers.has(v.name));
  const interfaceOf = () => fixed.map((v) => ({ name: v.name, dtype: v.type?.kind === 'tensor' ? v.type.dtype : undefined, shape: v.type?.kind === 'tensor' ? v.type.shape : undefined }));
  if (given.length) {
    const samples = loadSamples(given, specs);
    for (const s of samples) {
      try {
        checkFeeds(interfaceOf(), s.inputs);
      } catch (e) {
        throw new UserError(`${s.source}: does not fit the model's inputs: ${(e as Error).message}`);
      }
    }
    return { inputs: samples.map((s) => s.inputs), source: given.join(', ') };
  }
  const dir = path.dirname(file);
  if (!fs.readdirSync(dir).some((d) => /^test_data_set_\d+$/.test(d))) return { source: 'generated inputs' };
  try {
    const samples = loadSamples([dir], specs);
    for (const s of samples) checkFeeds(interfaceOf(), s.inputs);
    return { inputs: samples.map((s) => s.inputs), source: samples.map((s) => path.relative('.', s.source)).join(', ') };
  } catch {
    // The test sets beside the model do not fit (e.g. other dims than --input-shape fixes): generate instead.
    return { source: 'generated inputs (the test sets beside the model do not fit its inputs)' };
  }
}

const pct = (before: number, after: number) => (before ? `${after <= before ? '-' : '+'}${Math.abs(((after - before) / before) * 100).toFixed(0)}%` : '');

function formatReport(input: string, output: string, r: OptimizeReport, files: { before: number; after: number }, verifySource: string): string {
  const lines: string[] = [];
  lines.push(`${input} → ${output} (${(r.timeMs / 1000).toFixed(2)} s, ${r.rounds} round${r.rounds === 1 ? '' : 's'}${r.converged ? '' : ', stopped before a fixed point'})`);
  lines.push('');
  lines.push(
    table(
      [
        ['', 'before', 'after', 'change'],
        ['nodes', r.before.nodes, r.after.nodes, pct(r.before.nodes, r.after.nodes)],
        ['initializers', r.before.initializers, r.after.initializers, pct(r.before.initializers, r.after.initializers)],
        ['weights', formatBytes(r.before.initializerBytes), formatBytes(r.after.initializerBytes), pct(r.before.initializerBytes, r.after.initializerBytes)],
        ['file', formatBytes(files.before), formatBytes(files.after), pct(files.before, files.after)],
      ],
      ['l', 'r', 'r', 'r'],
    ).replace(/^/gm, '  '),
  );
  const active = r.passes.filter((p) => p.changes);
  lines.push('', active.length ? 'Passes' : 'Passes: nothing to change');
  if (active.length) {
    const rows = active.map((p) => [p.name, p.changes, `${p.timeMs.toFixed(1)} ms`]);
    const tableLines = table([['pass', 'changes', 'time'], ...rows], ['l', 'r', 'r']).split('\n');
    lines.push(`  ${tableLines[0]}`, `  ${tableLines[1]}`);
    active.forEach((p, i) => {
      lines.push(`  ${tableLines[i + 2]}`);
      for (const [what, n] of Object.entries(p.changed)) lines.push(`      ${what} ×${n}`);
    });
  }
  if (r.removedInputs.length) lines.push('', `Removed unused inputs: ${r.removedInputs.join(', ')} (callers must stop feeding them)`);
  if (r.irVersion) lines.push('', `IR version raised ${r.irVersion.from} → ${r.irVersion.to} (folded constants need not be graph inputs)`);
  lines.push('', `Shape inference: ${r.shapeInference.inferred} values typed, ${r.shapeInference.unknown} unknown`);
  if (r.verify) {
    const worst = r.verify.outputs.reduce((m, o) => Math.max(m, o.maxRelDiff), 0);
    lines.push(
      `Verified in onnxruntime on ${r.verify.inputSets} input set${r.verify.inputSets === 1 ? '' : 's'} (${verifySource}): ${r.verify.outputs.length} output(s) agree, largest difference ${worst.toExponential(2)} of the output's range (limit ${r.verify.rtol})`,
    );
  } else lines.push('Not verified (--no-verify)');
  return lines.join('\n');
}

export function register(program: Command): void {
  const passList = PASSES.map((p) => `  ${p.name.padEnd(32)} ${p.description}`).join('\n');
  withExamples(
    program
      .command('optimize')
      .description('make a model smaller and simpler without changing its results: fold constants and shapes, fold BatchNorm, remove no-ops and duplicates; verified in onnxruntime')
      .argument('<model>', 'ONNX model file')
      .requiredOption('-o, --output <file>', 'where to write the optimized model')
      .option('--passes <a,b>', 'run only these passes', parseList)
      .option('--skip <a,b>', 'leave these passes out', parseList)
      .option('--input-shape <NAME=DIMS>', 'fix an input\'s dims, e.g. input=1,3,224,224, so shape computations fold (repeatable)', collect(parseInputShape), [])
      .option('--test-data <path>', 'inputs to verify on: test_data_set_N folders, folders of them, .pb or .json (repeatable; default: test_data_set_* beside the model, else generated)', collect(), [])
      .option('--no-verify', 'skip running original and optimized in onnxruntime to compare outputs')
      .option('--rtol <x>', "largest allowed output difference, relative to the output's range", parseFloatOption, DEFAULT_VERIFY_RTOL)
      .option('--json', 'print one JSON object')
      .addHelpText('after', `\nPasses (one round runs them in this order, rounds repeat until nothing changes):\n${passList}\n`)
      .action(async (file: string, opts: OptimizeCliOptions) => {
        requirePath(file);
        assertNotInput(opts.output, file);
        const model = loadModel(file);
        const inputShapes = opts.inputShape.length ? Object.fromEntries(opts.inputShape) : undefined;
        let verifySource = '';
        let verify: OptimizeOptions['verify'] = false;
        if (opts.verify) {
          // Test data must fit the inputs as --input-shape fixes them.
          const shaped = cloneModel(model);
          if (inputShapes) setInputShapes(shaped, inputShapes);
          const sets = testSets(file, shaped, opts.testData);
          verifySource = sets.source;
          verify = { inputs: sets.inputs, rtol: opts.rtol };
        }
        const bar = progress(selectPasses(opts).length, 'optimizing', interactive(opts.json));
        let result;
        try {
          result = await optimize(model, {
            passes: opts.passes,
            skip: opts.skip,
            inputShapes,
            verify,
            onProgress: (done, _total, label) => bar.update(done, label),
          });
        } catch (e) {
          if (e instanceof OptimizeVerificationError) throw new UserError(`${file}: ${e.message}; nothing was written`);
          throw e;
        } finally {
          bar.stop();
        }
        const saved = saveModel(result.model, opts.output);
        const source = modelSource(model);
        const files = {
          before: (source?.sizeBytes ?? 0) + (source?.externalDataBytes ?? 0),
          after: saved.bytes + (saved.externalDataBytes ?? 0),
        };
        if (opts.json) printJson({ input: file, output: opts.output, fileBytes: files, verifyInputs: verifySource || undefined, ...result.report });
        else console.log(formatReport(file, opts.output, result.report, files, verifySource));
      }),
    'modelship optimize model.onnx -o model.opt.onnx',
    'modelship optimize model.onnx -o model.opt.onnx --input-shape input=1,3,224,224 --json',
    'modelship optimize model.onnx -o out.onnx --skip fuse-matmul-add,eliminate-unused-inputs --test-data test_data_set_0',
  );
}
