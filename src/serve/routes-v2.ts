/**
 * Open Inference Protocol v2 (KServe / Triton REST): health, server and model metadata, inference,
 * plus Triton's model configuration and statistics extensions.
 */
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { VERSION } from '../version.js';
import type { ManifestTensor } from '../package/index.js';
import { encodeInferResponse, parseInferRequest, v2Shape } from './codec.js';
import { toV2Datatype } from './datatypes.js';
import { HttpError } from './errors.js';
import type { ServeContext } from './context.js';
import type { ServedModel } from './repository.js';

export const EXTENSIONS = ['binary_tensor_data', 'model_configuration', 'model_repository', 'statistics', 'parameters'];

const tensorMetadata = (t: ManifestTensor) => ({ name: t.name, datatype: toV2Datatype(t.dtype), shape: v2Shape(t.shape) });

export function modelMetadata(m: ServedModel) {
  return {
    name: m.name,
    versions: [m.version],
    platform: 'onnxruntime_onnx',
    inputs: m.manifest.inputs.map(tensorMetadata),
    outputs: m.manifest.outputs.map(tensorMetadata),
  };
}

/** Triton's model configuration (dims exclude the batch dimension when max_batch_size > 0). */
export function modelConfig(m: ServedModel, ctx: ServeContext) {
  const batched = m.maxBatchSize > 0;
  const configTensor = (t: ManifestTensor) => ({
    name: t.name,
    data_type: `TYPE_${toV2Datatype(t.dtype) === 'BYTES' ? 'STRING' : toV2Datatype(t.dtype)}`,
    dims: v2Shape(batched ? t.shape.slice(1) : t.shape),
  });
  return {
    name: m.name,
    platform: 'onnxruntime_onnx',
    backend: 'onnxruntime',
    version_policy: { specific: { versions: [m.version] } },
    max_batch_size: m.maxBatchSize,
    input: m.manifest.inputs.map(configTensor),
    output: m.manifest.outputs.map(configTensor),
    ...(m.batcher.batching
      ? { dynamic_batching: { preferred_batch_size: [m.batcher.preferredBatch], max_queue_delay_microseconds: Math.round(ctx.options.maxQueueDelayMs * 1000), default_queue_policy: { max_queue_size: ctx.options.maxQueue } } }
      : {}),
    instance_group: [{ name: m.name, kind: 'KIND_CPU', count: m.pool.size }],
    parameters: { intra_op_thread_count: { string_value: String(ctx.options.threads) } },
  };
}

type ModelParams = { name: string; version?: string };

const modelParams = {
  type: 'object',
  properties: { name: { type: 'string' }, version: { type: 'string' } },
  required: ['name'],
} as const;

const healthRoute = { rateLimit: false, auth: false };

