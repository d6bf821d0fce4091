/**
 * Debian's python3-onnx (1.12) as an external referee: onnx.checker.check_model(full_check=True),
 * which also runs ONNX's strict shape inference against the value_info a model carries. onnx 1.12
 * knows IR ≤ 8 and opset ≤ 17; newer models are reported as skipped (with the reason), never passed.
 */
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';

export const PYTHON = process.env.PYTHON ?? '/usr/bin/python3';

export interface OnnxCheck {
  file: string;
  status: 'passed' | 'failed' | 'skipped';
  message?: string;
}

const SCRIPT = `
import json, sys
import onnx
results = []
for f in json.load(sys.stdin):
    try:
        m = onnx.load(f)
        opset = max([o.version for o in m.opset_import if o.domain in ('', 'ai.onnx')] or [0])
        if m.ir_version > 8 or opset > 17:
            results.append({'file': f, 'status': 'skipped', 'message': 'IR %d / opset %d is newer than onnx %s checks (IR <= 8, opset <= 17)' % (m.ir_version, opset, onnx.__version__)})
            continue
        onnx.checker.check_model(m, full_check=True)
        results.append({'file': f, 'status': 'passed'})
    except Exception as e:
        results.append({'file': f, 'status': 'failed', 'message': str(e).strip().split('\\n')[0][:500]})
print(json.dumps(results))
`;

/** Checks every file in one python process (starting python once per model would dominate the time). */
export function onnxCheckFiles(files: string[]): OnnxCheck[] {
  if (!fs.existsSync(PYTHON)) throw new Error(`${PYTHON} not found: install Debian's python3-onnx (.ci/run does)`);
  const r = spawnSync(PYTHON, ['-c', SCRIPT], { input: JSON.stringify(files), encoding: 'utf8', maxBuffer: 64 * 1024 * 1024 });
  if (r.status !== 0) throw new Error(`python3-onnx checker failed to run: ${r.stderr.trim().split('\n').pop()}`);
  return JSON.parse(r.stdout) as OnnxCheck[];
}

/** Prints skipped models so a skip is never silent. */
export function reportSkipped(results: OnnxCheck[], label: string): void {
  const skipped = results.filter((r) => r.status === 'skipped');
  if (skipped.length) console.log(`${label}: onnx.checker skipped ${skipped.length} model(s): ${skipped.map((s) => `${s.file} (${s.message})`).join('; ')}`);
}
