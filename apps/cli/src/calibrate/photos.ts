import type { Dirent } from 'node:fs';
import { readdir, stat } from 'node:fs/promises';
import path from 'node:path';
import { mainFace, toErrorInfo, type FaceEngine } from '@facepipe/face-engine';
import { forEachInOrder } from '../engine';

export interface LabelledPhoto {
  /** The identity: the name of the top-level folder the photo is under. */
  identity: string;
  /** `identity/relative/path`, `/`-separated: how the output names the photo. */
  key: string;
  file: string;
}

export interface LabelledFolder {
  /** Every file under an identity folder, sorted by key: whether it is a photo is up to the decoder. */
  photos: LabelledPhoto[];
  /** Identity folders found (some may hold no photo). */
  identityFolders: number;
  /** Files directly in the folder, outside any identity folder (e.g. a README): ignored. */
  outside: number;
  /** Sub-folders that could not be read. */
  warnings: string[];
}

/**
 * The files of DIR/<identity>/**. Hidden files and folders (a name starting with ".") are skipped.
 * An identity folder may be a symbolic link; below it, symbolic links to files are taken and links
 * to folders are not followed (no cycles, no leaving the tree).
 */
export async function listLabelledPhotos(root: string): Promise<LabelledFolder> {
  const photos: LabelledPhoto[] = [];
  const warnings: string[] = [];
  let identityFolders = 0, outside = 0;

  const visit = async (identity: string, dir: string, prefix: string): Promise<void> => {
    let entries: Dirent[];
    try {
      entries = await readdir(dir, { withFileTypes: true });
    } catch (err) {
      warnings.push(`skipped folder ${prefix.slice(0, -1)}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
      return;
    }
    for (const entry of entries) {
      if (entry.name.startsWith('.')) continue;
      const file = path.join(dir, entry.name);
      if (entry.isDirectory()) await visit(identity, file, `${prefix}${entry.name}/`);
      else if (entry.isFile() || (entry.isSymbolicLink() && (await stat(file).catch(() => null))?.isFile())) {
        photos.push({ identity, key: prefix + entry.name, file });
      }
    }
  };

  for (const entry of await readdir(root, { withFileTypes: true })) {
    if (entry.name.startsWith('.')) continue;
    const file = path.join(root, entry.name);
    const isFolder = entry.isDirectory() || (entry.isSymbolicLink() && (await stat(file).catch(() => null))?.isDirectory());
    if (isFolder) {
      identityFolders++;
      await visit(entry.name, file, `${entry.name}/`);
    } else {
      outside++;
    }
  }
  photos.sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
  return { photos, identityFolders, outside, warnings };
}

export interface EmbeddedPhotos {
  /** Photos with a face, in key order: the largest face's embedding and the photo's identity. */
  faces: { key: string; identity: string; embedding: Float32Array }[];
  /** Keys of the photos that decoded but where no face was found. */
  noFace: string[];
  /** Files that could not be used (not an image, unreadable, too large), with the engine's code. */
  skipped: { key: string; code: string; message: string }[];
}

/**
 * Embeds the largest face of every photo, as `facepipe embed` / `verify` do (detect, the manifest's
 * landmarks, alignment and embedder, flip TTA as configured). A file that fails is skipped, never
 * fatal. `onProgress` is called after every photo.
 */
export async function embedLargestFaces(
  engine: FaceEngine,
  photos: readonly LabelledPhoto[],
  onProgress?: (done: number) => void,
): Promise<EmbeddedPhotos> {
  const result: EmbeddedPhotos = { faces: [], noFace: [], skipped: [] };
  type Outcome = { photo: LabelledPhoto; embedding?: Float32Array; error?: { code: string; message: string } };
  let done = 0;
  await forEachInOrder(
    photos,
    async (photo): Promise<Outcome> => {
      try {
        const image = await engine.decodeFile(photo.file);
        const face = mainFace(await engine.detect(image));
        // engine.embed of one face is exactly what analyze({embed: true}) computes for it.
        return { photo, embedding: face && (await engine.embed(image, [face]))[0] };
      } catch (err) {
        return { photo, error: toErrorInfo(err) };
      }
    },
    ({ photo, embedding, error }) => {
      if (error) result.skipped.push({ key: photo.key, ...error });
      else if (embedding) result.faces.push({ key: photo.key, identity: photo.identity, embedding });
      else result.noFace.push(photo.key);
      onProgress?.(++done);
    },
  );
  return result;
}
