/**
 * Debian's python3-onnx (1.12) as an independent referee: onnx.checker.check_model(full_check=True)
 * over many files in one Python process. It supports IR ≤ 8 and opset ≤ 17.
 */
import { spawnSync } from 'node:child_process';

export const PYTHON = '/usr/bin/python3';

const CHECK_SCRIPT = `
import json, sys, onnx
files = json.load(sys.stdin)
out = {}
for f in files:
    try:
        onnx.checker.check_model(f, full_check=True)
        out[f] = None
    except Exception as e:
        out[f] = (str(e).strip().splitlines() or [type(e).__name__])[0]
json.dump(out, sys.stdout)
`;

/** file → null when onnx.checker accepts it, else the first line of its complaint. */
export function onnxCheck(files: string[]): Record<string, string | null> {
  return runPython(CHECK_SCRIPT, files) as Record<string, string | null>;
}

/** Runs a Python script that reads JSON on stdin and writes JSON on stdout. */
export function runPython(script: string, input: unknown): unknown {
  const r = spawnSync(PYTHON, ['-c', script], { input: JSON.stringify(input), encoding: 'utf8', maxBuffer: 64 * 1024 * 1024 });
  if (r.status !== 0) throw new Error(`python3 failed (${r.status}): ${r.stderr}`);
  return JSON.parse(r.stdout);
}
