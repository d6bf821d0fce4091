/**
 * TF.js Layers models (Keras model configs: Sequential, functional, nested models, shared layers) to
 * ONNX. Layers are applied node by node as Keras does when it rebuilds a model from its config;
 * ONNX node names keep the layer path (`outer/inner/conv2d_1`).
 */
import { attr, type Attribute, type Dim, type DType, type Tensor } from '../../ir/index.js';
import { ConvertError, type Emitter, type Value } from './emitter.js';
import type { LoadedTfjsModel } from './artifacts.js';
import type { GraphConvertOptions, GraphInterface } from './graph-model.js';
import {
  activation,
  batchNorm,
  cast,
  clip,
  concat,
  conv,
  convTranspose,
  elementwise,
  matmul,
  normAxis,
  pad,
  pool,
  rankOf,
  reduce,
  resize,
  scalarTensor,
  softmax,
  transpose,
  unary,
  type Padding,
} from './ops.js';
import { channelsFirst, identity, numbers, permute, reshapeTensor, tensorOf, transposeTensor } from './tensors.js';

type Config = Record<string, unknown>;

interface LayerSpec {
  name: string;
  className: string;
  config: Config;
  /** Keras inbound nodes: per call, the (layer, node index, tensor index) of each input. */
  inbound: [string, number, number][][];
}

interface ModelSpec {
  name: string;
  layers: LayerSpec[];
  inputs: [string, number, number][];
  outputs: [string, number, number][];
  /** Set for Sequential models, whose layers chain one after the other. */
  sequential?: { batchInputShape?: Dim[]; dtype?: string };
}

const MODEL_CLASSES = new Set(['Sequential', 'Model', 'Functional']);

/** Keras layer classes the converter maps (merge layers, wrappers and models included). */
const SUPPORTED_LAYERS = new Set([
  'InputLayer', 'Dense', 'Conv1D', 'Conv2D', 'DepthwiseConv2D', 'SeparableConv2D', 'SeparableConv1D', 'Conv2DTranspose',
  'BatchNormalization', 'LayerNormalization', 'MaxPooling1D', 'MaxPooling2D', 'AveragePooling1D', 'AveragePooling2D',
  'MaxPool1D', 'MaxPool2D', 'AvgPool1D', 'AvgPool2D',
  'GlobalAveragePooling1D', 'GlobalAveragePooling2D', 'GlobalMaxPooling1D', 'GlobalMaxPooling2D',
  'GlobalAvgPool1D', 'GlobalAvgPool2D', 'GlobalMaxPool1D', 'GlobalMaxPool2D',
  'Activation', 'ReLU', 'LeakyReLU', 'PReLU', 'ELU', 'ThresholdedReLU', 'Softmax',
  'Add', 'Subtract', 'Multiply', 'Average', 'Maximum', 'Minimum', 'Concatenate',
  'Reshape', 'Flatten', 'Permute', 'RepeatVector', 'UpSampling2D', 'ZeroPadding2D', 'Cropping2D',
  'Dropout', 'SpatialDropout1D', 'SpatialDropout2D', 'GaussianNoise', 'GaussianDropout', 'AlphaDropout', 'ActivityRegularization',
  'Embedding', 'LSTM', 'GRU', 'SimpleRNN', 'Bidirectional', 'TimeDistributed',
  ...MODEL_CLASSES,
]);

export function convertLayersModel(model: LoadedTfjsModel, e: Emitter, o: GraphConvertOptions): GraphInterface {
  const root = parseModel(model.topology, model.source);
  const unsupported = new Map<string, string[]>();
  collectUnsupported(root, unsupported);
  if (unsupported.size) {
    const list = [...unsupported].map(([cls, names]) => `${cls} (${names.length}×, e.g. ${names[0]})`).join(', ');
    throw new ConvertError(`${model.source}: unsupported Keras layers: ${list}`);
  }
  const converter = new LayersConverter(e, model);
  let inputIndex = 0;
  const inputs: GraphInterface['inputs'] = root.inputs.map(([name]) => {
    const layer = root.layers.find((l) => l.name === name);
    if (!layer) throw new ConvertError(`${model.source}: input layer '${name}' is not in the model's layers`);
    const shape = inputShape(layer, o.batchDynamic);
    const dtype = kerasDtype(layer.config.dtype, `${model.source}: input '${name}'`);
    const perm = o.nchw && shape.length === 4 ? channelsFirst(4) : undefined;
    e.graph.inputs.push({ name, type: { kind: 'tensor', dtype, shape: permute(shape, perm) } });
    e.graph.reserveName(name);
    return { name, tfName: String(inputIndex++), value: { name, dtype, shape, perm } };
  });
  const outputs = root.outputs.map(([name, node, tensor], k) => {
    const key = root.outputs.filter(([n]) => n === name).length > 1 ? `${name}_${k}` : name;
    return { key, ref: [name, node, tensor] as [string, number, number] };
  });
  const results = converter.run(root, inputs.map((i) => i.value), '');
  return {
    inputs,
    outputs: outputs.map(({ key }, k) => ({ name: key, tfName: String(k), value: results[k]! })),
    // TF.js exposes a Layers model's intermediate results only per layer, not per op: no divergence search.
    intermediates: [],
  };
}

