/**
 * `createServer(options)`: a Fastify instance serving the targets' models. Concerns are separate
 * plugins: v2 protocol routes, predict, repository, metrics, the page and OpenAPI docs, with
 * compression, CORS, API key and rate limiting around them. Models load and warm up while the
 * instance gets ready, so `listen()` (and `inject()`) only answer once every model is ready.
 */
import { randomUUID, timingSafeEqual } from 'node:crypto';
import Fastify, { LogController, type FastifyBaseLogger, type FastifyError, type FastifyInstance, type FastifyReply, type FastifyRequest } from 'fastify';
import compress from '@fastify/compress';
import cors from '@fastify/cors';
import rateLimit from '@fastify/rate-limit';
import swagger from '@fastify/swagger';
import swaggerUi from '@fastify/swagger-ui';
import { pino } from 'pino';
import { VERSION } from '../version.js';
import { readOwnedBody } from './body.js';
import { BodyPool } from './body-pool.js';
import { ResponseCache } from './cache.js';
import type { ResolvedOptions, ServeContext, ServeOptions } from './context.js';
import { HttpError } from './errors.js';
import { createMetrics } from './metrics.js';
import { pageRoutes } from './page.js';
import { predictRoutes } from './predict.js';
import { ModelRepository, defaultThreads, type ServedModel } from './repository.js';
import { modelMetadata, v2Routes } from './routes-v2.js';

declare module 'fastify' {
  interface FastifyContextConfig {
    /** false: reachable without the API key (health checks, the page). */
    auth?: boolean;
  }
  interface FastifyInstance {
    modelship: ServeContext & {
      /** Fails readiness from now on (the first step of a graceful shutdown). */
      beginDrain(): void;
    };
  }
}

/** The most the pool of large request bodies holds (see body-pool.ts); past it bodies are allocated per request. */
const BODY_POOL_BYTES = 256 * 1024 * 1024;

export function resolveOptions(o: ServeOptions): ResolvedOptions {
  const instances = o.instances ?? 1;
  return {
    ...o,
    targets: o.targets,
    maxBatch: o.maxBatch ?? 32,
    maxQueueDelayMs: o.maxQueueDelayMs ?? 2,
    maxQueue: o.maxQueue ?? 1024,
    instances,
    threads: o.threads ?? defaultThreads(instances),
    workerNice: o.workerNice ?? 10,
    inlineBelowMs: o.inlineBelowMs ?? 0.5,
    runtime: o.runtime ?? 'node',
    cacheSize: o.cacheSize ?? 0,
    bodyLimit: o.bodyLimit ?? 64 * 1024 * 1024,
    requestTimeoutMs: o.requestTimeoutMs ?? 30_000,
    logLevel: o.logLevel ?? 'info',
    warmup: o.warmup ?? true,
    batchSizing: o.batchSizing ?? true,
  };
}

function sameKey(given: string, expected: Buffer): boolean {
  const g = Buffer.from(given);
  return g.length === expected.length && timingSafeEqual(g, expected);
}

function presentedKey(req: FastifyRequest): string | undefined {
  const auth = req.headers.authorization;
  if (auth?.startsWith('Bearer ')) return auth.slice(7).trim();
  const k = req.headers['x-api-key'];
  return Array.isArray(k) ? k[0] : k;
}

/**
 * A log destination that buffers lines and writes them off the request path: one write per 4 KiB (or
 * every 250 ms), not one synchronous write per request, which would stall the HTTP thread behind a
 * slow reader of the pipe. pino flushes it when the process exits.
 */
export function bufferedLogDestination(fd: number): NodeJS.WritableStream {
  return pino.destination({ dest: fd, sync: false, minLength: 4096, periodicFlush: 250 } as Parameters<typeof pino.destination>[0]) as unknown as NodeJS.WritableStream;
}

