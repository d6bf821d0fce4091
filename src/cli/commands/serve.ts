import { setFlagsFromString } from 'node:v8';
import { InvalidArgumentError, type Command } from 'commander';
import { bufferedLogDestination, createServer, type ServeOptions } from '../../serve/index.js';
import type { RuntimeName } from '../../runtime/index.js';
import { parseChoice, parseFloatOption, parseIntOption, printJson, withExamples } from '../common.js';

interface ServeCliOptions {
  port: number;
  host: string;
  maxBatch: number;
  maxQueueDelayMs: number;
  maxQueue: number;
  instances: number;
  threads?: number;
  workerNice: number;
  inlineBelowMs: number;
  runtime: RuntimeName;
  cacheSize: number;
  rateLimit?: { max: number; windowMs: number };
  apiKey?: string;
  cors?: string;
  bodyLimitMb: number;
  timeoutMs: number;
  drainTimeoutMs: number;
  logLevel: string;
  warmup: boolean;
  batchSizing: boolean;
  json?: boolean;
}

function parseNice(v: string): number {
  const n = Number(v);
  if (!Number.isInteger(n) || n < 0 || n > 19) throw new InvalidArgumentError(`expected an integer from 0 to 19, got '${v}'`);
  return n;
}

/** `100/s`, `600/m` or `100` (per second). */
export function parseRate(v: string): { max: number; windowMs: number } {
  const m = /^(\d+)\s*(?:\/\s*(s|sec|second|m|min|minute))?$/.exec(v.trim());
  if (!m || Number(m[1]) < 1) throw new InvalidArgumentError(`expected requests per second or minute like 100/s or 600/m, got '${v}'`);
  return { max: Number(m[1]), windowMs: m[2]?.startsWith('m') ? 60_000 : 1000 };
}

