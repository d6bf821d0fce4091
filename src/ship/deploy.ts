/**
 * The deployment files of a package: Dockerfile, kserve.yaml, README.md and the example request.
 * The image's command line serves the package folder itself (`modelship serve .`), so the same
 * command run inside the package folder on any machine with the CLI serves it the same way.
 */
import { stringify } from 'yaml';
import type { Manifest, ShipManifestFields } from '../package/index.js';
import type { Tensor } from '../ir/index.js';
import { toV2Datatype } from '../serve/datatypes.js';
import { VERSION } from '../version.js';

export const CONTAINER_PORT = 8080;
/** Where the Dockerfile puts the package inside the image. */
export const IMAGE_PACKAGE_DIR = '/srv/model';

export type PackageManifest = Manifest & ShipManifestFields;

/** The serve options the package was measured with (runtime, threads), as command-line flags. */
export function serveFlags(m: Pick<PackageManifest, 'serve'>): string {
  return [m.serve.runtime !== 'node' ? ` --runtime ${m.serve.runtime}` : '', m.serve.threads ? ` --threads ${m.serve.threads}` : ''].join('');
}

/** The `modelship serve` command line of the image (and of `npx modelship serve .`). */
export function serveCommand(m: PackageManifest): string {
  return `exec modelship serve . --host 0.0.0.0 --port "\${PORT:-${CONTAINER_PORT}}"${serveFlags(m)}`;
}

/** The HEALTHCHECK probe: node is in the image (curl is not in node:20-slim). */
export const HEALTH_PROBE =
  "fetch('http://127.0.0.1:'+(process.env.PORT||8080)+'/v2/health/ready').then(r=>process.exit(r.ok?0:1),()=>process.exit(1))";

export function dockerfile(m: PackageManifest): string {
  return `# ${m.name} v${m.version}: deployment image written by modelship ${VERSION} (ship).
# docker build -t ${imageName(m)} . && docker run --rm -p ${CONTAINER_PORT}:${CONTAINER_PORT} ${imageName(m)}
# A local modelship instead of the registry's: npm pack it into this folder and build with
# --build-arg MODELSHIP=${IMAGE_PACKAGE_DIR}/modelship-${VERSION}.tgz
FROM node:20-slim
ARG MODELSHIP=modelship@${VERSION}
# onnxruntime-node's CPU binaries ship in its npm package; its install step would fetch CUDA ones.
ENV NODE_ENV=production \\
    ONNXRUNTIME_NODE_INSTALL=skip \\
    npm_config_update_notifier=false \\
    PORT=${CONTAINER_PORT}
WORKDIR ${IMAGE_PACKAGE_DIR}
# Root-owned and read-only for the server's user.
COPY . .
RUN npm install -g "$MODELSHIP" && npm cache clean --force
USER node
EXPOSE ${CONTAINER_PORT}
HEALTHCHECK --interval=10s --timeout=3s --start-period=30s --retries=3 \\
  CMD ${JSON.stringify(['node', '-e', HEALTH_PROBE])}
CMD ${JSON.stringify(['/bin/sh', '-c', serveCommand(m)])}
`;
}

export function imageName(m: PackageManifest): string {
  return `${dnsName(m.name)}:${m.version}`;
}

/** Kubernetes names: lowercase letters, digits and '-', starting with a letter (RFC 1035). */
export function dnsName(name: string): string {
  const s = name.toLowerCase().replace(/[^a-z0-9-]+/g, '-').replace(/^[^a-z]+/, '').replace(/-+$/, '').slice(0, 50);
  return s || 'model';
}