// ---- parsing -----------------------------------------------------------------------------------

function parseModel(json: Config, where: string): ModelSpec {
  const cls = json.class_name as string;
  const config = json.config as Config | Config[] | undefined;
  if (!config) throw new ConvertError(`${where}: model '${cls}' has no config`);
  if (cls === 'Sequential') {
    const layersJson = (Array.isArray(config) ? config : (config.layers as Config[])) ?? [];
    const name = (Array.isArray(config) ? 'sequential' : (config.name as string)) ?? 'sequential';
    const layers: LayerSpec[] = [];
    let first = layersJson[0]?.config as Config | undefined;
    let batchInputShape = first?.batch_input_shape as Dim[] | undefined;
    let dtype = first?.dtype as string | undefined;
    let inputName: string;
    if (layersJson[0]?.class_name === 'InputLayer') {
      inputName = (first!.name as string) ?? `${name}_input`;
      layersJson.shift();
      first = layersJson[0]?.config as Config | undefined;
    } else inputName = `${(first?.name as string) ?? name}_input`;
    batchInputShape ??= first?.batch_input_shape as Dim[] | undefined;
    dtype ??= first?.dtype as string | undefined;
    if (!batchInputShape) throw new ConvertError(`${where}: Sequential model '${name}' has no input shape (batch_input_shape on its first layer)`);
    layers.push({ name: inputName, className: 'InputLayer', config: { batch_input_shape: batchInputShape, dtype: dtype ?? 'float32', name: inputName }, inbound: [] });
    let prev = inputName;
    for (const l of layersJson) {
      const lc = l.config as Config;
      const lname = (lc?.name as string) ?? (l.name as string);
      layers.push({ name: lname, className: l.class_name as string, config: lc, inbound: [[[prev, 0, 0]]] });
      prev = lname;
    }
    return { name, layers, inputs: [[inputName, 0, 0]], outputs: [[prev, 0, 0]], sequential: { batchInputShape, dtype } };
  }
  if (!MODEL_CLASSES.has(cls) || Array.isArray(config)) throw new ConvertError(`${where}: expected a Keras Sequential or functional Model, got '${cls}'`);
  const layers = ((config.layers as Config[]) ?? []).map((l): LayerSpec => ({
    name: (l.name as string) ?? ((l.config as Config)?.name as string),
    className: l.class_name as string,
    config: (l.config as Config) ?? {},
    inbound: parseInbound(l.inbound_nodes, `${where}: layer '${l.name as string}'`),
  }));
  const refs = (v: unknown) => (v as [string, number, number][]).map((r) => [r[0], r[1] ?? 0, r[2] ?? 0] as [string, number, number]);
  return { name: (config.name as string) ?? 'model', layers, inputs: refs(config.input_layers), outputs: refs(config.output_layers) };
}

function parseInbound(nodes: unknown, where: string): [string, number, number][][] {
  if (!nodes) return [];
  if (!Array.isArray(nodes)) throw new ConvertError(`${where}: inbound_nodes must be a list`);
  return nodes.map((call) => {
    if (!Array.isArray(call)) throw new ConvertError(`${where}: unsupported inbound_nodes format (Keras 3 "args" nodes are not supported; save with TF.js or Keras 2)`);
    return call.map((ref) => {
      if (!Array.isArray(ref) || typeof ref[0] !== 'string') throw new ConvertError(`${where}: unsupported inbound node entry ${JSON.stringify(ref)}`);
      return [ref[0], Number(ref[1] ?? 0), Number(ref[2] ?? 0)] as [string, number, number];
    });
  });
}

function collectUnsupported(m: ModelSpec, out: Map<string, string[]>): void {
  for (const l of m.layers) {
    if (MODEL_CLASSES.has(l.className)) collectUnsupported(parseModel({ class_name: l.className, config: l.config }, l.name), out);
    else if (l.className === 'Bidirectional' || l.className === 'TimeDistributed') {
      const inner = l.config.layer as Config;
      const cls = inner?.class_name as string;
      if (!SUPPORTED_LAYERS.has(cls)) out.set(cls, [...(out.get(cls) ?? []), `${l.name}/${cls}`]);
    } else if (!SUPPORTED_LAYERS.has(l.className)) out.set(l.className, [...(out.get(l.className) ?? []), l.name]);
  }
}

