import { Graph } from './graph.js';
import type { OpsetImport } from './types.js';

/** The ONNX IR version written for models built from scratch (ONNX 1.16+, opset ≤ 21). */
export const DEFAULT_IR_VERSION = 10;

export class Model {
  irVersion = DEFAULT_IR_VERSION;
  opsetImports: OpsetImport[] = [{ domain: '', version: 17 }];
  producerName = '';
  producerVersion = '';
  domain = '';
  modelVersion = 0;
  docString = '';
  metadataProps: { key: string; value: string }[] = [];
  graph: Graph;
  /** Model-local functions, training info and device configurations, kept as decoded for re-save. */
  passthrough?: { functions?: unknown[]; trainingInfo?: unknown[]; configuration?: unknown[] };

  constructor(graph = new Graph()) {
    this.graph = graph;
  }

  /** The opset version imported for `domain` ('' and 'ai.onnx' are the same domain). */
  opset(domain = ''): number | undefined {
    const d = domain === 'ai.onnx' ? '' : domain;
    return this.opsetImports.find((o) => (o.domain === 'ai.onnx' ? '' : o.domain) === d)?.version;
  }

  setOpset(domain: string, version: number): void {
    const existing = this.opsetImports.find((o) => o.domain === domain);
    if (existing) existing.version = version;
    else this.opsetImports.push({ domain, version });
  }

  getMetadata(key: string): string | undefined {
    return this.metadataProps.find((p) => p.key === key)?.value;
  }

  setMetadata(key: string, value: string): void {
    const existing = this.metadataProps.find((p) => p.key === key);
    if (existing) existing.value = value;
    else this.metadataProps.push({ key, value });
  }
}
