/**
 * Graph-model ops the human-models do not exercise, in small hand-written GraphDefs run by TF.js
 * itself: detection post-processing (NonMaxSuppression V3/V4/V5, Where, TopKV2, GatherNd) and
 * indexing/arithmetic on channels-first values (StridedSlice masks, SplitV, Unpack, MirrorPad,
 * FloorDiv/FloorMod on integers, Atan2, SelectV2).
 */
import { describe, expect, it } from 'vitest';
import { convertTfjs, type TfjsArtifacts } from '../../src/index.js';

type Attr = Record<string, unknown>;
interface NodeSpec {
  name: string;
  op: string;
  input?: string[];
  attr?: Attr;
}

const F = { type: 'DT_FLOAT' };
const I = { type: 'DT_INT32' };
const ints = (...v: number[]) => ({ list: { i: v.map(String) } });
const int = (v: number) => ({ i: String(v) });
const str = (v: string) => ({ s: Buffer.from(v).toString('base64') });
const shape = (...dims: number[]) => ({ shape: { dim: dims.map((d) => ({ size: String(d) })) } });

/** A TF.js Graph model from nodes and constants (constants travel as weights, as the TF.js converter stores them). */
function graphModel(nodes: NodeSpec[], consts: Record<string, { dtype: 'float32' | 'int32'; shape: number[]; values: number[] }>, inputs: Record<string, [string, number[]]>, outputs: string[]): TfjsArtifacts {
  const constNodes = Object.entries(consts).map(([name, c]) => ({ name, op: 'Const', attr: { dtype: c.dtype === 'float32' ? F : I, value: { tensor: { dtype: c.dtype === 'float32' ? 'DT_FLOAT' : 'DT_INT32', tensorShape: { dim: c.shape.map((d) => ({ size: String(d) })) } } } } }));
  const placeholders = Object.entries(inputs).map(([name, [dtype, dims]]) => ({ name, op: 'Placeholder', attr: { dtype: { type: dtype }, shape: shape(...dims) } }));
  const data = Buffer.concat(Object.values(consts).map((c) => Buffer.from((c.dtype === 'float32' ? Float32Array.from(c.values) : Int32Array.from(c.values)).buffer)));
  return {
    format: 'graph-model',
    modelTopology: { node: [...placeholders, ...constNodes, ...nodes], library: {}, versions: {} },
    weightSpecs: Object.entries(consts).map(([name, c]) => ({ name, shape: c.shape, dtype: c.dtype })),
    weightData: new Uint8Array(data).buffer,
    signature: {
      inputs: Object.fromEntries(Object.entries(inputs).map(([name, [dtype, dims]]) => [`${name}:0`, { name: `${name}:0`, dtype, tensorShape: shape(...dims).shape }])),
      outputs: Object.fromEntries(outputs.map((o) => [o.includes(':') ? o : `${o}:0`, { name: o.includes(':') ? o : `${o}:0` }])),
    },
  };
}

