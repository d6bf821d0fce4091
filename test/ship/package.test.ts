/**
 * The package as a deployment: quality_mlp ships as a regressor with named features; its Dockerfile
 * is valid and its CMD, run here as the same command line with the installed CLI, serves the package
 * (HEALTHCHECK and /predict on named features included); kserve.yaml parses as a ServingRuntime and an
 * InferenceService speaking v2. An impossible target ships the closest with passed:false and the gap.
 */
import { spawn, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DockerfileParser } from 'dockerfile-ast';
import { validate as lintDockerfile } from 'dockerfile-utils';
import { parseAllDocuments } from 'yaml';
import { readManifest, type PackageManifest } from '../../src/index.js';
import { runCli } from '../helpers/cli.js';
import { CORPUS, QUALITY_FEATURES, tempDir } from '../serve/helpers.js';

const ROOT = path.resolve(__dirname, '../..');
let root: string;
let pkg: string;
let shipped: { code: number; stdout: string; stderr: string };
beforeAll(async () => {
  root = tempDir('ship-pkg');
  pkg = path.join(root, 'quality');
  shipped = await runCli(['ship', path.join(CORPUS, 'quality_mlp'), '-o', pkg, '--bench-seconds', '0.5', '--threads', '1', '--json']);
});
afterAll(() => fs.rmSync(root, { recursive: true, force: true }));

const manifestOf = (dir: string) => JSON.parse(fs.readFileSync(path.join(dir, 'modelship.json'), 'utf8')) as PackageManifest;

function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const s = net.createServer().listen(0, '127.0.0.1', () => {
      const port = (s.address() as net.AddressInfo).port;
      s.close(() => resolve(port));
    });
  });
}