export function createServer(serveOptions: ServeOptions): FastifyInstance {
  const options = resolveOptions(serveOptions);
  if (!options.targets.length) throw new Error('serve: give at least one model, package or repository');
  if (!Number.isInteger(options.workerNice) || options.workerNice < 0 || options.workerNice > 19) throw new Error(`serve: workerNice must be an integer from 0 to 19, got ${options.workerNice}`);
  if (!(options.inlineBelowMs >= 0)) throw new Error(`serve: inlineBelowMs must be a number of milliseconds ≥ 0, got ${options.inlineBelowMs}`);
  const logger = options.logLevel === false ? undefined : pino({ level: options.logLevel }, options.logStream ?? bufferedLogDestination(1));
  const app = Fastify({
    ...(logger ? { loggerInstance: logger as FastifyBaseLogger } : { logger: false }),
    bodyLimit: options.bodyLimit,
    requestTimeout: options.requestTimeoutMs,
    requestIdHeader: 'x-request-id',
    genReqId: () => randomUUID(),
    // One log line per request, written by the onResponse hook below.
    logController: new LogController({ disableRequestLogging: true }),
    return503OnClosing: true,
    forceCloseConnections: 'idle',
    pluginTimeout: 0,
  });
  const metrics = createMetrics();
  const cache = options.cacheSize > 0 ? new ResponseCache(options.cacheSize) : undefined;
  const repository = new ModelRepository(options.targets, options, metrics, cache, app.log);
  let started = false;
  let draining = false;
  const ctx: ServeContext = {
    options,
    repository,
    metrics,
    bodyPool: new BodyPool(BODY_POOL_BYTES),
    notReadyReason: () =>
      draining ? 'shutting down' : !started ? 'loading models' : repository.loaded.length === 0 ? 'no model loaded' : undefined,
    recordOutcome(model: ServedModel, startedAt: number, status: number) {
      const ms = performance.now() - startedAt;
      const labels = { model: model.name };
      if (status < 400) metrics.success.inc(labels);
      else metrics.failure.inc({ model: model.name, status: String(status) });
      metrics.totalSeconds.observe(labels, ms / 1000);
      model.stats.request(status < 400, ms);
    },
  };
  app.decorate('modelship', { ...ctx, beginDrain: () => void (draining = true) });

  app.addHook('onRequest', async (req, reply) => {
    reply.header('x-request-id', req.id);
  });
  // Health checks and metrics scrapes come every few seconds from orchestrators: logged at debug only.
  const probe = (url: string) => url.startsWith('/v2/health/') || url === '/metrics';
  app.addHook('onResponse', async (req, reply) => {
    const line = { method: req.method, url: req.url, status: reply.statusCode, ms: Number(reply.elapsedTime.toFixed(3)) };
    if (probe(req.url) && reply.statusCode < 400) req.log.debug(line, 'request');
    else req.log.info(line, 'request');
  });
  app.setErrorHandler((err: FastifyError | HttpError, req: FastifyRequest, reply: FastifyReply) => {
    let status = err.statusCode ?? 500;
    if (status < 400 || status > 599) status = 500;
    if (err instanceof HttpError) reply.headers(err.headers);
    let message = err.message;
    if ((err as FastifyError).code === 'FST_ERR_CTP_BODY_TOO_LARGE') message = `request body is larger than the limit (${options.bodyLimit} bytes)`;
    if (status >= 500) req.log.error({ err }, 'request failed');
    if (status === 429 && !reply.hasHeader('retry-after')) reply.header('retry-after', '1');
    return reply.code(status).send({ error: message });
  });
  app.setNotFoundHandler((req, reply) => reply.code(404).send({ error: `no route ${req.method} ${req.url.split('?')[0]}` }));

  app.register(compress, { threshold: 1024, encodings: ['gzip', 'deflate'] });
  if (options.cors) app.register(cors, { origin: options.cors, exposedHeaders: ['x-request-id', 'inference-header-content-length', 'retry-after'] });
  if (options.apiKey) {
    const expected = Buffer.from(options.apiKey);
    app.addHook('onRequest', async (req) => {
      if (req.routeOptions.config?.auth === false || req.url.startsWith('/docs') || req.method === 'OPTIONS') return;
      const key = presentedKey(req);
      if (!key || !sameKey(key, expected)) throw new HttpError(401, 'missing or wrong API key (send Authorization: Bearer KEY or X-API-Key: KEY)', { 'www-authenticate': 'Bearer' });
    });
  }
  if (options.rateLimit) {
    app.register(rateLimit, {
      max: options.rateLimit.max,
      timeWindow: options.rateLimit.windowMs,
      keyGenerator: (req) => presentedKey(req) ?? req.ip,
      errorResponseBuilder: (_req, c) => new HttpError(429, `rate limit of ${c.max} requests per ${c.after.replace(/^\d+ /, '')} exceeded; retry in ${c.after}`, {}),
    });
  }
  app.register(swagger, {
    openapi: {
      info: { title: 'modelship serve', version: VERSION, description: 'Open Inference Protocol v2 (KServe/Triton) with Triton extensions, plus /predict for people.' },
      components: { securitySchemes: { apiKey: { type: 'apiKey', in: 'header', name: 'x-api-key' } } },
    },
  });
  app.register(swaggerUi, { routePrefix: '/docs', uiConfig: { validatorUrl: null } });

  // Inference and repository bodies are read as bytes (JSON, or JSON plus binary tensors), large ones
  // into pooled buffers. A route that passes a body's tensors on takes `releaseBody` with them; any
  // body left here is handed back once the request is over.
  app.register(async (scope) => {
    scope.removeAllContentTypeParsers();
    scope.addContentTypeParser('*', (req, payload, done) => readOwnedBody(req, payload, options.bodyLimit, done, ctx.bodyPool));
    const releaseLeftBody = async (req: FastifyRequest) => req.releaseBody?.();
    scope.addHook('onResponse', releaseLeftBody);
    scope.addHook('onRequestAbort', releaseLeftBody);
    await scope.register(v2Routes, { ctx });
    await scope.register(repositoryRoutes, { ctx });
  });
  app.register(predictRoutes, { ctx });
  app.register(pageRoutes);
  app.get('/metrics', { config: { rateLimit: false }, schema: { tags: ['metrics'], summary: 'Prometheus metrics' } }, async (_req, reply) =>
    reply.type(metrics.registry.contentType).send(await metrics.registry.metrics()),
  );
  app.get('/ui/models', { schema: { hide: true } }, async () =>
    [...repository.entries.values()].map((e) => {
      const m = e.model;
      const meta = m ? modelMetadata(m) : { name: e.source.name, versions: [e.source.manifest.version], inputs: [], outputs: [] };
      return { ...meta, version: e.source.manifest.version, state: e.state, max_batch_size: m?.maxBatchSize ?? 0, page: { preprocess: e.source.manifest.preprocess ?? null } };
    }),
  );

  // Last: loading every model before the server reports ready (and before listen() binds the port).
  app.register(async () => {
    await repository.loadAll();
    started = true;
  });
  app.addHook('onClose', async () => {
    draining = true;
    await repository.close();
    await new Promise<void>((resolve) => (logger ? logger.flush(() => resolve()) : resolve()));
  });
  return app;
}

async function repositoryRoutes(app: FastifyInstance, { ctx }: { ctx: ServeContext }): Promise<void> {
  const params = { type: 'object', properties: { name: { type: 'string' } }, required: ['name'] } as const;
  app.post('/v2/repository/index', { schema: { tags: ['repository'], summary: 'Every model found under the targets, with its state' } }, async () => {
    ctx.repository.rescan();
    return [...ctx.repository.entries.values()].map((e) => ({ name: e.source.name, version: e.source.manifest.version, state: e.state, reason: e.reason }));
  });
  app.post<{ Params: { name: string } }>('/v2/repository/models/:name/load', { schema: { tags: ['repository'], summary: 'Load (or reload) a model', params } }, async (req) => {
    try {
      await ctx.repository.load(req.params.name);
    } catch (e) {
      if (e instanceof HttpError) throw e;
      throw new HttpError(400, `failed to load '${req.params.name}': ${(e as Error).message}`);
    }
    return {};
  });
  app.post<{ Params: { name: string } }>('/v2/repository/models/:name/unload', { schema: { tags: ['repository'], summary: 'Unload a model after its queued requests finish', params } }, async (req) => {
    await ctx.repository.unload(req.params.name);
    return {};
  });
}
