/**
 * Test support shared by the engine's specs (not exported from the library): where the repository,
 * the demo photos and ../shared live, and what a plausible detected face looks like.
 */
import fs from 'node:fs';
import path from 'node:path';
import type { Detection } from './types';

/** The repository root: the nearest folder up from here holding package.json and libs/. */
export const REPO_ROOT = (() => {
  for (let dir = __dirname; ; dir = path.dirname(dir)) {
    if (fs.existsSync(path.join(dir, 'package.json')) && fs.existsSync(path.join(dir, 'libs'))) return dir;
    if (path.dirname(dir) === dir) return path.resolve(__dirname, '../../..');
  }
})();

/** ../shared beside the repository: labelled faces and extra models, absent outside this setup. */
export const SHARED_DIR = path.resolve(REPO_ROOT, '../shared');
export const SHARED_MODELS_DIR = path.join(SHARED_DIR, 'models');

/** A demo group photo of @vladmandic/face-api (sample1.jpg … sample6.jpg). */
export function demoPhoto(name: string): string {
  return path.join(REPO_ROOT, 'node_modules/@vladmandic/face-api/demo', name);
}

/**
 * Plausible face geometry: landmarks inside the box, left before right, and eyes → nose → mouth
 * along the face's own "down" (the eye line turned 90°), so that tilted heads pass too.
 */
export function expectPlausibleFace(d: Pick<Detection, 'box' | 'landmarks'>): void {
  const [le, re, nose, lm, rm] = d.landmarks!;
  for (const [x, y] of d.landmarks!) {
    expect(x).toBeGreaterThanOrEqual(d.box.x1);
    expect(x).toBeLessThanOrEqual(d.box.x2);
    expect(y).toBeGreaterThanOrEqual(d.box.y1);
    expect(y).toBeLessThanOrEqual(d.box.y2);
  }
  expect(le[0]).toBeLessThan(re[0]);
  expect(lm[0]).toBeLessThan(rm[0]);
  const down: [number, number] = [-(re[1] - le[1]), re[0] - le[0]];
  const along = (p: readonly number[]) => p[0] * down[0] + p[1] * down[1];
  const eyes = (along(le) + along(re)) / 2, mouth = (along(lm) + along(rm)) / 2;
  expect(eyes).toBeLessThan(along(nose));
  expect(along(nose)).toBeLessThan(mouth);
}