function inputShape(layer: LayerSpec, batchDynamic: boolean): Dim[] {
  const shape = (layer.config.batch_input_shape ?? layer.config.batch_shape) as (number | null)[] | undefined;
  if (!shape) throw new ConvertError(`input layer '${layer.name}' has no batch_input_shape`);
  return shape.map((d, i) => (d !== null ? d : i === 0 ? (batchDynamic ? 'batch' : 1) : `${layer.name}_dim${i}`));
}

function kerasDtype(d: unknown, where: string): DType {
  if (d === undefined || d === null || d === 'float32') return 'float32';
  if (d === 'int32') return 'int32';
  if (d === 'bool') return 'bool';
  throw new ConvertError(`${where}: unsupported dtype '${String(d)}'`);
}

// ---- the walk ----------------------------------------------------------------------------------

class LayersConverter {
  constructor(
    readonly e: Emitter,
    readonly model: LoadedTfjsModel,
  ) {}

  /** Applies a model's layers to `inputs`; returns its outputs. `prefix` is the enclosing model path. */
  run(m: ModelSpec, inputs: Value[], prefix: string): Value[] {
    // (layer, node index) → output values; a nested model's own construction node is index 0.
    const produced = new Map<string, Value[]>();
    const key = (layer: string, node: number) => `${layer}#${node}`;
    m.inputs.forEach(([name], i) => produced.set(key(name, 0), [inputs[i]!]));
    const pending: { layer: LayerSpec; call: number; node: number }[] = [];
    for (const layer of m.layers) {
      if (layer.className === 'InputLayer') continue;
      const offset = MODEL_CLASSES.has(layer.className) ? 1 : 0;
      layer.inbound.forEach((_, call) => pending.push({ layer, call, node: call + offset }));
    }
    // Keras rebuilds in passes: a call waits until the layers feeding it have run (shared layers may be listed first).
    while (pending.length) {
      const ready = pending.findIndex(({ layer, call }) => layer.inbound[call]!.every(([src, n]) => produced.has(key(src, n))));
      if (ready < 0) {
        const { layer, call } = pending[0]!;
        const missing = layer.inbound[call]!.find(([src, n]) => !produced.has(key(src, n)))!;
        throw new ConvertError(`${this.model.source}: layer '${layer.name}' reads '${missing[0]}' node ${missing[1]}, which the model never computes`);
      }
      const { layer, call, node } = pending.splice(ready, 1)[0]!;
      const ins = layer.inbound[call]!.map(([src, n, t]) => {
        const v = produced.get(key(src, n))![t];
        if (!v) throw new ConvertError(`${this.model.source}: layer '${layer.name}' reads output ${t} of '${src}', which has fewer outputs`);
        return v;
      });
      const path = prefix ? `${prefix}/${layer.name}` : layer.name;
      produced.set(key(layer.name, node), this.apply(layer, ins, path));
    }
    return m.outputs.map(([name, node, t]) => {
      const v = produced.get(key(name, node))?.[t];
      if (!v) throw new ConvertError(`${this.model.source}: model '${m.name}' output '${name}' node ${node} is never computed`);
      return v;
    });
  }

  apply(layer: LayerSpec, inputs: Value[], path: string): Value[] {
    if (MODEL_CLASSES.has(layer.className)) {
      const inner = parseModel({ class_name: layer.className, config: layer.config }, path);
      return this.run(inner, inputs, path);
    }
    this.e.scope = path;
    try {
      const out = this.layer(layer, inputs);
      return Array.isArray(out) ? out : [out];
    } catch (err) {
      if (err instanceof ConvertError) throw err;
      throw new ConvertError(`${path} (${layer.className}): ${(err as Error).message}`);
    }
  }

  /** The weight `name` of `layer` (TF.js names weights `<layer>/<weight>`, nested models may prefix the path). */
  weight(layer: string, name: string): Value {
    const w = this.find(layer, name);
    if (!w) throw new ConvertError(`${this.model.source}: layer '${layer}' has no weight '${name}' in the weights manifest`);
    return this.e.constant(w, `${layer}/${name}`);
  }

  find(layer: string, name: string): Tensor | undefined {
    const exact = this.model.weights.get(`${layer}/${name}`);
    if (exact) return exact;
    const suffix = `/${layer}/${name}`;
    for (const [k, t] of this.model.weights) if (k.endsWith(suffix)) return t;
    return undefined;
  }