describe('quality_mlp ships as a regressor', () => {
  it('prints one JSON object and writes every file, with feature names from meta.json', () => {
    expect(shipped.code, shipped.stderr).toBe(0);
    const out = JSON.parse(shipped.stdout);
    expect(out.passed).toBe(true);
    expect(out.files).toEqual(expect.arrayContaining(['model.onnx', 'modelship.json', 'report.html', 'README.md', 'Dockerfile', 'kserve.yaml', 'request.json', 'predict.json']));
    for (const f of out.files) expect(fs.existsSync(path.join(pkg, f))).toBe(true);
    const m = readManifest(pkg);
    expect(m.preprocess).toEqual({ kind: 'features', input: 'features', names: QUALITY_FEATURES });
    expect(m.postprocess).toEqual({ kind: 'regression', output: 'ssim', names: ['ssim'] });
    const full = manifestOf(pkg);
    expect(full.ship.processingFrom).toContain('feature names: meta.json');
    expect(full.ship.thresholds.minAgreement).toBe(0.99);
    expect(Object.keys(full.versions)).toEqual(expect.arrayContaining(['modelship', 'node', 'onnxruntime-node', 'onnxruntime-web']));
    // No stray temporary folders beside the package.
    expect(fs.readdirSync(root)).toEqual(['quality']);
    const readme = fs.readFileSync(path.join(pkg, 'README.md'), 'utf8');
    expect(readme).toContain('/v2/models/quality_mlp/infer');
    expect(readme).toContain('/v2/models/quality_mlp/predict');
  });

  it('has a valid Dockerfile: node:20-slim, a non-root user, a HEALTHCHECK, modelship serve', () => {
    const text = fs.readFileSync(path.join(pkg, 'Dockerfile'), 'utf8');
    const problems = lintDockerfile(text);
    expect(problems.map((p) => p.message)).toEqual([]);
    const instructions = DockerfileParser.parse(text).getInstructions();
    const of = (k: string) => instructions.filter((i) => i.getKeyword() === k);
    expect(of('FROM')[0]!.getArgumentsContent()).toBe('node:20-slim');
    expect(of('USER').at(-1)!.getArgumentsContent()).toBe('node');
    expect(of('HEALTHCHECK')).toHaveLength(1);
    expect(of('EXPOSE')[0]!.getArgumentsContent()).toBe('8080');
    expect(JSON.parse(of('CMD')[0]!.getArgumentsContent()!).join(' ')).toContain('modelship serve .');
  });

  it("runs the Dockerfile's CMD as the same command line with the installed CLI: HEALTHCHECK passes, /predict answers on named features", async () => {
    const text = fs.readFileSync(path.join(pkg, 'Dockerfile'), 'utf8');
    const instructions = DockerfileParser.parse(text).getInstructions();
    const cmd = JSON.parse(instructions.find((i) => i.getKeyword() === 'CMD')!.getArgumentsContent()!) as string[];
    const health = instructions.find((i) => i.getKeyword() === 'HEALTHCHECK')!.getArgumentsContent()!;
    const probe = JSON.parse(health.slice(health.indexOf('CMD') + 3).trim()) as string[];
    // "Installed": a `modelship` on PATH, as `npm install -g` puts it.
    const bin = path.join(root, 'bin');
    fs.mkdirSync(bin, { recursive: true });
    fs.writeFileSync(path.join(bin, 'modelship'), `#!/bin/sh\nexec "${process.execPath}" "${path.join(ROOT, 'dist/cli/main.js')}" "$@"\n`, { mode: 0o755 });
    const port = await freePort();
    const env = { ...process.env, PATH: `${bin}:${path.dirname(process.execPath)}:${process.env.PATH}`, PORT: String(port) };
    const runProbe = () => spawnSync(probe[0]!, probe.slice(1), { env, cwd: pkg }).status;
    expect(runProbe()).not.toBe(0); // nothing is listening yet
    const child = spawn(cmd[0]!, cmd.slice(1), { cwd: pkg, env, stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr!.on('data', (d) => (stderr += d));
    const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
    try {
      const deadline = Date.now() + 60_000;
      while (runProbe() !== 0) {
        if (Date.now() > deadline || child.exitCode !== null) throw new Error(`the CMD did not become ready: ${stderr.slice(-500)}`);
        await new Promise((r) => setTimeout(r, 200));
      }
      const url = `http://127.0.0.1:${port}`;
      const predict = await fetch(`${url}/v2/models/quality_mlp/predict`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: fs.readFileSync(path.join(pkg, 'predict.json')) });
      expect(predict.status).toBe(200);
      const body = (await predict.json()) as { predictions: { ssim: number }[] };
      expect(Number.isFinite(body.predictions[0]!.ssim)).toBe(true);
      const infer = await fetch(`${url}/v2/models/quality_mlp/infer`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: fs.readFileSync(path.join(pkg, 'request.json')) });
      expect(infer.status).toBe(200);
      const out = ((await infer.json()) as { outputs: { data: number[] }[] }).outputs[0]!.data[0]!;
      // /predict and /infer answer the same row (predict.json and request.json hold the same evaluation row).
      expect(body.predictions[0]!.ssim).toBeCloseTo(out, 4);
      const bad = await fetch(`${url}/v2/models/quality_mlp/predict`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"edge_density": 1}' });
      expect(bad.status).toBe(400);
    } finally {
      child.kill('SIGTERM');
    }
    expect(await exited).toBe(0);
  });

  it('has a kserve.yaml with a ServingRuntime and an InferenceService speaking protocol v2', () => {
    const docs = parseAllDocuments(fs.readFileSync(path.join(pkg, 'kserve.yaml'), 'utf8'));
    expect(docs.flatMap((d) => d.errors)).toEqual([]);
    const [runtime, service] = docs.map((d) => d.toJS()) as Record<string, any>[];
    expect([runtime!.apiVersion, runtime!.kind]).toEqual(['serving.kserve.io/v1alpha1', 'ServingRuntime']);
    expect([service!.apiVersion, service!.kind]).toEqual(['serving.kserve.io/v1beta1', 'InferenceService']);
    expect(runtime!.spec.protocolVersions).toContain('v2');
    const container = runtime!.spec.containers[0];
    expect(container.ports[0].containerPort).toBe(8080);
    expect(container.readinessProbe.httpGet.path).toBe('/v2/health/ready');
    expect(container.securityContext.runAsNonRoot).toBe(true);
    expect(service!.metadata.name).toMatch(/^[a-z][a-z0-9-]*$/);
    expect(service!.spec.predictor.model.runtime).toBe(runtime!.metadata.name);
    expect(service!.spec.predictor.model.protocolVersion).toBe('v2');
    expect(runtime!.spec.supportedModelFormats.map((f: { name: string }) => f.name)).toContain(service!.spec.predictor.model.modelFormat.name);
  });
});