export function register(program: Command): void {
  withExamples(
    program
      .command('serve')
      .description('serve models over HTTP: KServe Open Inference Protocol v2 (+ Triton extensions), /predict, /metrics, a page at /')
      .argument('<target...>', '.onnx files, deployment packages (folder with modelship.json), folders with model.onnx, or a model repository (folder of those)')
      .option('--port <n>', 'port (0: any free port)', parseIntOption(0), 8080)
      .option('--host <addr>', 'address to listen on', '127.0.0.1')
      .option('--max-batch <n>', 'largest dynamic batch in rows (1: batching off)', parseIntOption(1), 32)
      .option('--max-queue-delay-ms <ms>', 'how long a forming batch may wait for more rows while other batches run', parseFloatOption, 2)
      .option('--max-queue <n>', 'requests that may wait per model; more are refused with 503 at once', parseIntOption(1), 1024)
      .option('--instances <k>', 'inference worker threads per model, each with its own session', parseIntOption(1), 1)
      .option('--threads <t>', 'onnxruntime intra-op threads per instance (default: spare cores / instances)', parseIntOption(1))
      .option('--worker-nice <n>', 'nice value (0-19) of the inference threads on Linux, below the HTTP thread so health checks answer at once under load (0: same priority)', parseNice, 10)
      .option('--inline-below-ms <ms>', 'run a lone request on the HTTP thread, skipping the hop to an inference thread, when the model computes a row in under this (node runtime; 0: never)', parseFloatOption, 0.5)
      .option('--runtime <name>', 'node (onnxruntime-node), wasm or cuda', parseChoice(['node', 'wasm', 'cuda'] as const), 'node')
      .option('--cache-size <n>', 'response cache entries (0: off)', parseIntOption(0), 0)
      .option('--rate-limit <R/s>', 'requests per client (API key, else IP) per second or minute, e.g. 100/s', parseRate)
      .option('--api-key <key>', 'require this key (Authorization: Bearer KEY or X-API-Key); also read from MODELSHIP_API_KEY')
      .option('--cors <origins>', "allow browser calls from these origins (comma-separated; '*' for any)")
      .option('--body-limit-mb <n>', 'largest request body in MiB (413 beyond)', parseFloatOption, 64)
      .option('--timeout-ms <ms>', 'longest time to receive a request and to compute its answer', parseIntOption(1), 30_000)
      .option('--drain-timeout-ms <ms>', 'on SIGTERM/SIGINT, how long in-flight requests may take to finish', parseIntOption(0), 10_000)
      .option('--log-level <level>', 'pino log level: fatal, error, warn, info, debug', parseChoice(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const), 'info')
      .option('--no-warmup', 'skip running (and timing) each model before reporting ready')
      .option('--no-batch-sizing', 'form batches of up to --max-batch rows even where larger batches measured slower per row')
      .option('--json', 'print one JSON object (address and models) once ready; logs then go to stderr')
      .action(async (targets: string[], opts: ServeCliOptions) => {
        const options: ServeOptions = {
          targets,
          maxBatch: opts.maxBatch,
          maxQueueDelayMs: opts.maxQueueDelayMs,
          maxQueue: opts.maxQueue,
          instances: opts.instances,
          threads: opts.threads,
          workerNice: opts.workerNice,
          inlineBelowMs: opts.inlineBelowMs,
          runtime: opts.runtime,
          cacheSize: opts.cacheSize,
          rateLimit: opts.rateLimit,
          apiKey: opts.apiKey ?? process.env.MODELSHIP_API_KEY,
          cors: opts.cors === undefined || opts.cors === '*' ? opts.cors : opts.cors.split(',').map((o) => o.trim()),
          bodyLimit: Math.round(opts.bodyLimitMb * 1024 * 1024),
          requestTimeoutMs: opts.timeoutMs,
          logLevel: opts.logLevel,
          logStream: bufferedLogDestination(opts.json ? 2 : 1),
          warmup: opts.warmup,
          batchSizing: opts.batchSizing,
        };
        // Under load the HTTP thread must not fall into back-to-back full collections (pauses of
        // 8–15 ms each, which health checks wait behind). Two V8 heuristics led there (--trace-gc):
        // - the memory reducer shrinks the heap limit while the process looks idle, so load that
        //   follows meets a limit just above the live heap;
        // - V8 starts marking once the old generation's headroom is below the young generation's
        //   capacity. Requests queued for ~200 ms (mobilenet_v2 at c=32) grow the young generation
        //   to its 32 MB, while the default limit after a collection left ~34 MB of headroom: a
        //   full collection every 150–300 ms in most 10-s runs. Four times the live heap leaves
        //   ~70 MB for a 23 MB heap. A server keeps memory for speed, as onnxruntime's arenas do.
        setFlagsFromString('--no-memory-reducer');
        setFlagsFromString('--heap-growing-percent=300');
        const app = createServer(options);
        // Models load and warm up before the port is bound: no traffic reaches a server that is not ready.
        const url = await app.listen({ port: opts.port, host: opts.host, backlog: 4096 });
        const models = app.modelship.repository.loaded.map((m) => ({ name: m.name, version: m.version, maxBatchSize: m.maxBatchSize, instances: m.pool.size, preferredBatch: m.maxBatchSize ? m.batcher.preferredBatch : 0, inline: m.pool.hasInlineSession }));
        if (opts.json) printJson({ url, pid: process.pid, models, threads: app.modelship.options.threads });
        else {
          process.stderr.write(`modelship serve: ${url} (open it in a browser; API docs at ${url}/docs)\n`);
          for (const m of models) process.stderr.write(`  ${m.name} v${m.version}: max batch ${m.maxBatchSize ? `${m.maxBatchSize} (batches of ${m.preferredBatch})` : 'none'}, ${m.instances} instance(s)${m.inline ? ', lone requests on the HTTP thread' : ''}\n`);
        }
        const shutdown = async (signal: string) => {
          app.log.info({ signal }, 'shutting down: readiness fails, in-flight requests drain');
          app.modelship.beginDrain();
          const timer = setTimeout(() => {
            app.log.error({ drainTimeoutMs: opts.drainTimeoutMs }, 'in-flight requests did not finish in time; exiting');
            process.exit(1);
          }, opts.drainTimeoutMs);
          await app.close();
          clearTimeout(timer);
          app.log.info('stopped');
          process.exit(0);
        };
        process.once('SIGTERM', () => void shutdown('SIGTERM'));
        process.once('SIGINT', () => void shutdown('SIGINT'));
      }),
    'modelship serve model.onnx',
    'modelship serve ./models --port 8080 --instances 2 --max-batch 32 --json',
    'modelship serve ./package --api-key "$KEY" --rate-limit 100/s --cache-size 1000',
    'curl -s localhost:8080/v2/models/model/infer -d \'{"inputs":[{"name":"x","shape":[1,4],"datatype":"FP32","data":[1,2,3,4]}]}\'',
  );
}