  layer(l: LayerSpec, inputs: Value[]): Value | Value[] {
    const e = this.e;
    const c = l.config;
    const x = inputs[0]!;
    const act = (v: Value) => activation(e, (c.activation as string) ?? 'linear', v);
    switch (l.className) {
      case 'Dense': {
        const kernel = this.weight(l.name, 'kernel');
        const bias = c.use_bias === false ? undefined : this.weight(l.name, 'bias');
        return act(matmul(e, x, kernel, { bias }));
      }
      case 'Conv1D':
      case 'Conv2D':
      case 'DepthwiseConv2D':
      case 'SeparableConv1D':
      case 'SeparableConv2D':
        return act(channelsLastOp(e, c, x, (v) => this.convolution(l, v)));
      case 'Conv2DTranspose':
        return act(channelsLastOp(e, c, x, (v) => this.deconvolution(l, v)));
      case 'MaxPooling1D':
      case 'MaxPooling2D':
      case 'MaxPool1D':
      case 'MaxPool2D':
      case 'AveragePooling1D':
      case 'AveragePooling2D':
      case 'AvgPool1D':
      case 'AvgPool2D': {
        const n = l.className.includes('1D') ? 1 : 2;
        const size = ints(c.pool_size, n, 2);
        const strides = c.strides === null || c.strides === undefined ? size : ints(c.strides, n, 1);
        return channelsLastOp(e, c, x, (v) => pool(e, l.className.startsWith('Max') ? 'max' : 'avg', v, size, strides, kerasPadding(c.padding)));
      }
      case 'GlobalAveragePooling1D':
      case 'GlobalAveragePooling2D':
      case 'GlobalAvgPool1D':
      case 'GlobalAvgPool2D':
      case 'GlobalMaxPooling1D':
      case 'GlobalMaxPooling2D':
      case 'GlobalMaxPool1D':
      case 'GlobalMaxPool2D': {
        const rank = rankOf(e, x);
        const first = c.data_format === 'channels_first';
        const axes = first ? identity(rank - 2).map((i) => i + 2) : identity(rank - 2).map((i) => i + 1);
        return reduce(e, l.className.includes('Max') ? 'ReduceMax' : 'ReduceMean', x, axes, c.keepdims === true);
      }
      case 'BatchNormalization':
        return this.batchNormalization(l, x);
      case 'LayerNormalization':
        return this.layerNormalization(l, x);
      case 'Activation':
        return act(x);
      case 'ReLU': {
        const max = c.max_value as number | null | undefined;
        const relu = unary(e, 'Relu', x, [], x.dtype, 'relu');
        return max === null || max === undefined ? relu : clip(e, x, 0, max, 'relu');
      }
      case 'LeakyReLU':
        return activation(e, 'leakyrelu', x, { alpha: (c.alpha as number) ?? 0.3 });
      case 'ELU':
        return activation(e, 'elu', x, { alpha: (c.alpha as number) ?? 1 });
      case 'ThresholdedReLU':
        return unary(e, 'ThresholdedRelu', x, [attr.float('alpha', (c.theta as number) ?? 1)]);
      case 'PReLU':
        return activation(e, 'prelu', x, { preluAlpha: this.weight(l.name, 'alpha') });
      case 'Softmax':
        return softmax(e, x, (c.axis as number) ?? -1);
      case 'Add':
        return inputs.length === 2 ? elementwise(e, 'Add', inputs) : elementwise(e, 'Sum', inputs);
      case 'Subtract':
        return elementwise(e, 'Sub', inputs);
      case 'Multiply':
        return inputs.slice(1).reduce((acc, v) => elementwise(e, 'Mul', [acc, v]), x);
      case 'Maximum':
        return elementwise(e, 'Max', inputs);
      case 'Minimum':
        return elementwise(e, 'Min', inputs);
      case 'Average': {
        const sum = elementwise(e, 'Sum', inputs, x.dtype, 'sum');
        return elementwise(e, 'Mul', [sum, e.constant(scalarTensor(x.dtype, 1 / inputs.length))]);
      }
      case 'Concatenate':
        return concat(e, inputs, normAxis(e, (c.axis as number) ?? -1, rankOf(e, x)));
      case 'Flatten': {
        const v = c.data_format === 'channels_first' && rankOf(e, x) > 2 ? transpose(e, x, [0, ...identity(rankOf(e, x) - 1).slice(1), 1]) : x;
        const rest = x.shape!.slice(1);
        const size = rest.every((d) => typeof d === 'number') ? (rest as number[]).reduce((a, b) => a * b, 1) : null;
        return { name: e.op('Flatten', [e.as(v)], [attr.int('axis', 1)]), dtype: x.dtype, shape: [x.shape![0]!, size] };
      }
      case 'Reshape':
        // TF.js saves an inferred dimension as null.
        return kerasReshape(e, x, (c.target_shape as (number | null)[]).map((d) => d ?? -1));
      case 'Permute':
        return transpose(e, x, [0, ...(c.dims as number[])]);
      case 'RepeatVector': {
        const n = c.n as number;
        const up = e.op('Unsqueeze', [e.as(x), e.int64s([1])], [], 'expand');
        return { name: e.op('Tile', [up, e.int64s([1, n, 1])]), dtype: x.dtype, shape: [x.shape![0]!, n, x.shape![1]!] };
      }
      case 'UpSampling2D': {
        const [sh, sw] = ints(c.size, 2, 2);
        return channelsLastOp(e, c, x, (v) => {
          const [h, w] = [v.shape![1], v.shape![2]];
          if (typeof h !== 'number' || typeof w !== 'number') throw new ConvertError(`${e.scope}: UpSampling2D needs fixed spatial sizes`);
          return resize(e, v, [h * sh!, w * sw!], c.interpolation === 'bilinear' ? 'linear' : 'nearest', false, false);
        });
      }
      case 'ZeroPadding2D': {
        const p = pairs(c.padding);
        return channelsLastOp(e, c, x, (v) => pad(e, v, [[0, 0], p[0]!, p[1]!, [0, 0]], 'constant'));
      }
      case 'Cropping2D': {
        const p = pairs(c.cropping);
        return channelsLastOp(e, c, x, (v) => crop(e, v, p));
      }
      case 'Dropout':
      case 'SpatialDropout1D':
      case 'SpatialDropout2D':
      case 'GaussianNoise':
      case 'GaussianDropout':
      case 'AlphaDropout':
      case 'ActivityRegularization':
        return x;
      case 'Embedding': {
        const table = this.weight(l.name, 'embeddings');
        const ids = cast(e, x, 'int32');
        const shape = x.shape && [...x.shape, table.shape![1]!];
        return { name: e.op('Gather', [e.as(table), e.as(ids)], [attr.int('axis', 0)]), dtype: 'float32', shape };
      }
      case 'LSTM':
      case 'GRU':
      case 'SimpleRNN':
        return this.recurrent(l.className, l.name, c, x);
      case 'Bidirectional':
        return this.bidirectional(l, x);
      case 'TimeDistributed':
        return this.timeDistributed(l, x);
      default:
        throw new ConvertError(`${e.scope}: unsupported Keras layer ${l.className}`);
    }
  }

