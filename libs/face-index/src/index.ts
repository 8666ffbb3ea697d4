export * from './face-index';
export * from './errors';
export {
  COLLECTION_NAME, FILTER_FIELDS, MAX_DIMENSIONS, MAX_K, MAX_SCROLL_LIMIT, type FilterField,
} from './validation';
export { EmbeddedFaceIndex } from './embedded/embedded-face-index';
export { EMBEDDED_INDEX_DEFAULTS } from './embedded/embedded-options';
export type { EmbeddedFaceIndexOptions, EmbeddedSearchOptions, FaceIndexEvent } from './embedded/embedded-options';
export type { HnswQuantization } from './embedded/hnsw';
export { Projection } from './embedded/projection';
export { QdrantFaceIndex } from './qdrant/qdrant-face-index';
export { QDRANT_INDEX_DEFAULTS, type QdrantFaceIndexOptions } from './qdrant/qdrant-options';
export { openFaceIndex, type OpenFaceIndexOptions } from './open-face-index';
