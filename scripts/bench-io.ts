/**
 * `npm run bench:io`: load/save time and peak memory of .onnx files, and the protobuf library
 * comparison behind the README's choice. Every measurement runs in a fresh child process, which
 * reports its time and its RSS high-water mark (process.resourceUsage().maxRSS); a child that only
 * imports the same modules gives the baseline. Figures from one run are comparable with each other;
 * across runs or machines, compare the ratios.
 *
 *   npm run bench:io                  # all, including a > 2 GiB model saved with external data
 *   npm run bench:io -- --skip-huge   # without the > 2 GiB model (needs ~7 GiB free memory, 2.3 GB disk)
 *   npm run bench:io -- --runs 5      # children per measurement (median reported; default 3)
 */
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';

const SCRIPT = fileURLToPath(import.meta.url);
const ROOT = path.resolve(path.dirname(SCRIPT), '..');
const BENCH_DIR = path.join(ROOT, '.bench', 'io');
const CORPUS_LARGEST = path.resolve(ROOT, '../shared/corpus/mobilenet_v2/model.onnx');

interface ChildResult {
  ms: number;
  maxRssMiB: number;
  importMs?: number;
  warmMs?: number;
  note?: string;
}

// ---- children: one measurement each, printed as one JSON line ---------------------------------------

const maxRssMiB = () => process.resourceUsage().maxRSS / 1024;
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

/** An MLP of `layers` × (MatMul [width×width] + Add + Relu), weights filled with a cheap pattern. */
async function buildMlp(layers: number, width: number) {
  const { Graph, Model, Tensor } = await import('../src/index.js');
  const g = new Graph('mlp');
  g.inputs.push({ name: 'x', type: { kind: 'tensor', dtype: 'float32', shape: ['batch', width] } });
  let prev = 'x';
  for (let i = 0; i < layers; i++) {
    const w = new Float32Array(width * width);
    for (let k = 0; k < w.length; k++) w[k] = ((k * 2654435761 + i) % 2001) / 1000 - 1;
    g.addInitializer(Tensor.from('float32', [width, width], w, `w${i}`));
    g.addInitializer(Tensor.from('float32', [width], new Float32Array(width).fill(0.01 * i), `b${i}`));
    g.addNode({ opType: 'MatMul', inputs: [prev, `w${i}`], outputs: [`mm${i}`] });
    g.addNode({ opType: 'Add', inputs: [`mm${i}`, `b${i}`], outputs: [`add${i}`] });
    g.addNode({ opType: 'Relu', inputs: [`add${i}`], outputs: [`h${i}`] });
    prev = `h${i}`;
  }
  g.outputs.push({ name: prev, type: { kind: 'tensor', dtype: 'float32', shape: ['batch', width] } });
  const m = new Model(g);
  m.irVersion = 8;
  m.opsetImports = [{ domain: '', version: 17 }];
  return m;
}

const HUGE_ROWS = 196_608; // × 1024 float32 = 768 MiB per table

/** Three Gather tables of 768 MiB each (2.25 GiB): a model that cannot be one protobuf. */
async function buildHuge() {
  const { Graph, Model, Tensor } = await import('../src/index.js');
  const g = new Graph('huge');
  g.inputs.push({ name: 'row', type: { kind: 'tensor', dtype: 'int64', shape: [1] } });
  for (let i = 0; i < 3; i++) {
    const table = new Float32Array(HUGE_ROWS * 1024);
    // Every row written (untouched pages would not count in RSS); row r holds i·10⁶ + r, checked on load.
    for (let r = 0; r < HUGE_ROWS; r++) table.fill(i * 1e6 + r, r * 1024, (r + 1) * 1024);
    g.addInitializer(Tensor.from('float32', [HUGE_ROWS, 1024], table, `table${i}`));
    g.addNode({ opType: 'Gather', inputs: [`table${i}`, 'row'], outputs: [`out${i}`] });
    g.outputs.push({ name: `out${i}`, type: { kind: 'tensor', dtype: 'float32', shape: [1, 1024] } });
  }
  const m = new Model(g);
  m.irVersion = 8;
  m.opsetImports = [{ domain: '', version: 13 }];
  return m;
}

