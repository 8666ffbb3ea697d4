import { EmbeddedFaceIndex } from './embedded/embedded-face-index';
import type { EmbeddedFaceIndexOptions } from './embedded/embedded-options';
import type { FaceIndex } from './face-index';
import { QdrantFaceIndex } from './qdrant/qdrant-face-index';
import type { QdrantFaceIndexOptions } from './qdrant/qdrant-options';

/** Which backend to open, with its options (FACE_INDEX selects `backend`). */
export type OpenFaceIndexOptions =
  | ({ backend: 'embedded'; dir: string } & EmbeddedFaceIndexOptions)
  | ({ backend: 'qdrant' } & QdrantFaceIndexOptions);

/** Opens the configured face index; callers see only the FaceIndex interface. */
export async function openFaceIndex(options: OpenFaceIndexOptions): Promise<FaceIndex> {
  if (options.backend === 'qdrant') return QdrantFaceIndex.open(options);
  return EmbeddedFaceIndex.open(options.dir, options);
}