  convolution(l: LayerSpec, x: Value): Value {
    const e = this.e;
    const c = l.config;
    const n = l.className.endsWith('1D') ? 1 : 2;
    const strides = ints(c.strides, n, 1);
    const dilations = ints(c.dilation_rate, n, 1);
    if (c.padding === 'causal') throw new ConvertError(`${e.scope}: causal padding is not supported (TF.js cannot run it either)`);
    const padding = kerasPadding(c.padding);
    const input = x;
    const bias = c.use_bias === false ? undefined : this.weight(l.name, 'bias');
    const opts = { strides, dilations, padding };
    if (l.className === 'DepthwiseConv2D') return conv(e, input, this.weight(l.name, 'depthwise_kernel'), bias, { ...opts, depthwise: true });
    if (l.className.startsWith('SeparableConv')) {
      let dk = this.weight(l.name, 'depthwise_kernel');
      let pk = this.weight(l.name, 'pointwise_kernel');
      if (n === 1) {
        // Keras keeps 1-D separable kernels with an extra leading axis of size 1.
        dk = e.constant(reshapeTensor(dk.const!, dk.const!.dims.slice(-3)), dk.hint);
        pk = e.constant(reshapeTensor(pk.const!, pk.const!.dims.slice(-3)), pk.hint);
      }
      const depthwise = conv(e, input, dk, undefined, { ...opts, depthwise: true });
      return conv(e, depthwise, pk, bias, { strides: new Array<number>(n).fill(1), dilations: new Array<number>(n).fill(1), padding: 'VALID' });
    }
    return conv(e, input, this.weight(l.name, 'kernel'), bias, { ...opts, groups: (c.groups as number) ?? 1 });
  }

  deconvolution(l: LayerSpec, x: Value): Value {
    const c = l.config;
    const strides = ints(c.strides, 2, 1);
    const dilations = ints(c.dilation_rate, 2, 1);
    const kernel = this.weight(l.name, 'kernel');
    const k = kernel.shape!.slice(0, 2) as number[];
    const padding = c.padding === 'same' ? 'same' : 'valid';
    const outSpatial = x.shape!.slice(1, 3).map((d, i) => {
      if (typeof d !== 'number') return null;
      return padding === 'same' ? d * strides[i]! : d * strides[i]! + Math.max(k[i]! - strides[i]!, 0);
    });
    const bias = c.use_bias === false ? undefined : this.weight(l.name, 'bias');
    return convTranspose(this.e, x, kernel, bias, { strides, dilations, padding: kerasPadding(padding) }, outSpatial);
  }