export function kserveYaml(m: PackageManifest): string {
  const name = dnsName(m.name);
  const runtime = `modelship-${name}`;
  const probe = (path: string) => ({ httpGet: { path, port: CONTAINER_PORT }, periodSeconds: 5, timeoutSeconds: 3 });
  const servingRuntime = {
    apiVersion: 'serving.kserve.io/v1alpha1',
    kind: 'ServingRuntime',
    metadata: { name: runtime, labels: { 'app.kubernetes.io/managed-by': 'modelship' } },
    spec: {
      supportedModelFormats: [{ name: 'onnx', version: '1', autoSelect: false }],
      protocolVersions: ['v2'],
      containers: [
        {
          name: 'kserve-container',
          // The image built from this package's Dockerfile (push it where the cluster pulls from); its
          // command serves the package baked into it, so no storageUri is needed.
          image: imageName(m),
          env: [{ name: 'PORT', value: String(CONTAINER_PORT) }],
          ports: [{ containerPort: CONTAINER_PORT, protocol: 'TCP' }],
          readinessProbe: probe('/v2/health/ready'),
          livenessProbe: probe('/v2/health/live'),
          resources: { requests: { cpu: '1', memory: '512Mi' }, limits: { cpu: '2', memory: '2Gi' } },
          securityContext: { runAsNonRoot: true, runAsUser: 1000, allowPrivilegeEscalation: false },
        },
      ],
    },
  };
  const inferenceService = {
    apiVersion: 'serving.kserve.io/v1beta1',
    kind: 'InferenceService',
    metadata: { name, labels: { 'app.kubernetes.io/managed-by': 'modelship' } },
    spec: { predictor: { model: { modelFormat: { name: 'onnx' }, runtime, protocolVersion: 'v2' } } },
  };
  return `# ${m.name}: KServe ServingRuntime + InferenceService (Open Inference Protocol v2), written by modelship ${VERSION}.\n` +
    `# kubectl apply -f kserve.yaml   (after pushing the image ${imageName(m)} built from the Dockerfile)\n` +
    `${stringify(servingRuntime)}---\n${stringify(inferenceService)}`;
}

/** A v2 infer request body for one row of `sample` (the example the README's curl sends). */
export function inferRequest(sample: Record<string, Tensor>, id: string): object {
  return {
    id,
    inputs: Object.values(sample).map((t) => {
      const rowSize = t.dims[0] ? t.size / t.dims[0] : t.size;
      const data = t.data;
      const row = Array.isArray(data) ? data.slice(0, rowSize) : Array.from((data as ArrayLike<number | bigint>) as ArrayLike<number>, Number).slice(0, rowSize);
      return { name: t.name, shape: [1, ...t.dims.slice(1)], datatype: toV2Datatype(t.dtype), data: row };
    }),
  };
}

const mib = (b: number | undefined) => (b === undefined ? '-' : b < 1048576 ? `${(b / 1024).toFixed(1)} KiB` : `${(b / 1048576).toFixed(2)} MiB`);

