/**
 * Input data from disk: ONNX test-case folders, `test_data_set_N` folders, single .pb tensors and JSON.
 * A sample is one feed (input name → tensor); its tensors may hold many rows along the batch axis.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { Tensor } from '../ir/index.js';
import { readTensorFile, readTestDataSet, tensorFromJson } from '../io/index.js';
import type { InputSpec } from './generate.js';

export type Sample = Record<string, Tensor>;

export interface LoadedSample {
  source: string;
  inputs: Sample;
  /** Expected outputs, when the data came with them (output_i.pb). */
  outputs?: Tensor[];
}

/** Names tensors after the model inputs: by their own name when it matches, else by position. */
export function bindToInputs(tensors: Tensor[], specs: InputSpec[], source: string): Sample {
  const names = new Set(specs.map((s) => s.name));
  const byName = tensors.every((t) => names.has(t.name));
  if (!byName && tensors.length !== specs.length) {
    throw new Error(`${source}: ${tensors.length} tensor(s) for a model with ${specs.length} input(s) (${[...names].join(', ')})`);
  }
  const sample: Sample = {};
  tensors.forEach((t, i) => {
    const name = byName ? t.name : specs[i]!.name;
    sample[name] = t;
  });
  return sample;
}

function isDataSetDir(dir: string): boolean {
  return fs.readdirSync(dir).some((f) => /^input_\d+\.pb$/.test(f));
}

/** Loads samples from each path (see module doc). */
export function loadSamples(paths: string[], specs: InputSpec[]): LoadedSample[] {
  const out: LoadedSample[] = [];
  for (const p of paths) {
    if (!fs.existsSync(p)) throw new Error(`${p}: no such file or folder`);
    if (fs.statSync(p).isDirectory()) {
      if (isDataSetDir(p)) {
        out.push(fromDataSet(p, specs));
        continue;
      }
      const sets = fs
        .readdirSync(p)
        .filter((d) => /^test_data_set_\d+$/.test(d))
        .sort((a, b) => Number(a.split('_').pop()) - Number(b.split('_').pop()));
      if (!sets.length) throw new Error(`${p}: no test_data_set_* folders or input_*.pb files in it`);
      for (const s of sets) out.push(fromDataSet(path.join(p, s), specs));
    } else if (p.endsWith('.pb')) {
      out.push({ source: p, inputs: bindToInputs([readTensorFile(p)], specs, p) });
    } else if (p.endsWith('.json')) {
      out.push(...fromJsonFile(p, specs));
    } else throw new Error(`${p}: expected a folder, a .pb tensor or a .json file`);
  }
  return out;
}

function fromDataSet(dir: string, specs: InputSpec[]): LoadedSample {
  const set = readTestDataSet(dir);
  return { source: dir, inputs: bindToInputs(set.inputs, specs, dir), outputs: set.outputs.length ? set.outputs : undefined };
}

/** JSON: `{input: tensor, …}` (one sample) or `[{…}, …]` (several); a tensor is as in tensorFromJson. */
function fromJsonFile(file: string, specs: InputSpec[]): LoadedSample[] {
  let parsed: unknown;
  try {
    parsed = JSON.parse(fs.readFileSync(file, 'utf8'));
  } catch (e) {
    throw new Error(`${file}: not valid JSON (${(e as Error).message})`);
  }
  const list = Array.isArray(parsed) && parsed.every((x) => x && typeof x === 'object' && !Array.isArray(x)) ? parsed : [parsed];
  return list.map((obj, i) => {
    if (!obj || typeof obj !== 'object' || Array.isArray(obj)) throw new Error(`${file}: expected an object mapping input names to tensors`);
    const sample: Sample = {};
    for (const [name, value] of Object.entries(obj as Record<string, unknown>)) {
      const spec = specs.find((s) => s.name === name);
      if (!spec) throw new Error(`${file}: '${name}' is not an input of the model (inputs: ${specs.map((s) => s.name).join(', ')})`);
      sample[name] = tensorFromJson(value, `${file}: input '${name}'`, spec);
    }
    return { source: list.length > 1 ? `${file}[${i}]` : file, inputs: sample };
  });
}
