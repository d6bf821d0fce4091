import * as fs from 'node:fs';

/**
 * Class labels for task accuracy: a JSON array of integers (or `{ "labels": [...] }`), or plain text with
 * integers separated by newlines, commas or spaces. One label per row of the classifier output.
 */
export function loadLabels(file: string): Int32Array {
  if (!fs.existsSync(file)) throw new Error(`${file}: no such labels file`);
  const text = fs.readFileSync(file, 'utf8');
  let values: unknown[];
  if (file.endsWith('.json') || /^\s*[[{]/.test(text)) {
    let parsed: unknown;
    try {
      parsed = JSON.parse(text);
    } catch (e) {
      throw new Error(`${file}: not valid JSON (${(e as Error).message})`);
    }
    const list = Array.isArray(parsed) ? parsed : (parsed as { labels?: unknown })?.labels;
    if (!Array.isArray(list)) throw new Error(`${file}: expected a JSON array of integer labels (or {"labels": [...]})`);
    values = list;
  } else {
    values = text.split(/[\s,]+/).filter(Boolean);
  }
  const out = new Int32Array(values.length);
  values.forEach((v, i) => {
    const n = typeof v === 'string' && /^\d+$/.test(v) ? Number(v) : v;
    if (typeof n !== 'number' || !Number.isInteger(n) || n < 0) throw new Error(`${file}: label ${i} is ${JSON.stringify(v)}; expected a class index (integer ≥ 0)`);
    out[i] = n;
  });
  if (!out.length) throw new Error(`${file}: no labels in it`);
  return out;
}