/** The package README: what was chosen and why, every candidate, how to run and call it. */
export function packageReadme(m: PackageManifest, predictExample: string | undefined, files: string[]): string {
  const s = m.ship;
  const url = `localhost:${CONTAINER_PORT}`;
  const rows = m.candidates.map((c) => {
    const acc = c.accuracy ? `${(c.accuracy.candidate * 100).toFixed(2)}% (drop ${(c.accuracy.drop * 100).toFixed(2)})` : '-';
    const status = c.status === 'failed' ? `failed at ${c.error!.stage}: ${c.error!.message}` : c.passed ? 'meets every constraint' : (c.constraints ?? []).filter((k) => !k.passed).map((k) => k.text).join('; ');
    return `| ${c.name === s.chosen ? `**${c.name}**` : c.name} | ${mib(c.sizeBytes)} | ${c.sizeRatio?.toFixed(3) ?? '-'}× | ${c.latency ? c.latency.p50Ms.toPrecision(3) : '-'} | ${c.latencyVsOriginal?.summary ?? '-'} | ${c.agreement?.toFixed(4) ?? '-'} | ${acc} | ${status} |`;
  });
  const inputs = m.inputs.map((i) => `- input \`${i.name}\`: ${i.dtype} [${i.shape.map((d) => d ?? '?').join(', ')}]`).join('\n');
  const outputs = m.outputs.map((o) => `- output \`${o.name}\`: ${o.dtype} [${o.shape.map((d) => d ?? '?').join(', ')}]`).join('\n');
  const processing = [
    m.preprocess?.kind === 'image' ? `- pre-processing: image resized to ${m.preprocess.size.join('×')} (${m.preprocess.channels} channel(s), ${m.preprocess.layout}), (pixel × ${m.preprocess.scale.toPrecision(4)} − mean) / std with mean ${JSON.stringify(m.preprocess.mean)}, std ${JSON.stringify(m.preprocess.std)}` : '',
    m.preprocess?.kind === 'features' ? `- pre-processing: named features ${m.preprocess.names.map((n) => `\`${n}\``).join(', ')}` : '',
    m.postprocess?.kind === 'classification' ? `- post-processing: ${m.postprocess.softmax ? 'softmax, ' : ''}top ${m.postprocess.topK}${m.postprocess.labels ? ` with labels (${m.postprocess.labels.slice(0, 5).join(', ')}${m.postprocess.labels.length > 5 ? ', …' : ''})` : ''}` : '',
    m.postprocess?.kind === 'regression' ? `- post-processing: regression value(s) ${m.postprocess.names?.join(', ') ?? ''}` : '',
    !m.preprocess ? '- no pre-processing spec: call `/infer` with tensors (e.g. token ids); `/predict` answers 400' : '',
  ].filter(Boolean);
  const failed = s.failedConstraints.map((f) => `- ${f.constraint}: ${f.text}`).join('\n');
  return `# ${m.name} — modelship deployment package

Written by \`modelship ship\` (modelship ${VERSION}) on ${s.createdAt} from \`${m.source.path ?? 'an in-memory model'}\`
(${m.source.format}, sha256 \`${m.source.sha256.slice(0, 16)}…\`). Shipped variant: **${s.chosen}**${s.passed ? '' : ' — it does NOT meet every constraint (passed: false)'}.

${s.reason}
${failed ? `\nConstraints missed:\n${failed}\n` : ''}
| candidate | size | size vs original | p50 ms | latency vs original (95% CI) | agreement | accuracy | result |
| --- | ---: | ---: | ---: | --- | ---: | ---: | --- |
${rows.join('\n')}

Measured on ${s.bench.runtime} at batch ${s.bench.batch}${Object.keys(s.bench.dims).length ? ` (${Object.entries(s.bench.dims).map(([k, v]) => `${k} ${v}`).join(', ')})` : ''}, ${s.bench.threads ?? 'default'} thread(s), ${s.bench.seconds} s per bench run, load average ${s.bench.loadAverage.toFixed(2)} (candidates interleaved in one run; see report.html). Objective: ${s.objective}.

## Interface

${inputs}
${outputs}
${processing.join('\n')}

## Files

${files.map((f) => `- \`${f}\``).join('\n')}

## Run it

\`\`\`sh
npx modelship serve . --port ${CONTAINER_PORT}${serveFlags(m)}                 # in this folder (or: modelship serve PATH/TO/THIS/FOLDER)
docker build -t ${imageName(m)} . && docker run --rm -p ${CONTAINER_PORT}:${CONTAINER_PORT} ${imageName(m)}
kubectl apply -f kserve.yaml                                   # after pushing ${imageName(m)} where your cluster pulls from
\`\`\`

## Call it

\`\`\`sh
curl -s ${url}/v2/health/ready
curl -s ${url}/v2/models/${m.name}                            # inputs, outputs, versions
curl -s ${url}/v2/models/${m.name}/infer -H content-type:application/json -d @request.json   # Open Inference Protocol v2
${predictExample ?? `# /predict needs a pre-processing spec, which this model has none of (see Interface)`}
\`\`\`

\`request.json\` holds one row of the evaluation data. Metrics: \`curl -s ${url}/metrics\`; a page with a predict form at http://${url}/.
`;
}
