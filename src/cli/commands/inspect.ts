import type { Command } from 'commander';
import { loadModel } from '../../io/index.js';
import { inspectModel, type InspectReport, type ValueSummary } from '../../inspect/index.js';
import { formatShape } from '../../ir/index.js';
import { formatBytes, formatCount, printJson, requirePath, table, withExamples } from '../common.js';

const describeValue = (v: ValueSummary) =>
  v.dtype ? `${v.name}: ${v.kind === 'tensor' ? '' : `${v.kind} `}${v.dtype}${formatShape(v.shape)}` : `${v.name}: ${v.kind}`;

export function formatInspect(r: InspectReport): string {
  const lines: string[] = [];
  lines.push(`${r.path ?? 'model'}`);
  lines.push(`  size        ${formatBytes(r.sizeBytes)}${r.externalDataBytes ? ` (${formatBytes(r.externalDataBytes)} external data)` : ''}`);
  lines.push(`  producer    ${r.producer.name || '?'} ${r.producer.version}`.trimEnd());
  lines.push(`  ir_version  ${r.irVersion}`);
  lines.push(`  opsets      ${Object.entries(r.opsets).map(([d, v]) => `${d} ${v}`).join(', ')}`);
  lines.push('', 'Inputs', ...r.inputs.map((v) => `  ${describeValue(v)}`));
  lines.push('', 'Outputs', ...r.outputs.map((v) => `  ${describeValue(v)}`));
  const p = r.profile;
  lines.push('', 'Profile');
  lines.push(`  family        ${p.family} (${p.reason})`);
  lines.push(`  control flow  ${p.controlFlow ? p.controlFlowOps.join(', ') : 'none'}`);
  lines.push(`  dynamic axes  ${p.dynamicAxes.length ? p.dynamicAxes.map((d) => `${d.value}[${d.axis}]=${d.dim ?? '?'}`).join(', ') : 'none'}`);
  lines.push(`  quantized     ${p.quantized ? `yes (${p.quantization})` : 'no'}`);
  lines.push('', `Nodes: ${r.nodeCount}${r.totalNodeCount !== r.nodeCount ? ` (${r.totalNodeCount} with subgraphs)` : ''}`);
  const ops = Object.entries(r.opCounts);
  lines.push(table([['op', 'count'], ...ops.slice(0, 20).map(([o, c]) => [o, c])], ['l', 'r']).replace(/^/gm, '  '));
  if (ops.length > 20) lines.push(`  … and ${ops.length - 20} more op types`);
  lines.push('', `Parameters: ${formatCount(r.parameterCount)} (${formatBytes(r.parameterBytes)})`);
  lines.push(
    table(
      [['dtype', 'tensors', 'elements', 'bytes'], ...Object.entries(r.parametersByDtype).map(([d, e]) => [d, e.tensors, formatCount(e.count), formatBytes(e.bytes)])],
      ['l', 'r', 'r', 'r'],
    ).replace(/^/gm, '  '),
  );
  if (r.largestInitializers.length) {
    lines.push('', 'Largest initializers');
    lines.push(
      table(
        [['name', 'dtype', 'shape', 'bytes'], ...r.largestInitializers.map((t) => [t.name, t.dtype, `[${t.shape.join(',')}]`, formatBytes(t.bytes)])],
        ['l', 'l', 'l', 'r'],
      ).replace(/^/gm, '  '),
    );
  }
  if (Object.keys(r.metadata).length) {
    lines.push('', 'Metadata', ...Object.entries(r.metadata).map(([k, v]) => `  ${k}: ${v}`));
  }
  return lines.join('\n');
}

export function register(program: Command): void {
  withExamples(
    program
      .command('inspect')
      .description('show a model: inputs/outputs, opsets, operators, parameters, and its profile (family, control flow, dynamic axes, quantization)')
      .argument('<model>', 'ONNX model file')
      .option('--json', 'print one JSON object')
      .action((file: string, opts: { json?: boolean }) => {
        const report = inspectModel(loadModel(requirePath(file)));
        if (opts.json) printJson(report);
        else console.log(formatInspect(report));
      }),
    'modelship inspect model.onnx',
    'modelship inspect model.onnx --json | jq .profile.family',
  );
}
