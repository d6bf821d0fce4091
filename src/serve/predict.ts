/**
 * `POST /v2/models/{name}/predict` (and `/predict` when one model is served): for people rather than
 * protocols. Named JSON features or an image (multipart upload or raw bytes) become the input tensor
 * through the package's pre-processing spec; the output comes back post-processed (softmax + top-k
 * with labels, or named regression values) with the latency.
 */
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import multipart from '@fastify/multipart';
import sharp from 'sharp';
import { float16BitsToFloat32, float32ArrayToFloat16, type DType } from '../ir/index.js';
import type { FeaturesPreprocess, ImagePreprocess, Manifest, Postprocess } from '../package/index.js';
import { tensorValues } from './codec.js';
import type { WireTensor } from './datatypes.js';
import { HttpError, badRequest } from './errors.js';
import type { ServeContext } from './context.js';
import type { ServedModel } from './repository.js';

/** Writes float values into a tensor of the model's float type. */
function floatTensor(name: string, dtype: DType, dims: number[], fill: (out: Float32Array | Float64Array) => void): WireTensor {
  if (dtype !== 'float32' && dtype !== 'float64' && dtype !== 'float16') throw badRequest(`input '${name}' is ${dtype}; predict fills float inputs only (use /infer)`);
  const values = dtype === 'float64' ? new Float64Array(dims.reduce((a, b) => a * b, 1)) : new Float32Array(dims.reduce((a, b) => a * b, 1));
  fill(values);
  if (dtype !== 'float16') return { name, dtype, dims, data: values };
  return { name, dtype, dims, data: float32ArrayToFloat16(values) };
}

export function featuresToTensor(spec: FeaturesPreprocess, manifest: Manifest, body: unknown): WireTensor {
  const rows = Array.isArray(body) ? body : [body];
  if (!rows.length) throw badRequest('expected an object of named features (or an array of them)');
  const input = manifest.inputs.find((t) => t.name === spec.input)!;
  const n = spec.names.length;
  return floatTensor(spec.input, input.dtype, [rows.length, n], (out) => {
    rows.forEach((row, r) => {
      const where = rows.length > 1 ? `row ${r}: ` : '';
      if (!row || typeof row !== 'object' || Array.isArray(row)) throw badRequest(`${where}expected an object of named features (${spec.names.join(', ')})`);
      const o = row as Record<string, unknown>;
      const unknown = Object.keys(o).filter((k) => !spec.names.includes(k));
      if (unknown.length) throw badRequest(`${where}unknown feature${unknown.length > 1 ? 's' : ''} ${unknown.map((k) => `'${k}'`).join(', ')} (expected ${spec.names.join(', ')})`);
      spec.names.forEach((name, i) => {
        const v = o[name];
        if (typeof v !== 'number' || !Number.isFinite(v)) throw badRequest(`${where}feature '${name}' must be a number, got ${v === undefined ? 'nothing' : JSON.stringify(v)}`);
        out[r * n + i] = v;
      });
    });
  });
}

export async function imageToTensor(spec: ImagePreprocess, manifest: Manifest, bytes: Buffer): Promise<WireTensor> {
  if (!bytes.length) throw badRequest('no image: send it as multipart/form-data or as the raw request body');
  const [h, w] = spec.size;
  const c = spec.channels;
  let img = sharp(bytes, { failOn: 'error' }).rotate().resize(w, h, { fit: spec.fit });
  img = c === 4 ? img.ensureAlpha() : img.removeAlpha().toColourspace(c === 1 ? 'b-w' : 'srgb');
  let pixels: Buffer;
  try {
    pixels = (await img.raw().toBuffer({ resolveWithObject: true })).data;
  } catch (e) {
    throw badRequest(`could not decode the image (${(e as Error).message.split('\n')[0]})`);
  }
  if (pixels.length !== h * w * c) throw badRequest(`the image decoded to ${pixels.length} bytes, expected ${h}×${w}×${c}`);
  const input = manifest.inputs.find((t) => t.name === spec.input)!;
  const dims = spec.layout === 'NCHW' ? [1, c, h, w] : [1, h, w, c];
  return floatTensor(spec.input, input.dtype, dims, (out) => {
    const plane = h * w;
    for (let p = 0; p < plane; p++) {
      for (let k = 0; k < c; k++) {
        const v = (pixels[p * c + k]! * spec.scale - spec.mean[k]!) / spec.std[k]!;
        out[spec.layout === 'NCHW' ? k * plane + p : p * c + k] = v;
      }
    }
  });
}

function rowValues(t: WireTensor): number[] {
  const d = t.data;
  if (Array.isArray(d)) throw new HttpError(500, `output '${t.name}' is a string tensor; post-processing needs numbers`);
  return t.dtype === 'float16' ? Array.from(d as Uint16Array, float16BitsToFloat32) : Array.from(d as Float32Array, Number);
}