/**
 * Decoding in a fresh process: the first decode (what one CLI run pays, JIT warm-up included) is
 * `ms`; `warmMs` is the median of five more (what a server or a pipeline pays per model).
 */
function decodeTimes(importMs: number, file: string, decode: (bytes: Uint8Array) => number): ChildResult {
  const bytes = fs.readFileSync(file);
  let t = performance.now();
  const initializers = decode(bytes);
  const ms = performance.now() - t;
  const rss = maxRssMiB();
  const warm: number[] = [];
  for (let i = 0; i < 5; i++) {
    t = performance.now();
    decode(bytes);
    warm.push(performance.now() - t);
  }
  return { ms, maxRssMiB: rss, importMs, warmMs: median(warm), note: `${initializers} initializers` };
}

async function child(kind: string, file: string): Promise<ChildResult> {
  switch (kind) {
    case 'baseline': {
      await import('../src/index.js');
      return { ms: 0, maxRssMiB: maxRssMiB() };
    }
    case 'generate-mlp': {
      const [layers, width] = path.basename(file, '.onnx').split('-').slice(1).map(Number);
      const m = await buildMlp(layers!, width!);
      const { saveModel } = await import('../src/index.js');
      const t = performance.now();
      saveModel(m, file);
      return { ms: performance.now() - t, maxRssMiB: maxRssMiB(), note: 'save of a model built in memory' };
    }
    case 'load': {
      const { loadModel } = await import('../src/index.js');
      const t = performance.now();
      const m = loadModel(file);
      const ms = performance.now() - t;
      return { ms, maxRssMiB: maxRssMiB(), note: `${m.graph.nodes.length} nodes, ${m.graph.initializers.size} initializers` };
    }
    case 'save': {
      const { loadModel, saveModel } = await import('../src/index.js');
      const m = loadModel(file);
      const out = path.join(BENCH_DIR, `resaved-${path.basename(file)}`);
      const t = performance.now();
      saveModel(m, out);
      const ms = performance.now() - t;
      const rss = maxRssMiB();
      const same = fs.readFileSync(out).equals(fs.readFileSync(file));
      fs.rmSync(out);
      return { ms, maxRssMiB: rss, note: `re-saved file ${same ? 'byte-identical' : 'differs'}` };
    }
    case 'read-only': {
      const t = performance.now();
      const bytes = fs.readFileSync(file);
      return { ms: performance.now() - t, maxRssMiB: maxRssMiB(), note: `${bytes.byteLength} bytes read` };
    }
    case 'decode-bufbuild': {
      const t = performance.now();
      const { fromBinary } = await import('@bufbuild/protobuf');
      const { ModelProtoSchema } = await import('onnx-buf');
      return decodeTimes(performance.now() - t, file, (bytes) => fromBinary(ModelProtoSchema, bytes).graph!.initializer.length);
    }
    case 'decode-protobufjs': {
      const t = performance.now();
      const { default: proto } = (await import('onnx-proto')) as unknown as { default: typeof import('onnx-proto') };
      return decodeTimes(performance.now() - t, file, (bytes) => proto.onnx.ModelProto.decode(bytes).graph!.initializer!.length);
    }
    case 'schema-gap': {
      // What onnx-proto (ONNX 1.10) does to newer fields: decode + re-encode a model whose node carries
      // metadata_props (ONNX 1.16), then read it back with onnx-buf.
      const { Graph, Model, encodeModel, decodeModel } = await import('../src/index.js');
      const { default: proto } = (await import('onnx-proto')) as unknown as { default: typeof import('onnx-proto') };
      const g = new Graph('g');
      g.inputs.push({ name: 'x', type: { kind: 'tensor', dtype: 'int4', shape: [2] } });
      g.outputs.push({ name: 'y', type: { kind: 'tensor', dtype: 'int4', shape: [2] } });
      g.addNode({ opType: 'Identity', inputs: ['x'], outputs: ['y'] }).metadataProps = [{ key: 'source', value: 'layer1' }];
      const m = new Model(g);
      const reencoded = proto.onnx.ModelProto.encode(proto.onnx.ModelProto.decode(encodeModel(m))).finish();
      const back = decodeModel(reencoded);
      const kept = back.graph.nodes[0]!.metadataProps?.length ? 'kept' : 'dropped';
      return { ms: 0, maxRssMiB: maxRssMiB(), note: `node metadata_props (ONNX 1.16) ${kept}; int4 type ${back.graph.inputs[0]!.type?.kind === 'tensor' && back.graph.inputs[0]!.type.dtype === 'int4' ? 'kept (an unchecked number)' : 'lost'}` };
    }
    case 'huge-save': {
      const { saveModel } = await import('../src/index.js');
      const m = await buildHuge();
      let refused = '';
      try {
        saveModel(m, file, { externalData: false });
      } catch (e) {
        refused = (e as Error).message;
      }
      const t = performance.now();
      const r = saveModel(m, file);
      const ms = performance.now() - t;
      return {
        ms,
        maxRssMiB: maxRssMiB(),
        note: `'auto' wrote ${r.bytes} B .onnx + ${(r.externalDataBytes! / 2 ** 30).toFixed(2)} GiB external data; inline refused with: ${refused}`,
      };
    }
    case 'huge-load': {
      const { loadModel, createSession, Tensor } = await import('../src/index.js');
      const t = performance.now();
      const m = loadModel(file);
      const ms = performance.now() - t;
      const rssAfterLoad = maxRssMiB();
      const ok = [0, 1, 2].every((i) => {
        const data = m.graph.initializers.get(`table${i}`)!.data as Float32Array;
        return [0, 8192, HUGE_ROWS - 1].every((r) => data[r * 1024] === i * 1e6 + r && data[r * 1024 + 1023] === i * 1e6 + r);
      });
      const notes = [`values ${ok ? 'verified' : 'WRONG'}`];
      if (os.freemem() > 8 * 2 ** 30) {
        // onnxruntime reads the external data itself, from the file we wrote.
        const session = await createSession(file);
        const out = await session.run({ row: Tensor.from('int64', [1], BigInt64Array.of(8192n), 'row') });
        notes.push(`onnxruntime Gather row 8192 → ${(out.out2!.data as Float32Array)[0]} (expected ${2e6 + 8192})`);
        await session.release();
      } else notes.push('onnxruntime check skipped: under 8 GiB free memory');
      return { ms, maxRssMiB: rssAfterLoad, note: notes.join('; ') };
    }
  }
  throw new Error(`unknown child ${kind}`);
}