  batchNormalization(l: LayerSpec, x: Value): Value {
    const c = l.config;
    const rank = rankOf(this.e, x);
    const axisCfg = c.axis as number | number[] | undefined;
    const axis = normAxis(this.e, Array.isArray(axisCfg) ? axisCfg[0]! : (axisCfg ?? -1), rank);
    const eps = (c.epsilon as number) ?? 1e-3;
    const mean = numbers(this.weight(l.name, 'moving_mean').const!);
    const variance = numbers(this.weight(l.name, 'moving_variance').const!);
    const gamma = c.scale === false ? undefined : numbers(this.weight(l.name, 'gamma').const!);
    const beta = c.center === false ? undefined : numbers(this.weight(l.name, 'beta').const!);
    // TF.js: (x − mean) · gamma / √(var + ε) + beta, folded into one scale and offset per channel.
    const scale = Float32Array.from(mean, (_, i) => (gamma?.[i] ?? 1) / Math.sqrt(variance[i]! + eps));
    const offset = Float32Array.from(mean, (m, i) => (beta?.[i] ?? 0) - m * scale[i]!);
    return batchNorm(this.e, x, axis, scale, offset, l.name);
  }

  layerNormalization(l: LayerSpec, x: Value): Value {
    const e = this.e;
    const c = l.config;
    const rank = rankOf(e, x);
    const axisCfg = c.axis as number | number[] | undefined;
    const axes = (Array.isArray(axisCfg) ? axisCfg : [axisCfg ?? -1]).map((a) => normAxis(e, a, rank)).sort((a, b) => a - b);
    const eps = (c.epsilon as number) ?? 1e-3;
    const gamma = c.scale === false ? undefined : this.weight(l.name, 'gamma');
    const beta = c.center === false ? undefined : this.weight(l.name, 'beta');
    const trailing = axes.every((a, i) => a === rank - axes.length + i);
    if (e.opset >= 17 && trailing && gamma) {
      const inputs = [e.as(x), e.materialize(gamma)];
      if (beta) inputs.push(e.materialize(beta));
      return { name: e.op('LayerNormalization', inputs, [attr.int('axis', axes[0]!), attr.float('epsilon', eps)]), dtype: x.dtype, shape: x.shape };
    }
    const mean = reduce(e, 'ReduceMean', x, axes, true);
    const centered = elementwise(e, 'Sub', [x, mean], x.dtype, 'centered');
    const variance = reduce(e, 'ReduceMean', elementwise(e, 'Mul', [centered, centered], x.dtype, 'squared'), axes, true);
    const std = unary(e, 'Sqrt', elementwise(e, 'Add', [variance, e.constant(scalarTensor(x.dtype, eps))], x.dtype, 'var_eps'), [], x.dtype, 'std');
    let y = elementwise(e, 'Div', [centered, std], x.dtype, 'normalized');
    if (gamma) y = elementwise(e, 'Mul', [y, gamma], x.dtype, 'scale');
    if (beta) y = elementwise(e, 'Add', [y, beta], x.dtype, 'offset');
    return y;
  }