/** One result per row: top-k classes, named values, or the raw outputs when there is no spec. */
export function postprocess(spec: Postprocess | undefined, outputs: WireTensor[]): unknown[] {
  if (!spec) {
    const rows = outputs[0]?.dims[0] ?? 1;
    return Array.from({ length: rows }, (_, r) =>
      Object.fromEntries(
        outputs.map((t) => {
          const per = t.dims.slice(1).reduce((a, b) => a * b, 1);
          return [t.name, tensorValues(t).slice(r * per, (r + 1) * per)];
        }),
      ),
    );
  }
  const out = outputs.find((t) => t.name === spec.output)!;
  const values = rowValues(out);
  const rows = out.dims.length > 1 ? out.dims[0]! : 1;
  const k = values.length / Math.max(1, rows);
  return Array.from({ length: rows }, (_, r) => {
    const row = values.slice(r * k, (r + 1) * k);
    if (spec.kind === 'regression') return Object.fromEntries(row.map((v, i) => [spec.names?.[i] ?? `${spec.output}_${i}`, v]));
    let scores = row;
    if (spec.softmax) {
      const max = Math.max(...row);
      const exps = row.map((v) => Math.exp(v - max));
      const sum = exps.reduce((a, b) => a + b, 0);
      scores = exps.map((v) => v / sum);
    }
    const top = scores
      .map((score, index) => ({ label: spec.labels?.[index] ?? String(index), index, score }))
      .sort((a, b) => b.score - a.score)
      .slice(0, spec.topK);
    return { label: top[0]!.label, index: top[0]!.index, score: top[0]!.score, top_k: top };
  });
}

async function readImage(req: FastifyRequest): Promise<Buffer> {
  if (req.isMultipart()) {
    const file = await req.file();
    if (!file) throw badRequest('the multipart form has no file: upload the image as a file field');
    const bytes = await file.toBuffer();
    if (file.file.truncated) throw new HttpError(413, 'the uploaded image is larger than the body limit');
    return bytes;
  }
  return Buffer.isBuffer(req.body) ? req.body : Buffer.alloc(0);
}

export async function predictRoutes(app: FastifyInstance, { ctx }: { ctx: ServeContext }): Promise<void> {
  await app.register(multipart, { limits: { fileSize: ctx.options.bodyLimit, files: 1 } });
  app.addContentTypeParser(/^(application\/octet-stream|image\/[\w.+-]+)$/, { parseAs: 'buffer' }, (_req, body, done) => done(null, body));

  const handler = async (req: FastifyRequest<{ Params: { name?: string } }>, reply: FastifyReply) => {
    const t0 = performance.now();
    const name = req.params.name ?? ctx.repository.loaded[0]?.name ?? '';
    if (!req.params.name && ctx.repository.entries.size !== 1) throw badRequest(`several models are served: use /v2/models/{name}/predict (${[...ctx.repository.entries.keys()].join(', ')})`);
    const model: ServedModel = ctx.repository.ready(name);
    ctx.metrics.requests.inc({ model: model.name });
    try {
      const m = model.manifest;
      const pre = m.preprocess;
      if (!pre) throw badRequest(`model '${model.name}' has no pre-processing spec (modelship.json 'preprocess'); use /v2/models/${model.name}/infer`);
      let input: WireTensor;
      if (pre.kind === 'image') input = await imageToTensor(pre, m, await readImage(req));
      else {
        if (req.isMultipart() || Buffer.isBuffer(req.body)) throw badRequest(`model '${model.name}' takes named features as JSON: {${pre.names.map((n) => `"${n}": …`).join(', ')}}`);
        input = featuresToTensor(pre, m, req.body);
      }
      const result = await model.infer([input], { timeoutMs: ctx.options.requestTimeoutMs, owned: true });
      const predictions = postprocess(m.postprocess, result.outputs);
      ctx.recordOutcome(model, t0, 200);
      return reply.send({
        model: model.name,
        version: model.version,
        predictions,
        latency_ms: { total: performance.now() - t0, queue: result.queueMs, compute: result.computeMs },
        cached: result.cached,
      });
    } catch (e) {
      ctx.recordOutcome(model, t0, (e as HttpError).statusCode ?? 500);
      throw e;
    }
  };
  const schema = (params: boolean) => ({
    tags: ['predict'],
    summary: 'Predict for people: named JSON features or an image (multipart or raw bytes) → post-processed result',
    ...(params ? { params: { type: 'object', properties: { name: { type: 'string' } }, required: ['name'] } } : {}),
  });
  app.post('/v2/models/:name/predict', { schema: schema(true) }, handler);
  app.post('/predict', { schema: schema(false) }, handler);
}