export async function v2Routes(app: FastifyInstance, { ctx }: { ctx: ServeContext }): Promise<void> {
  const { repository, metrics } = ctx;
  app.get('/v2/health/live', { config: healthRoute, schema: { tags: ['health'], summary: 'Liveness: the process answers' } }, async () => ({ live: true }));
  app.get('/v2/health/ready', { config: healthRoute, schema: { tags: ['health'], summary: 'Readiness: every model loaded and warmed, not shutting down' } }, async () => {
    const why = ctx.notReadyReason();
    if (why) throw new HttpError(503, `not ready: ${why}`, { 'retry-after': '1' });
    return { ready: true };
  });
  app.get('/v2', { schema: { tags: ['metadata'], summary: 'Server metadata' } }, async () => ({ name: 'modelship', version: VERSION, extensions: EXTENSIONS }));

  const statsOf = (models: ServedModel[]) => ({ model_stats: models.map((m) => m.stats.toJSON(m.name, m.version)) });
  app.get('/v2/models/stats', { schema: { tags: ['statistics'], summary: 'Statistics of every loaded model (Triton)' } }, async () => statsOf(repository.loaded));

  for (const prefix of ['/v2/models/:name', '/v2/models/:name/versions/:version']) {
    const schema = (summary: string, tag: string) => ({ tags: [tag], summary, params: modelParams });
    app.get<{ Params: ModelParams }>(prefix, { schema: schema('Model metadata: inputs and outputs (-1 for dynamic dims)', 'metadata') }, async (req) =>
      modelMetadata(repository.ready(req.params.name, req.params.version)),
    );
    app.get<{ Params: ModelParams }>(`${prefix}/ready`, { config: { rateLimit: false }, schema: schema('Model readiness', 'health') }, async (req) => {
      repository.ready(req.params.name, req.params.version);
      return { name: req.params.name, ready: true };
    });
    app.get<{ Params: ModelParams }>(`${prefix}/config`, { schema: schema('Model configuration (Triton)', 'metadata') }, async (req) =>
      modelConfig(repository.ready(req.params.name, req.params.version), ctx),
    );
    app.get<{ Params: ModelParams }>(`${prefix}/stats`, { schema: schema('Model statistics (Triton)', 'statistics') }, async (req) =>
      statsOf([repository.ready(req.params.name, req.params.version)]),
    );
    app.post<{ Params: ModelParams }>(
      `${prefix}/infer`,
      {
        schema: {
          ...schema('Inference: JSON tensors, or a JSON header plus binary tensors (Inference-Header-Content-Length)', 'inference'),
          body: INFER_BODY_DOC,
        },
        // The body is parsed and checked by parseInferRequest (one-line 400s); the schema documents it.
        validatorCompiler: () => () => true,
      },
      (req: FastifyRequest<{ Params: ModelParams }>, reply) => infer(ctx, req, reply),
    );
  }

  async function infer(c: ServeContext, req: FastifyRequest<{ Params: ModelParams }>, reply: FastifyReply) {
    const t0 = performance.now();
    const model = repository.ready(req.params.name, req.params.version);
    const labels = { model: model.name };
    metrics.requests.inc(labels);
    try {
      const body = Buffer.isBuffer(req.body) ? req.body : Buffer.alloc(0);
      const headerLength = req.headers['inference-header-content-length'];
      const parsed = parseInferRequest(body, Array.isArray(headerLength) ? headerLength[0] : headerLength, model.manifest, { bodyOwned: true });
      const timeoutMs = Math.min(c.options.requestTimeoutMs, parsed.timeoutUs !== undefined ? parsed.timeoutUs / 1000 : Infinity);
      // The tensors may view a pooled body: the model hands it back once they are no longer read.
      const release = req.releaseBody;
      req.releaseBody = undefined;
      const result = await model.infer(parsed.inputs, { timeoutMs, owned: parsed.owned, release });
      const encoded = encodeInferResponse(model.name, model.version, parsed, result.outputs);
      c.recordOutcome(model, t0, 200);
      if (encoded.headerLength !== undefined) {
        reply.header('inference-header-content-length', encoded.headerLength).type('application/octet-stream');
      } else reply.type('application/json; charset=utf-8');
      return reply.send(encoded.body);
    } catch (e) {
      c.recordOutcome(model, t0, (e as HttpError).statusCode ?? 500);
      throw e;
    }
  }
}

const TENSOR_DOC = {
  type: 'object',
  required: ['name', 'shape', 'datatype'],
  properties: {
    name: { type: 'string' },
    shape: { type: 'array', items: { type: 'integer', minimum: 0 } },
    datatype: { type: 'string', enum: ['BOOL', 'UINT8', 'UINT16', 'UINT32', 'UINT64', 'INT8', 'INT16', 'INT32', 'INT64', 'FP16', 'FP32', 'FP64', 'BYTES'] },
    parameters: { type: 'object', properties: { binary_data_size: { type: 'integer', minimum: 0 } } },
    data: { description: 'Row-major values, flat or nested (absent when binary_data_size is given)' },
  },
} as const;

const INFER_BODY_DOC = {
  type: 'object',
  required: ['inputs'],
  properties: {
    id: { type: 'string' },
    parameters: {
      type: 'object',
      properties: {
        binary_data_output: { type: 'boolean' },
        timeout: { type: 'integer', description: 'Microseconds the request may take (Triton)' },
      },
    },
    inputs: { type: 'array', items: TENSOR_DOC },
    outputs: {
      type: 'array',
      items: { type: 'object', required: ['name'], properties: { name: { type: 'string' }, parameters: { type: 'object', properties: { binary_data: { type: 'boolean' } } } } },
    },
  },
} as const;
