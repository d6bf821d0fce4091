import { walkGraphs, type Dim, type Model, type TypeInfo } from '../ir/index.js';

/**
 * Fixes the dims of graph inputs (as onnx-simplifier's overwrite_input_shapes does), e.g.
 * `{ input: [1, 3, 224, 224] }`. A symbolic dim fixed here is fixed wherever that symbol appears
 * (outputs, value_info), since ONNX gives one symbol one size. Fixed dims must match; the rank too.
 */
export function setInputShapes(model: Model, shapes: Record<string, number[]>): void {
  const g = model.graph;
  const bound = new Map<string, number>();
  for (const [name, dims] of Object.entries(shapes)) {
    const input = g.inputs.find((v) => v.name === name && !g.initializers.has(v.name));
    const inputs = g.inputs.filter((v) => !g.initializers.has(v.name)).map((v) => v.name);
    if (!input) throw new Error(`input shape ${name}: the model has no input '${name}' (inputs: ${inputs.join(', ')})`);
    if (input.type?.kind !== 'tensor') throw new Error(`input shape ${name}: input '${name}' is not a tensor`);
    if (dims.some((d) => !Number.isInteger(d) || d < 0)) throw new Error(`input shape ${name}: dims must be non-negative integers, got ${dims.join(',')}`);
    const declared = input.type.shape;
    if (declared && declared.length !== dims.length) {
      throw new Error(`input shape ${name}: the input has rank ${declared.length} (${fmt(declared)}), got ${dims.length} dims (${dims.join(',')})`);
    }
    declared?.forEach((d, i) => {
      const want = dims[i]!;
      if (typeof d === 'number' && d !== want) throw new Error(`input shape ${name}: dimension ${i} is fixed at ${d} in the model, got ${want}`);
      if (typeof d === 'string') {
        const prev = bound.get(d);
        if (prev !== undefined && prev !== want) throw new Error(`input shape ${name}: dimension ${i} ('${d}') set to ${want}, but '${d}' is ${prev} in another input`);
        bound.set(d, want);
      }
    });
    input.type = { ...input.type, shape: [...dims] };
  }
  if (!bound.size) return;
  const fix = (shape: Dim[] | undefined) => shape?.map((d) => (typeof d === 'string' && bound.has(d) ? bound.get(d)! : d));
  const fixAll = (values: Iterable<{ type?: TypeInfo }>) => {
    for (const v of values) if (v.type?.kind === 'tensor' && v.type.shape) v.type = { ...v.type, shape: fix(v.type.shape) };
  };
  for (const { graph } of walkGraphs(g)) {
    fixAll(graph.inputs);
    fixAll(graph.outputs);
    fixAll(graph.valueInfo.values());
  }
}

const fmt = (shape: Dim[]) => `[${shape.map((d) => d ?? '?').join(', ')}]`;
