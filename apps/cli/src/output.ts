import type { EmbeddedFace, Face, PhotoFaces } from '@facepipe/face-engine';

/** The CLI's JSON shape of one face: box as [x, y, w, h] in source pixels. */
export interface FaceJson {
  box: [number, number, number, number];
  score: number;
  landmarks: [number, number][];
  quality: number;
  embedding?: number[];
}

const round = (v: number, digits: number) => Number(v.toFixed(digits));

export function faceToJson(face: Face | EmbeddedFace): FaceJson {
  const { x1, y1, x2, y2 } = face.box;
  const json: FaceJson = {
    box: [round(x1, 1), round(y1, 1), round(x2 - x1, 1), round(y2 - y1, 1)],
    score: round(face.score, 4),
    landmarks: face.landmarks.map(([x, y]) => [round(x, 1), round(y, 1)]),
    quality: round(face.quality, 4),
  };
  if ('embedding' in face) json.embedding = Array.from(face.embedding, (v) => round(v, 6));
  return json;
}

export function photoLine(file: string, photo: PhotoFaces<Face | EmbeddedFace>): string {
  return JSON.stringify({ file, width: photo.width, height: photo.height, faces: photo.faces.map(faceToJson) });
}

export function errorLine(file: string, error: { code: string; message: string }): string {
  return JSON.stringify({ file, error });
}

/** Short human summary of one photo. */
export function photoText(file: string, photo: PhotoFaces<Face | EmbeddedFace>): string {
  const n = photo.faces.length;
  const lines = [`${file}: ${n} face${n === 1 ? '' : 's'} (${photo.width}×${photo.height})`];
  photo.faces.forEach((f, i) => {
    const [x, y, w, h] = faceToJson(f).box;
    lines.push(`  #${i + 1} at ${Math.round(x)},${Math.round(y)} size ${Math.round(w)}×${Math.round(h)}  score ${f.score.toFixed(2)}  quality ${f.quality.toFixed(2)}`);
  });
  return lines.join('\n');
}
