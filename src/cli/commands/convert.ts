import type { Command } from 'commander';
import { saveModel } from '../../io/index.js';
import { convertTfjs, DEFAULT_OPSET, MAX_OPSET, MIN_OPSET, ConvertVerifyError, type ConvertReport, type TfjsBackend } from '../../convert/index.js';
import { formatShape } from '../../ir/index.js';
import { UserError, assertNotInput, formatBytes, interactive, parseChoice, parseFloatOption, parseIntOption, printJson, progress, requirePath, table, withExamples } from '../common.js';

interface ConvertCliOptions {
  output: string;
  opset: number;
  batchDynamic?: boolean;
  nchw?: boolean;
  verify: boolean;
  verifyBackend: TfjsBackend;
  tolerance: number;
  json?: boolean;
}

function formatReport(r: ConvertReport, out: string, bytes: number): string {
  const lines = [`${r.source} (${r.format}) → ${out} (${formatBytes(bytes)}, opset ${r.opset})`];
  for (const i of r.inputs) lines.push(`  input   ${i.name}: ${i.dtype}${formatShape(i.shape)}`);
  for (const o of r.outputs) lines.push(`  output  ${o.name}: ${o.dtype}${formatShape(o.shape)}`);
  const ops = Object.entries(r.opCounts).sort((a, b) => b[1] - a[1]);
  lines.push(`  ${r.nodes} nodes (${ops.slice(0, 8).map(([op, n]) => `${op} ${n}`).join(', ')}${ops.length > 8 ? ', …' : ''}), ${r.transposes.final} layout transposes`);
  const q = Object.entries(r.weights.quantized);
  lines.push(`  ${r.weights.count} weights, ${formatBytes(r.weights.bytes)} as stored${q.length ? ` (dequantized: ${q.map(([d, n]) => `${n} ${d}`).join(', ')})` : ''}; converted in ${r.convertMs.toFixed(0)} ms`);
  const v = r.verify;
  if (v) {
    lines.push(`  verified against TF.js (${v.backend}): max relative error ${v.maxRelError.toExponential(2)} ≤ ${v.tolerance} (TF.js ${v.tfjsMs.toFixed(0)} ms, onnxruntime ${v.onnxMs.toFixed(0)} ms)`);
    const rows = v.outputs.map((o) => [o.name, o.relError.toExponential(2), o.maxAbsError.toExponential(2)]);
    lines.push(table([['output', 'rel error', 'max abs error'], ...rows], ['l', 'r', 'r']).replace(/^/gm, '    '));
  } else lines.push('  not verified (--no-verify)');
  return lines.join('\n');
}

export function register(program: Command): void {
  withExamples(
    program
      .command('convert')
      .description('convert a TF.js model (Layers or Graph model.json with its weight shards) to ONNX, verified against TF.js')
      .argument('<model-json>', 'TF.js model.json')
      .requiredOption('-o, --output <file>', 'ONNX file to write')
      .option('--opset <n>', `ONNX opset (${MIN_OPSET}..${MAX_OPSET})`, parseIntOption(1), DEFAULT_OPSET)
      .option('--batch-dynamic', "symbolic batch dimension ('batch') instead of 1")
      .option('--nchw', 'channels-first (NCHW) interface for 4-D inputs and outputs (default keeps TF.js NHWC)')
      .option('--no-verify', 'skip running TF.js and onnxruntime on the same inputs')
      .option('--verify-backend <name>', 'TF.js backend for the reference run: cpu (pure JS) or wasm', parseChoice(['cpu', 'wasm'] as const), 'cpu')
      .option('--tolerance <x>', 'largest accepted relative error in verification', parseFloatOption, 1e-4)
      .option('--json', 'print the conversion report as one JSON object')
      .action(async (file: string, opts: ConvertCliOptions) => {
        requirePath(file);
        assertNotInput(opts.output, file);
        const bar = progress(opts.verify ? 2 : 1, 'converting', interactive(opts.json));
        let result;
        try {
          result = await convertTfjs(file, {
            opset: opts.opset,
            batchDynamic: opts.batchDynamic,
            nchw: opts.nchw,
            verify: opts.verify ? { backend: opts.verifyBackend, tolerance: opts.tolerance } : false,
            onProgress: (done, _total, label) => bar.update(done, label),
          });
        } catch (e) {
          if (e instanceof ConvertVerifyError && opts.json) {
            printJson({ ok: false, error: e.message, report: e.report });
            throw new UserError(`${e.message}; nothing written`);
          }
          throw e instanceof ConvertVerifyError ? new UserError(`${e.message}; nothing written`) : e;
        } finally {
          bar.stop();
        }
        // The weight shards are known once the model is read.
        assertNotInput(opts.output, ...result.report.files);
        const saved = saveModel(result.model, opts.output);
        if (opts.json) printJson({ ok: true, output: opts.output, bytes: saved.bytes, report: result.report });
        else console.log(formatReport(result.report, opts.output, saved.bytes));
      }),
    'modelship convert model.json -o model.onnx',
    'modelship convert blazeface.json -o blazeface.onnx --nchw --batch-dynamic --verify-backend wasm --json',
  );
}