  /** LSTM / GRU / SimpleRNN as the ONNX recurrent ops; `layer` names the weights (a Bidirectional's inner layer). */
  recurrent(kind: string, layer: string, c: Config, x: Value, direction: 'forward' | 'reverse' | 'bidirectional' = c.go_backwards ? 'reverse' : 'forward', backward?: { layer: string; config: Config }): Value | Value[] {
    const e = this.e;
    if (c.stateful) throw new ConvertError(`${e.scope}: stateful recurrent layers are not supported`);
    if (kind === 'GRU' && c.reset_after) throw new ConvertError(`${e.scope}: GRU with reset_after is not supported`);
    const units = c.units as number;
    const [batch, time] = x.shape!;
    const gates = kind === 'LSTM' ? 4 : kind === 'GRU' ? 3 : 1;
    // Keras gate order → ONNX: LSTM i,f,c,o → i,o,f,c; GRU z,r,h stays.
    const order = kind === 'LSTM' ? [0, 3, 1, 2] : identity(gates);
    const dirs = direction === 'bidirectional' ? [{ layer, c }, { layer: backward!.layer, c: backward!.config }] : [{ layer, c }];
    const stack = (name: string) => {
      const parts = dirs.map((d) => reorderGates(transposeTensor(this.weight(d.layer, name).const!, [1, 0]), order, units));
      return concatFirst(parts);
    };
    const W = stack('kernel');
    const R = stack('recurrent_kernel');
    const inputs = [e.as(x, [1, 0, 2]), e.initializer(W, `${layer}/W`), e.initializer(R, `${layer}/R`)];
    if (dirs[0]!.c.use_bias !== false) {
      const biases = dirs.map((d) => {
        const b = numbers(this.weight(d.layer, 'bias').const!);
        const reordered = order.flatMap((g) => b.slice(g * units, (g + 1) * units));
        return [...reordered, ...new Array<number>(gates * units).fill(0)];
      });
      inputs.push(e.initializer(tensorOf('float32', [dirs.length, 2 * gates * units], biases.flat()), `${layer}/B`));
    }
    const acts = dirs.flatMap((d) => {
      const f = onnxActivation(kind === 'SimpleRNN' ? ((d.c.activation as string) ?? 'tanh') : ((d.c.recurrent_activation as string) ?? 'hard_sigmoid'), e.scope);
      const g = onnxActivation((d.c.activation as string) ?? 'tanh', e.scope);
      return kind === 'LSTM' ? [f, g, g] : kind === 'GRU' ? [f, g] : [f];
    });
    const attributes: Attribute[] = [attr.int('hidden_size', units), attr.string('direction', direction), { name: 'activations', type: 'strings' as const, value: acts.map((a) => new TextEncoder().encode(a.name)) }];
    const alphas = acts.filter((a) => a.alpha !== undefined);
    if (alphas.length) {
      attributes.push(attr.floats('activation_alpha', alphas.map((a) => a.alpha!)));
      attributes.push(attr.floats('activation_beta', alphas.map((a) => a.beta!)));
    }
    if (kind === 'GRU') attributes.push(attr.int('linear_before_reset', 0));
    const outs = e.node(kind === 'SimpleRNN' ? 'RNN' : kind, inputs, attributes, kind === 'LSTM' ? 3 : 2);
    const d = dirs.length;
    if (!c.return_sequences) {
      // Y_h: [directions, batch, units] → [batch, directions · units]
      const h = d === 1 ? e.op('Squeeze', [outs[1]!, e.int64s([0])], [], 'last') : e.op('Reshape', [e.op('Transpose', [outs[1]!], [attr.ints('perm', [1, 0, 2])], 'last_t'), e.int64s([0, d * units])], [], 'last');
      return { name: h, dtype: 'float32', shape: [batch!, d * units] };
    }
    // Y: [time, directions, batch, units] → [time, batch, directions · units] (logical [batch, time, …])
    let y = d === 1 ? e.op('Squeeze', [outs[0]!, e.int64s([1])], [], 'sequence') : e.op('Reshape', [e.op('Transpose', [outs[0]!], [attr.ints('perm', [0, 2, 1, 3])], 'sequence_t'), e.int64s([0, 0, d * units])], [], 'sequence');
    // Keras returns a go_backwards layer's outputs in processing order (last step first).
    if (direction === 'reverse') y = e.op('Slice', [y, e.int64s([-1]), e.int64s([-2147483648]), e.int64s([0]), e.int64s([-1])], [], 'reversed');
    return { name: y, dtype: 'float32', shape: [batch!, time!, d * units], perm: [1, 0, 2] };
  }

  bidirectional(l: LayerSpec, x: Value): Value | Value[] {
    const c = l.config;
    const inner = c.layer as Config;
    const kind = inner.class_name as string;
    const cfg = inner.config as Config;
    if (!['LSTM', 'GRU', 'SimpleRNN'].includes(kind)) throw new ConvertError(`${this.e.scope}: Bidirectional over ${kind} is not supported`);
    if ((c.merge_mode ?? 'concat') !== 'concat') throw new ConvertError(`${this.e.scope}: Bidirectional merge_mode '${String(c.merge_mode)}' is not supported (only concat)`);
    const name = cfg.name as string;
    // TF.js names the wrapped layers' weights forward_<name>/… and backward_<name>/…
    const fwd = this.find(`forward_${name}`, 'kernel') ? `forward_${name}` : `${l.name}/forward_${name}`;
    const bwd = this.find(`backward_${name}`, 'kernel') ? `backward_${name}` : `${l.name}/backward_${name}`;
    return this.recurrent(kind, fwd, cfg, x, 'bidirectional', { layer: bwd, config: cfg });
  }

  timeDistributed(l: LayerSpec, x: Value): Value | Value[] {
    const inner = l.config.layer as Config;
    const kind = inner.class_name as string;
    if (kind !== 'Dense') throw new ConvertError(`${this.e.scope}: TimeDistributed over ${kind} is not supported (only Dense)`);
    const cfg = inner.config as Config;
    // TF.js names the weights after the wrapper; Keras after the wrapped layer.
    const name = this.find(l.name, 'kernel') ? l.name : ((cfg.name as string) ?? l.name);
    return this.layer({ name, className: 'Dense', config: cfg, inbound: [] }, [x]);
  }
}

