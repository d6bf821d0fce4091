/**
 * The package's interface and pre/post-processing spec: inferred from the model (image-shaped input,
 * [batch, N] features, classifier or regressor output; `labels`/`feature_names` metadata), then
 * completed from meta.json beside the model (task, class_names, feature_names, mean/std), then from
 * options — each step recorded, so the manifest says where every part came from.
 */
import { inferManifest, parseManifest, type Manifest } from '../package/index.js';
import type { Model } from '../ir/index.js';

export interface ProcessingOptions {
  /** Class names by index (classifier outputs). */
  classNames?: string[];
  /** Feature names in input order ([batch, N] inputs). */
  featureNames?: string[];
  /** Image normalization: (pixel * scale - mean[c]) / std[c]. */
  imageScale?: number;
  imageMean?: number[];
  imageStd?: number[];
}

const strings = (v: unknown): string[] | undefined => (Array.isArray(v) && v.length && v.every((s) => typeof s === 'string') ? v : undefined);
const numbers = (v: unknown): number[] | undefined => (typeof v === 'number' ? [v] : Array.isArray(v) && v.length && v.every((n) => typeof n === 'number') ? v : undefined);

/**
 * The manifest's interface part for `model` (the shipped variant; `original` carries the metadata).
 * Returns it with one line per source of the spec.
 */
export function packageInterface(model: Model, original: Model, name: string, meta: Record<string, unknown> | undefined, opts: ProcessingOptions): { manifest: Manifest; from: string[] } {
  const manifest = inferManifest(model, name);
  const fromModel = inferManifest(original, name);
  manifest.preprocess = fromModel.preprocess;
  manifest.postprocess = fromModel.postprocess;
  const from: string[] = [];
  if (manifest.preprocess) from.push(`preprocess (${manifest.preprocess.kind}) inferred from input '${manifest.preprocess.input}'${original.getMetadata('feature_names') ? " and the model's feature_names metadata" : ''}`);
  if (manifest.postprocess) from.push(`postprocess (${manifest.postprocess.kind}) inferred from output '${manifest.postprocess.output}'${original.getMetadata('labels') ? " and the model's labels metadata" : ''}`);

  // meta.json fields that do not fit the interface are ignored; options that do not fit are an error.
  const apply = (where: string, v: { task?: unknown; classNames?: unknown; featureNames?: unknown; scale?: unknown; mean?: unknown; std?: unknown }, strict = false) => {
    const misfit = (option: string, needs: string) => {
      if (strict) throw new Error(`${option}: the model has no ${needs}`);
    };
    const pre = manifest.preprocess;
    const post = manifest.postprocess;
    const output = manifest.outputs.length === 1 ? manifest.outputs[0]! : undefined;
    if (v.task === 'regression' && output && post?.kind !== 'regression' && output.shape.length <= 2) {
      manifest.postprocess = { kind: 'regression', output: output.name, names: [output.name] };
      from.push(`postprocess regression: task in ${where}`);
    }
    const classNames = strings(v.classNames);
    if (classNames && manifest.postprocess?.kind === 'classification') {
      manifest.postprocess.labels = classNames;
      from.push(`class names: ${where}`);
    } else if (classNames) misfit('--class-names', 'classifier output ([batch, classes])');
    const featureNames = strings(v.featureNames);
    if (featureNames && pre?.kind === 'features') {
      pre.names = featureNames;
      from.push(`feature names: ${where}`);
    } else if (featureNames) misfit('--feature-names', 'features input ([batch, N])');
    if (pre?.kind === 'image') {
      const scale = numbers(v.scale);
      const mean = numbers(v.mean);
      const std = numbers(v.std);
      const perChannel = (x: number[]) => (x.length === 1 ? Array(pre.channels).fill(x[0]) : x);
      if (scale) pre.scale = scale[0]!;
      if (mean) pre.mean = perChannel(mean);
      if (std) pre.std = perChannel(std);
      if (scale || mean || std) from.push(`image normalization: ${where}`);
    } else if (numbers(v.scale) || numbers(v.mean) || numbers(v.std)) misfit('--image-mean/--image-std/--image-scale', 'image input');
  };
  if (meta) {
    apply('meta.json', {
      task: meta.task,
      classNames: meta.class_names,
      featureNames: meta.feature_names,
      scale: meta.scale,
      mean: meta.mean,
      std: meta.std,
    });
  }
  apply('options', { classNames: opts.classNames, featureNames: opts.featureNames, scale: opts.imageScale, mean: opts.imageMean, std: opts.imageStd }, true);
  // The manifest reader is the judge: a spec that does not fit the interface fails here, naming the field.
  parseManifest(JSON.parse(JSON.stringify(manifest)), `${name}: pre/post-processing spec`);
  return { manifest, from };
}