describe('constraints that cannot be met', () => {
  it('--target-latency-ms 0.001: exit 1, the closest candidate shipped with passed:false and the gap', async () => {
    const out = path.join(root, 'impossible');
    const r = await runCli(['ship', path.join(CORPUS, 'quality_mlp'), '-o', out, '--target-latency-ms', '0.001', '--strategies', 'fp16', '--bench-seconds', '0.3', '--threads', '1', '--json']);
    expect(r.code).toBe(1);
    expect(r.stderr.trim().split('\n')).toEqual([`modelship: no candidate meets every constraint; ${out} holds the closest (passed: false)`]);
    const result = JSON.parse(r.stdout);
    expect(result.passed).toBe(false);
    expect(result.failedConstraints).toHaveLength(1);
    const gap = result.failedConstraints[0];
    expect(gap.constraint).toBe('latency');
    expect(gap.limit).toBe(0.001);
    expect(gap.value).toBeGreaterThan(0.001);
    expect(gap.gap).toBeCloseTo(gap.value - 0.001, 9);
    expect(gap.text).toMatch(/p50 latency .* ms > target 0\.001 ms \(.*× the target/);
    const m = manifestOf(out);
    expect(m.ship.passed).toBe(false);
    expect(m.ship.failedConstraints[0]!.constraint).toBe('latency');
    expect(fs.readFileSync(path.join(out, 'README.md'), 'utf8')).toContain('passed: false');
  });
});

describe('bad input: one line, nothing written', () => {
  it.each([
    [['ship', 'nope.onnx', '-o', 'x'], /nope\.onnx: no such model file or folder/],
    [['ship', path.join(CORPUS, 'quality_mlp'), '-o', 'OUT', '--max-accuracy-drop', '0.01'], /an accuracy budget needs labels/],
    [['ship', path.join(CORPUS, 'digits_cnn'), '-o', 'OUT', '--max-accuracy-drop', '0.01', '--min-agreement', '0.9'], /give one/],
    [['ship', path.join(CORPUS, 'digits_cnn'), '-o', 'OUT', '--data', path.join(CORPUS, 'digits_cnn'), '--labels', 'LABELS'], /labels\.json: 3 labels for 397 rows of data/],
    [['ship', path.join(CORPUS, 'quality_mlp'), '-o', 'OUT', '--feature-names', 'a,b'], /preprocess\.names/],
    [['ship', path.join(CORPUS, 'quality_mlp'), '-o', 'OUT', '--max-accuracy-drop', '2'], /expected a fraction/],
    [['ship', path.join(CORPUS, 'quality_mlp'), '-o', 'OUT', '--strategies', 'q9'], /expected one of fp32/],
  ])('%j', async (args, message) => {
    const out = path.join(root, `bad-${Math.random().toString(36).slice(2)}`);
    const labels = path.join(root, 'labels.json');
    fs.writeFileSync(labels, '[1, 2, 3]');
    const r = await runCli(args.map((a) => (a === 'OUT' ? out : a === 'LABELS' ? labels : a)));
    expect(r.code).not.toBe(0);
    expect(r.stderr).toMatch(message);
    expect(r.stderr).not.toMatch(/\n\s+at /);
    expect(fs.existsSync(out)).toBe(false);
  });

  it('refuses a folder that is neither empty nor a package, and one holding the input; leaves both as they were', async () => {
    const busy = path.join(root, 'busy');
    fs.mkdirSync(busy);
    fs.writeFileSync(path.join(busy, 'notes.txt'), 'mine');
    const r = await runCli(['ship', path.join(CORPUS, 'quality_mlp'), '-o', busy]);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/neither empty nor a modelship package/);
    expect(fs.readdirSync(busy)).toEqual(['notes.txt']);
    const again = await runCli(['ship', path.join(pkg, 'model.onnx'), '-o', pkg]);
    expect(again.code).toBe(1);
    expect(again.stderr).toMatch(/would replace an input/);
    expect(readManifest(pkg).name).toBe('quality_mlp');
  });
});