describe('hand-written Graph models match TF.js', () => {
  it('detection post-processing: NonMaxSuppression V3/V4 (padded)/V5, Where, TopKV2, GatherNd, GatherV2', async () => {
    const model = graphModel(
      [
        { name: 'nms5', op: 'NonMaxSuppressionV5', input: ['boxes', 'scores', 'max4', 'iou5', 'thr2', 'sigma0'], attr: { T: F, pad_to_max_output_size: { b: false } } },
        { name: 'nms4', op: 'NonMaxSuppressionV4', input: ['boxes', 'scores', 'max5', 'iou4', 'thr1'], attr: { T: F, pad_to_max_output_size: { b: true } } },
        { name: 'nms3', op: 'NonMaxSuppressionV3', input: ['boxes', 'scores', 'max4', 'iou5', 'thr1'], attr: { T: F } },
        { name: 'picked', op: 'GatherV2', input: ['boxes', 'nms3', 'axis0'], attr: { Tparams: F, Tindices: I, Taxis: I, batch_dims: int(0) } },
        { name: 'high', op: 'Greater', input: ['scores', 'half'], attr: { T: F } },
        { name: 'where', op: 'Where', input: ['high'], attr: { T: { type: 'DT_BOOL' } } },
        { name: 'high_boxes', op: 'GatherNd', input: ['boxes', 'where'], attr: { Tparams: F, Tindices: { type: 'DT_INT64' } } },
        { name: 'top', op: 'TopKV2', input: ['scores', 'k3'], attr: { T: F, sorted: { b: true } } },
      ],
      {
        max4: { dtype: 'int32', shape: [], values: [4] },
        max5: { dtype: 'int32', shape: [], values: [5] },
        iou5: { dtype: 'float32', shape: [], values: [0.5] },
        iou4: { dtype: 'float32', shape: [], values: [0.4] },
        thr2: { dtype: 'float32', shape: [], values: [0.2] },
        thr1: { dtype: 'float32', shape: [], values: [0.1] },
        sigma0: { dtype: 'float32', shape: [], values: [0] },
        axis0: { dtype: 'int32', shape: [], values: [0] },
        half: { dtype: 'float32', shape: [], values: [0.5] },
        k3: { dtype: 'int32', shape: [], values: [3] },
      },
      { boxes: ['DT_FLOAT', [12, 4]], scores: ['DT_FLOAT', [12]] },
      ['nms5:0', 'nms5:1', 'nms4:0', 'nms4:1', 'picked', 'where', 'high_boxes', 'top:0', 'top:1'],
    );
    const { report } = await convertTfjs(model);
    expect(report.verify!.passed).toBe(true);
    expect(report.opCounts).toMatchObject({ NonMaxSuppression: 3, NonZero: 1, GatherND: 1, TopK: 1 });
    // Padded V4 output has the fixed size TF.js gives it.
    expect(report.verify!.outputs.find((o) => o.name === 'nms4:0')!.shape).toEqual([5]);
  });

  it('indexing and arithmetic on a convolution output (channels-first inside): StridedSlice masks, SplitV, Unpack, MirrorPad, integer FloorDiv/FloorMod, Atan2, SelectV2', async () => {
    const filter = Array.from({ length: 5 * 5 }, (_, i) => ((i * 7) % 11) / 10 - 0.5);
    const model = graphModel(
      [
        { name: 'conv', op: 'Conv2D', input: ['x', 'filter'], attr: { T: F, strides: ints(1, 1, 1, 1), padding: str('VALID'), data_format: str('NHWC'), dilations: ints(1, 1, 1, 1) } },
        // conv[..., 1:3]
        { name: 'last_two', op: 'StridedSlice', input: ['conv', 'b_e', 'e_e', 's_e'], attr: { T: F, Index: I, begin_mask: int(0), end_mask: int(0), ellipsis_mask: int(1), new_axis_mask: int(0), shrink_axis_mask: int(0) } },
        // conv[:, 2:0:-1] (TF.js itself fails on reversed slices that also shrink an axis)
        { name: 'reversed', op: 'StridedSlice', input: ['conv', 'b_r', 'e_r', 's_r'], attr: { T: F, Index: I, begin_mask: int(1), end_mask: int(1), ellipsis_mask: int(0), new_axis_mask: int(0), shrink_axis_mask: int(0) } },
        // conv[1, newaxis, :, 1:3]
        { name: 'picked', op: 'StridedSlice', input: ['conv', 'b_p', 'e_p', 's_p'], attr: { T: F, Index: I, begin_mask: int(4), end_mask: int(4), ellipsis_mask: int(0), new_axis_mask: int(2), shrink_axis_mask: int(1) } },
        { name: 'parts', op: 'SplitV', input: ['conv', 'sizes', 'axis_last'], attr: { T: F, Tlen: I, num_split: int(2) } },
        { name: 'rows', op: 'Unpack', input: ['conv'], attr: { T: F, num: int(3), axis: int(1) } },
        { name: 'mirrored', op: 'MirrorPad', input: ['conv', 'paddings'], attr: { T: F, Tpaddings: I, mode: str('REFLECT') } },
        { name: 'mean_hw', op: 'Mean', input: ['conv', 'axes_hw'], attr: { T: F, Tidx: I, keep_dims: { b: false } } },
        { name: 'scaled', op: 'Mul', input: ['conv', 'ten'], attr: { T: F } },
        { name: 'ints', op: 'Cast', input: ['scaled'], attr: { SrcT: F, DstT: I, Truncate: { b: false } } },
        { name: 'fdiv', op: 'FloorDiv', input: ['ints', 'three'], attr: { T: I } },
        { name: 'fmod', op: 'FloorMod', input: ['ints', 'minus_four'], attr: { T: I } },
        { name: 'shifted', op: 'Sub', input: ['ten', 'conv'], attr: { T: F } },
        { name: 'angle', op: 'Atan2', input: ['conv', 'shifted'], attr: { T: F } },
        { name: 'positive', op: 'Greater', input: ['conv', 'zero'], attr: { T: F } },
        { name: 'leaky', op: 'Mul', input: ['conv', 'tenth'], attr: { T: F } },
        { name: 'select', op: 'SelectV2', input: ['positive', 'conv', 'leaky'], attr: { T: F } },
      ],
      {
        filter: { dtype: 'float32', shape: [1, 1, 5, 5], values: filter },
        b_e: { dtype: 'int32', shape: [2], values: [0, 1] },
        e_e: { dtype: 'int32', shape: [2], values: [0, 3] },
        s_e: { dtype: 'int32', shape: [2], values: [1, 1] },
        b_r: { dtype: 'int32', shape: [2], values: [0, 2] },
        e_r: { dtype: 'int32', shape: [2], values: [0, 0] },
        s_r: { dtype: 'int32', shape: [2], values: [1, -1] },
        b_p: { dtype: 'int32', shape: [4], values: [1, 0, 0, 1] },
        e_p: { dtype: 'int32', shape: [4], values: [2, 0, 0, 3] },
        s_p: { dtype: 'int32', shape: [4], values: [1, 1, 1, 1] },
        sizes: { dtype: 'int32', shape: [2], values: [1, -1] },
        axis_last: { dtype: 'int32', shape: [], values: [-1] },
        paddings: { dtype: 'int32', shape: [4, 2], values: [0, 0, 1, 1, 2, 2, 0, 0] },
        axes_hw: { dtype: 'int32', shape: [2], values: [1, 2] },
        ten: { dtype: 'float32', shape: [], values: [10] },
        three: { dtype: 'int32', shape: [], values: [3] },
        minus_four: { dtype: 'int32', shape: [], values: [-4] },
        zero: { dtype: 'float32', shape: [], values: [0] },
        tenth: { dtype: 'float32', shape: [], values: [0.1] },
      },
      { x: ['DT_FLOAT', [2, 3, 4, 5]] },
      ['last_two', 'reversed', 'picked', 'parts:0', 'parts:1', 'rows:0', 'rows:2', 'mirrored', 'mean_hw', 'fdiv', 'fmod', 'angle', 'select'],
    );
    const { report } = await convertTfjs(model);
    expect(report.verify!.passed).toBe(true);
    const shapes = Object.fromEntries(report.verify!.outputs.map((o) => [o.name, o.shape]));
    expect(shapes).toMatchObject({ 'last_two:0': [2, 3, 4, 2], 'reversed:0': [2, 2, 4, 5], 'picked:0': [1, 3, 2, 5], 'parts:1': [2, 3, 4, 4], 'rows:2': [2, 4, 5], 'mirrored:0': [2, 5, 8, 5], 'mean_hw:0': [2, 5] });
  });
});
