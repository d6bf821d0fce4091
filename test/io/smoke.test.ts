import { describe, expect, it } from 'vitest';
import { buildExampleModel, encodeModel, decodeModel } from '../../src/index.js';

describe('example model', () => {
  it('round-trips through encode/decode', () => {
    const m = buildExampleModel();
    const again = decodeModel(encodeModel(m));
    expect(again.graph.nodes.map((n) => n.opType)).toEqual(['Gemm', 'Relu', 'Gemm']);
  });
});
