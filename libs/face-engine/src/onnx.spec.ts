import { existsSync } from 'node:fs';
import path from 'node:path';
import * as ort from 'onnxruntime-node';
import { defaultManifest } from './face-engine';
import { OnnxModel } from './onnx';

const SHARED_MODELS = path.resolve(__dirname, '../../../../shared/models');

describe('OnnxModel.load', () => {
  it('picks a graph optimization level for a static-shape model without changing its output', async () => {
    const file = defaultManifest().embedder.file; // fr_feature: 1×3×112×112
    const tuned = await OnnxModel.load(file);
    const reference = await ort.InferenceSession.create(file, { intraOpNumThreads: 1, graphOptimizationLevel: 'disabled' });
    try {
      expect(['all', 'extended']).toContain(tuned.optimization);
      const input = Float32Array.from({ length: 3 * 112 * 112 }, (_, i) => Math.sin(i) * 0.5);
      const got = Object.values(await tuned.run(input, [1, 3, 112, 112]))[0].data;
      const want = Object.values(await reference.run({ [reference.inputNames[0]]: new ort.Tensor('float32', input, [1, 3, 112, 112]) }))[0].data as Float32Array;
      expect(got.length).toBe(want.length);
      let maxDiff = 0;
      for (let i = 0; i < got.length; i++) maxDiff = Math.max(maxDiff, Math.abs(got[i] - want[i]));
      expect(maxDiff).toBeLessThan(1e-3);
    } finally {
      await tuned.release();
      await reference.release();
    }
  });

  const dynamic = path.join(SHARED_MODELS, 'yunet_s_dynamic.onnx');
  (existsSync(dynamic) ? it : it.skip)('keeps the top level for a model whose image size is symbolic (no dummy input stands for it)', async () => {
    const model = await OnnxModel.load(dynamic);
    expect(model.optimization).toBe('all');
    await model.release();
  });
  if (!existsSync(dynamic)) console.warn(`onnx.spec: ${dynamic} is absent (../shared/models); skipping the dynamic-shape case`);
});