// ---- helpers -----------------------------------------------------------------------------------

function ints(v: unknown, n: number, fallback: number): number[] {
  if (v === undefined || v === null) return new Array<number>(n).fill(fallback);
  if (typeof v === 'number') return new Array<number>(n).fill(v);
  return (v as number[]).slice(0, n);
}

function pairs(v: unknown): [number, number][] {
  if (typeof v === 'number') return [[v, v], [v, v]];
  return (v as (number | number[])[]).map((p) => (typeof p === 'number' ? [p, p] : [p[0]!, p[1]!]));
}

function kerasPadding(p: unknown): Padding {
  return p === 'same' ? 'SAME' : 'VALID';
}

/** Runs a channels-last op on a Keras layer's input, relabelling channels_first data (no copy). */
function channelsLastOp(e: Emitter, c: Config, x: Value, op: (v: Value) => Value): Value {
  if (c.data_format !== 'channels_first') return op(x);
  const rank = rankOf(e, x);
  const toLast = [0, ...identity(rank - 2).map((i) => i + 2), 1];
  const y = op(transpose(e, x, toLast));
  return transpose(e, y, [0, rank - 1, ...identity(rank - 2).map((i) => i + 1)]);
}

function crop(e: Emitter, x: Value, p: [number, number][]): Value {
  const [n, h, w, ch] = x.shape!;
  if (typeof h !== 'number' || typeof w !== 'number') throw new ConvertError(`${e.scope}: Cropping2D needs fixed spatial sizes`);
  const axes = [1, 2].map((a) => (x.perm ? x.perm.indexOf(a) : a));
  const name = e.op('Slice', [e.as(x, x.perm), e.int64s([p[0]![0], p[1]![0]]), e.int64s([h - p[0]![1], w - p[1]![1]]), e.int64s(axes)]);
  return { name, dtype: x.dtype, shape: [n!, h - p[0]![0] - p[0]![1], w - p[1]![0] - p[1]![1], ch!], perm: x.perm };
}

/** Keras Reshape: the target excludes the batch, which ONNX copies (0). */
function kerasReshape(e: Emitter, x: Value, target: number[]): Value {
  const rest = x.shape!.slice(1);
  const total = rest.every((d) => typeof d === 'number') ? (rest as number[]).reduce((a, b) => a * b, 1) : undefined;
  const known = target.filter((d) => d !== -1).reduce((a, b) => a * b, 1);
  const shape: Dim[] = [x.shape![0]!, ...target.map((d) => (d === -1 ? (total !== undefined ? total / known : null) : d))];
  return { name: e.op('Reshape', [e.as(x), e.int64s([0, ...target])]), dtype: x.dtype, shape };
}

/** Keras activation name → ONNX recurrent activation (with HardSigmoid's alpha/beta as TF.js defines it). */
function onnxActivation(name: string, where: string): { name: string; alpha?: number; beta?: number } {
  switch (name.replace(/_/g, '').toLowerCase()) {
    case 'tanh':
      return { name: 'Tanh' };
    case 'sigmoid':
      return { name: 'Sigmoid' };
    case 'hardsigmoid':
      return { name: 'HardSigmoid', alpha: 0.2, beta: 0.5 };
    case 'relu':
      return { name: 'Relu' };
    case 'linear':
      return { name: 'Affine', alpha: 1, beta: 0 };
    case 'softsign':
      return { name: 'Softsign' };
    case 'softplus':
      return { name: 'Softplus' };
    case 'elu':
      return { name: 'Elu', alpha: 1, beta: 0 };
    default:
      throw new ConvertError(`${where}: recurrent activation '${name}' has no ONNX equivalent`);
  }
}

/** [gates·units, in] with gate blocks reordered, as [1, gates·units, in]. */
function reorderGates(t: Tensor, order: number[], units: number): Tensor {
  const cols = t.dims[1]!;
  const src = t.data as Float32Array;
  const out = new Float32Array(src.length);
  order.forEach((g, k) => out.set(src.subarray(g * units * cols, (g + 1) * units * cols), k * units * cols));
  return tensorOf('float32', [1, t.dims[0]!, cols], out);
}

function concatFirst(parts: Tensor[]): Tensor {
  if (parts.length === 1) return parts[0]!;
  const out = new Float32Array(parts.reduce((n, p) => n + p.size, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p.data as Float32Array, at);
    at += p.size;
  }
  return tensorOf('float32', [parts.length, ...parts[0]!.dims.slice(1)], out);
}
