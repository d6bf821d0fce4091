/**
 * What ship starts from: an ONNX file, a TF.js model.json (converted here, verified against TF.js), a
 * folder holding either, or an IR model; with the files' hashes and the `meta.json` found beside it.
 */
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { encodeModel, loadModel } from '../io/index.js';
import type { Model } from '../ir/index.js';
import { convertTfjs, type ConvertReport } from '../convert/index.js';

export interface SourceFile {
  file: string;
  bytes: number;
  sha256: string;
}

export interface ShipSource {
  /** The path given, or undefined for an in-memory model. */
  path?: string;
  format: 'onnx' | 'tfjs-layers-model' | 'tfjs-graph-model' | 'in-memory';
  /** The float model every candidate is compared with (the converted one for TF.js). */
  model: Model;
  /** sha256 of the model file (model.json for TF.js; the encoded model when given in memory). */
  sha256: string;
  /** Every file read: the model, its external data or weight shards. */
  files: SourceFile[];
  /** The folder the model is in: where meta.json, labels and test_data_set_* are looked for. */
  dir?: string;
  /** meta.json beside the model, when there is one. */
  meta?: Record<string, unknown>;
  convert?: ConvertReport;
}

function hashFile(file: string): SourceFile {
  const bytes = fs.readFileSync(file);
  return { file, bytes: bytes.byteLength, sha256: createHash('sha256').update(bytes).digest('hex') };
}

/** A folder is taken as the model.onnx (or TF.js model.json) in it. */
function resolveModelFile(given: string): string {
  if (!fs.existsSync(given)) throw new Error(`${given}: no such file or folder`);
  if (!fs.statSync(given).isDirectory()) return given;
  for (const name of ['model.onnx', 'model.json']) {
    const p = path.join(given, name);
    if (fs.existsSync(p)) return p;
  }
  throw new Error(`${given}: a folder without model.onnx or model.json; give the model file`);
}

function readMeta(dir: string): Record<string, unknown> | undefined {
  const file = path.join(dir, 'meta.json');
  if (!fs.existsSync(file)) return undefined;
  let parsed: unknown;
  try {
    parsed = JSON.parse(fs.readFileSync(file, 'utf8'));
  } catch (e) {
    throw new Error(`${file}: not valid JSON (${(e as Error).message})`);
  }
  if (!parsed || typeof parsed !== 'object' || Array.isArray(parsed)) throw new Error(`${file}: expected a JSON object`);
  return parsed as Record<string, unknown>;
}

export async function readSource(input: string | Model, onProgress?: (label: string) => void): Promise<ShipSource> {
  if (typeof input !== 'string') {
    const sha256 = createHash('sha256').update(encodeModel(input)).digest('hex');
    return { format: 'in-memory', model: input, sha256, files: [] };
  }
  const file = resolveModelFile(input);
  const dir = path.dirname(path.resolve(file));
  const meta = readMeta(dir);
  if (file.endsWith('.json')) {
    onProgress?.('converting TF.js → ONNX');
    // A symbolic batch so the package serves (and batches) any number of rows.
    const { model, report } = await convertTfjs(file, { batchDynamic: true });
    const files = report.files.map(hashFile);
    return { path: input, format: report.format === 'graph-model' ? 'tfjs-graph-model' : 'tfjs-layers-model', model, sha256: files[0]!.sha256, files, dir, meta, convert: report };
  }
  const model = loadModel(file);
  const external = new Set<string>();
  for (const t of model.graph.initializers.values()) if (t.external) external.add(t.external.location);
  const files = [file, ...[...external].map((loc) => path.join(dir, loc))].map(hashFile);
  return { path: input, format: 'onnx', model, sha256: files[0]!.sha256, files, dir, meta };
}