// ---- parent -------------------------------------------------------------------------------------------

function runChild(kind: string, file: string): ChildResult {
  const r = spawnSync(process.execPath, ['--import', 'tsx', SCRIPT, 'child', kind, file], {
    cwd: ROOT,
    encoding: 'utf8',
    maxBuffer: 16 * 1024 * 1024,
  });
  const line = r.stdout.trim().split('\n').pop() ?? '';
  if (r.status !== 0 || !line.startsWith('{')) throw new Error(`child ${kind} ${file} failed (${r.status}): ${r.stderr.trim()}`);
  return JSON.parse(line) as ChildResult;
}

function measure(kind: string, file: string, runs: number): ChildResult {
  const results = Array.from({ length: runs }, () => runChild(kind, file));
  const mid = (key: 'ms' | 'maxRssMiB' | 'importMs' | 'warmMs') => median(results.map((r) => r[key] ?? NaN));
  return { ms: mid('ms'), maxRssMiB: mid('maxRssMiB'), importMs: mid('importMs'), warmMs: mid('warmMs'), note: results[0]!.note };
}

const mib = (bytes: number) => `${(bytes / 2 ** 20).toFixed(1)} MiB`;
const row = (cells: (string | number)[]) => `| ${cells.join(' | ')} |`;

async function main(): Promise<void> {
  const args = process.argv.slice(2);
  if (args[0] === 'child') {
    console.log(JSON.stringify(await child(args[1]!, args[2]!)));
    return;
  }
  const runs = args.includes('--runs') ? Number(args[args.indexOf('--runs') + 1]) : 3;
  const skipHuge = args.includes('--skip-huge');
  fs.mkdirSync(BENCH_DIR, { recursive: true });
  console.log(`bench:io — ${os.cpus().length} cores, ${(os.totalmem() / 2 ** 30).toFixed(0)} GiB, node ${process.version}; median of ${runs} fresh processes per row\n`);

  const mlp500 = path.join(BENCH_DIR, 'mlp-8-4096.onnx'); // 8 × 64 MiB weights
  const mlp100 = path.join(BENCH_DIR, 'mlp-100-512.onnx'); // 100 × 1 MiB weights, 300 nodes
  const generated: Record<string, ChildResult> = {};
  for (const f of [mlp500, mlp100]) if (!fs.existsSync(f)) generated[f] = runChild('generate-mlp', f);

  const base = measure('baseline', '-', runs);
  console.log(`baseline (node + modelship imported, no work): max RSS ${base.maxRssMiB.toFixed(0)} MiB\n`);

  console.log('Load and save (modelship)\n');
  console.log(row(['model', 'file', 'load ms', 'load max RSS', 'save ms', 'load+save max RSS', 'notes']));
  console.log(row(['---', '---:', '---:', '---:', '---:', '---:', '---']));
  for (const [label, file] of [
    ['mobilenet_v2 (largest corpus model)', CORPUS_LARGEST],
    ['generated MLP 8×4096² (~500 MB)', mlp500],
  ] as const) {
    const load = measure('load', file, runs);
    const save = measure('save', file, runs);
    console.log(
      row([label, mib(fs.statSync(file).size), load.ms.toFixed(1), `${load.maxRssMiB.toFixed(0)} MiB`, save.ms.toFixed(1), `${save.maxRssMiB.toFixed(0)} MiB`, `${load.note}; ${save.note}`]),
    );
  }
  if (generated[mlp500]) {
    console.log(`\n(the 500 MB model was generated in this run: save of the in-memory model ${generated[mlp500]!.ms.toFixed(0)} ms, max RSS ${generated[mlp500]!.maxRssMiB.toFixed(0)} MiB)`);
  }

  console.log('\nProtobuf decoding: @bufbuild/protobuf + onnx-buf (ours) vs protobufjs 6 + onnx-proto (ONNX 1.10)\n');
  console.log(row(['model', 'file', 'library', 'import ms', 'first decode ms', 'warm decode ms', 'max RSS', 'RSS above reading the file']));
  console.log(row(['---', '---:', '---', '---:', '---:', '---:', '---:', '---:']));
  for (const [label, file] of [
    ['generated MLP 100×512² (~100 MB)', mlp100],
    ['mobilenet_v2', CORPUS_LARGEST],
  ] as const) {
    const read = measure('read-only', file, runs);
    for (const [lib, kind] of [
      ['@bufbuild/protobuf + onnx-buf', 'decode-bufbuild'],
      ['protobufjs 6 + onnx-proto', 'decode-protobufjs'],
    ] as const) {
      const r = measure(kind, file, runs);
      const ms = (x: number | undefined) => x!.toFixed(1);
      console.log(row([label, mib(fs.statSync(file).size), lib, ms(r.importMs), ms(r.ms), ms(r.warmMs), `${r.maxRssMiB.toFixed(0)} MiB`, `${(r.maxRssMiB - read.maxRssMiB).toFixed(0)} MiB`]));
    }
  }

  console.log(`\nprotobufjs + onnx-proto re-encoding a model with ONNX ≥ 1.11 content: ${runChild('schema-gap', '-').note}`);

  if (skipHuge) {
    console.log('\n> 2 GiB model: skipped (--skip-huge)');
    return;
  }
  console.log('\nA 2.25 GiB model (three 768 MiB tables): must be saved with external data\n');
  const hugeDir = path.join(BENCH_DIR, 'huge');
  const huge = path.join(hugeDir, 'model.onnx');
  if (os.freemem() < 7 * 2 ** 30) {
    console.log(`skipped: ${(os.freemem() / 2 ** 30).toFixed(1)} GiB free memory, needs 7`);
    return;
  }
  try {
    const save = runChild('huge-save', huge);
    console.log(`save: ${save.ms.toFixed(0)} ms, max RSS ${save.maxRssMiB.toFixed(0)} MiB; ${save.note}`);
    const load = runChild('huge-load', huge);
    console.log(`load: ${load.ms.toFixed(0)} ms, max RSS after load ${load.maxRssMiB.toFixed(0)} MiB; ${load.note}`);
  } finally {
    fs.rmSync(hugeDir, { recursive: true, force: true });
  }
}

await main();
