/** A point in image pixels: [x, y]. */
export type Point = [number, number];

/** Axis-aligned box in pixels as corners: x1, y1 (top-left) and x2, y2 (bottom-right). */
export interface Box {
  x1: number;
  y1: number;
  x2: number;
  y2: number;
}

/**
 * The five alignment points, in this order: left eye centre, right eye centre, nose tip,
 * left mouth corner, right mouth corner ("left" = the image's left, as in the ArcFace template).
 */
export type FivePoints = [Point, Point, Point, Point, Point];

/** One raw detection, in the coordinates of whatever image/tensor the decoder was given. */
export interface Detection {
  box: Box;
  score: number;
  /** Present when the detector predicts keypoints itself (SCRFD, YuNet). */
  landmarks?: FivePoints;
}

/** Decoded RGB image, 3 bytes per pixel, row-major, no padding. */
export interface RgbImage {
  width: number;
  height: number;
  data: Uint8Array;
}
