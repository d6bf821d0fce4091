/** Building, training and saving small TF.js models for the converter tests. */
import * as fs from 'node:fs';
import * as path from 'node:path';
import type * as Tf from '@tensorflow/tfjs';
import type { TfjsArtifacts } from '../../src/convert/index.js';
import { tfjsOn } from '../../src/convert/tfjs/verify.js';

export async function tfjs(): Promise<typeof Tf> {
  return tfjsOn('cpu');
}

/** The model as in-memory artifacts (TF.js's own save path, through an IOHandler). */
export async function saveToMemory(model: Tf.LayersModel): Promise<TfjsArtifacts> {
  const tf = await tfjs();
  let saved: Tf.io.ModelArtifacts | undefined;
  await model.save(
    tf.io.withSaveHandler(async (artifacts) => {
      saved = artifacts;
      return { modelArtifactsInfo: { dateSaved: new Date(), modelTopologyType: 'JSON' } };
    }),
  );
  return saved as TfjsArtifacts;
}

/** Writes artifacts as model.json plus weight shards of at most `shardBytes` (as tfjs's file handlers lay them out). */
export function writeModelJson(dir: string, artifacts: TfjsArtifacts, shardBytes = Infinity): string {
  fs.mkdirSync(dir, { recursive: true });
  const data = new Uint8Array(Array.isArray(artifacts.weightData) ? Buffer.concat(artifacts.weightData.map((b) => new Uint8Array(b))) : artifacts.weightData!);
  const paths: string[] = [];
  const count = Math.max(1, Math.ceil(data.byteLength / shardBytes));
  for (let i = 0; i < count; i++) {
    const file = `group1-shard${i + 1}of${count}.bin`;
    fs.writeFileSync(path.join(dir, file), data.subarray(i * shardBytes, Math.min(data.byteLength, (i + 1) * shardBytes)));
    paths.push(file);
  }
  const json = {
    format: artifacts.format,
    generatedBy: artifacts.generatedBy,
    convertedBy: artifacts.convertedBy,
    modelTopology: artifacts.modelTopology,
    weightsManifest: [{ paths, weights: artifacts.weightSpecs }],
  };
  const file = path.join(dir, 'model.json');
  fs.writeFileSync(file, JSON.stringify(json));
  return file;
}

/** Trains `model` for a few epochs on seeded data so its weights (and BatchNorm statistics) are not initial. */
export async function trainBriefly(model: Tf.LayersModel, x: Tf.Tensor, y: Tf.Tensor, loss = 'categoricalCrossentropy', epochs = 3): Promise<number[]> {
  model.compile({ optimizer: 'adam', loss });
  const history = await model.fit(x, y, { epochs, batchSize: 16, shuffle: false, verbose: 0 });
  return history.history.loss as number[];
}
