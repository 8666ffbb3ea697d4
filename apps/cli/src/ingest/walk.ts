import type { Dirent } from 'node:fs';
import { readdir, stat } from 'node:fs/promises';
import path from 'node:path';
import { ENROLL_PHOTO_KEY, PHOTO_KEY } from '@facepipe/contracts';

/** Photo extensions `facepipe ingest` picks up, compared case-insensitively. */
export const PHOTO_EXTENSIONS: ReadonlySet<string> = new Set(['.jpg', '.jpeg', '.png', '.webp', '.avif', '.tif', '.tiff', '.gif']);

/**
 * The keys the gateway takes (PHOTO_KEY: 1–512 characters, no control characters, valid Unicode,
 * so no U+FFFD, which is what a file name that is not UTF-8 becomes), except enrolments' own.
 */
export function isValidKey(key: string): boolean {
  return PHOTO_KEY.test(key) && !ENROLL_PHOTO_KEY.test(key);
}

export interface Photo {
  /** Path relative to the walked folder, `/`-separated: the photo's key in the collection. */
  key: string;
  /** Absolute path (under the walked folder's real path). */
  file: string;
  size: number;
}

export interface WalkResult {
  photos: Photo[];
  /** Things left out that the user should hear about (unreadable folders, unusable names). */
  warnings: string[];
}

export function isPhotoName(name: string): boolean {
  return !name.startsWith('.') && PHOTO_EXTENSIONS.has(path.extname(name).toLowerCase());
}

/**
 * Finds the photos under `root`, recursively, sorted by key. Hidden files and folders (a name
 * starting with ".") are skipped; symbolic links to files are taken, symbolic links to folders are
 * not followed (no cycles, no leaving the tree). `root` itself may be a symbolic link.
 */
export async function walkPhotos(root: string): Promise<WalkResult> {
  const photos: Photo[] = [];
  const warnings: string[] = [];
  const visit = async (dir: string, prefix: string): Promise<void> => {
    let entries: Dirent[];
    try {
      entries = await readdir(dir, { withFileTypes: true });
    } catch (err) {
      if (prefix === '') throw err; // the root itself: the caller reports it
      warnings.push(`skipped folder ${prefix.slice(0, -1)}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
      return;
    }
    for (const entry of entries) {
      if (entry.name.startsWith('.')) continue;
      const file = path.join(dir, entry.name);
      const key = prefix + entry.name;
      if (entry.isDirectory()) {
        await visit(file, key + '/');
        continue;
      }
      if (!isPhotoName(entry.name)) continue;
      let size: number;
      if (entry.isFile()) {
        size = (await stat(file).catch(() => null))?.size ?? 0;
      } else if (entry.isSymbolicLink()) {
        const target = await stat(file).catch(() => null); // follows the link; null when dangling
        if (!target) {
          warnings.push(`skipped ${JSON.stringify(key)}: a symbolic link to nothing`);
          continue;
        }
        if (!target.isFile()) continue; // a link to a folder: not followed (see above)
        size = target.size;
      } else {
        warnings.push(`skipped ${JSON.stringify(key)}: not a regular file (a named pipe, socket or device)`);
        continue;
      }
      if (!isValidKey(key)) {
        warnings.push(`skipped ${JSON.stringify(key)}: a key must be 1-512 characters of valid UTF-8 without control characters, and not enroll/<identity id>/… (enrolments' own)`);
        continue;
      }
      photos.push({ key, file, size });
    }
  };
  await visit(root, '');
  photos.sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
  return { photos, warnings };
}
