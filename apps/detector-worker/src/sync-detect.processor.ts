import { QUEUES, encodeBytes, faceId, type DetectResult, type PhotoSource, type SyncDetectJob, type SyncEmbedJob } from '@facepipe/contracts';
import { type Face, FaceEngine, FaceEngineError, type FaceEngineErrorCode, type RgbImage, mainFace } from '@facepipe/face-engine';
import { PhotoFetcher, RequestError, SYNC_JOB_OPTIONS, callerGaveUp, failSyncCall, sendReply, type Metrics, type Queues, type ThumbnailStore } from '@facepipe/pipeline';
import type { Job } from 'bullmq';
import type { Redis } from 'ioredis';
import { isPermanent } from './detect.processor';

/** Engine errors of the input, with the status the caller gets; the others (model, inference) are ours: 5xx, retried. */
const INPUT_ERROR_STATUS: Partial<Record<FaceEngineErrorCode, number>> = {
  FILE_NOT_FOUND: 404,
  FILE_UNREADABLE: 422,
  IMAGE_EMPTY: 422,
  UNSUPPORTED_IMAGE_FORMAT: 415,
  IMAGE_DECODE_FAILED: 422,
  IMAGE_TOO_LARGE: 413,
};

interface Found {
  image: RgbImage;
  faces: Face[];
}

/**
 * The detect stage of a synchronous call (PRIORITY.sync). It answers `detect` itself; for the
 * others it picks the faces the call needs, aligns them and hands the crops to the embed queue:
 * verify the largest face of each photo (both photos ride one job, so one detector call serves
 * them), search every face, enrol the largest face (or all of them) if good enough. Bad input is
 * answered at once with its 4xx (NO_FACE, FACE_QUALITY_TOO_LOW, IMAGE_DECODE_FAILED…).
 */
export class SyncDetectProcessor {
  constructor(
    private readonly engine: FaceEngine,
    private readonly fetcher: PhotoFetcher,
    private readonly queues: Queues,
    private readonly redis: Redis,
    private readonly prefix: string,
    private readonly metrics?: Metrics,
    /** Enrolled faces get a thumbnail too, like ingested ones. */
    private readonly thumbnails?: ThumbnailStore,
  ) {}

  async process(job: Job<SyncDetectJob>): Promise<unknown> {
    const { request } = job.data;
    // Queued longer than its caller waited (a backlog): nobody reads the answer any more.
    if (callerGaveUp(request)) return { skipped: 'CALLER_GAVE_UP' };
    try {
      switch (request.op) {
        case 'detect':
          return await this.detect(job.data);
        case 'verify':
          return await this.verify(job.data, request.b);
        case 'search':
          return await this.search(job.data);
        case 'enroll':
          return await this.enroll(job.data, request.all, request.minQuality);
      }
    } catch (err) {
      const e = asRequestError(err);
      return failSyncCall(this.redis, this.prefix, job, request.id, e, isPermanent(err) || (e instanceof RequestError && e.status < 500));
    }
  }

  private async detect(data: SyncDetectJob): Promise<{ faces: number }> {
    const { image, faces } = await this.find(data.source);
    const result: DetectResult = {
      width: image.width,
      height: image.height,
      faces: faces.map((f) => ({ box: boxOf(f), score: f.score, landmarks: f.landmarks, quality: f.quality })),
    };
    await sendReply(this.redis, this.prefix, data.request.id, { ok: true, result });
    return { faces: faces.length };
  }

  private async verify(data: SyncDetectJob, b: PhotoSource): Promise<{ faces: number }> {
    const [fa, fb] = await Promise.all([this.find(data.source), this.find(b)]);
    for (const [name, found] of [['a', fa], ['b', fb]] as const) {
      if (found.faces.length === 0) throw new RequestError(422, 'NO_FACE', `No face found in photo ${name}`);
    }
    const a = mainFace(fa.faces)!, bb = mainFace(fb.faces)!;
    const picked = [
      { image: fa.image, face: a, index: fa.faces.indexOf(a) },
      { image: fb.image, face: bb, index: fb.faces.indexOf(bb) },
    ];
    await this.forward(data, fa.image, picked, { a: fa.faces.length, b: fb.faces.length });
    return { faces: 2 };
  }

  private async search(data: SyncDetectJob): Promise<{ faces: number }> {
    const { image, faces } = await this.find(data.source);
    if (faces.length === 0) {
      // Nothing to compare: the answer is known here.
      const threshold = data.request.op === 'search' ? data.request.threshold : 0;
      await sendReply(this.redis, this.prefix, data.request.id, { ok: true, result: { faces: [], threshold } });
      return { faces: 0 };
    }
    await this.forward(data, image, faces.map((face, index) => ({ image, face, index })));
    return { faces: faces.length };
  }

  private async enroll(data: SyncDetectJob, all: boolean, minQuality: number): Promise<{ faces: number }> {
    const { image, faces } = await this.find(data.source);
    if (faces.length === 0) throw new RequestError(422, 'NO_FACE', 'No face found in the photo');
    // Without `all`: the largest face that passes the floor (a bystander's bigger, poorer face does not hide it).
    const good = (all ? faces : [mainFace(faces, minQuality)!]).filter((f) => f.quality >= minQuality);
    if (good.length === 0) {
      const best = Math.max(...faces.map((f) => f.quality));
      throw new RequestError(
        422,
        'FACE_QUALITY_TOO_LOW',
        `The best face has quality ${best.toFixed(2)}, below the enrolment floor ${minQuality} (FACEPIPE_ENROLL_MIN_QUALITY): send a sharper, frontal photo`,
      );
    }
    await this.forward(data, image, good.map((face) => ({ image, face, index: faces.indexOf(face) })), undefined, true);
    return { faces: good.length };
  }

  private async find(source: PhotoSource): Promise<Found> {
    const image = await this.engine.decode(await this.fetcher.fetch(source));
    const stop = this.metrics?.modelSeconds.startTimer({ model: 'detect' });
    const faces = await this.engine.detect(image);
    stop?.();
    return { image, faces };
  }

  /** Aligns the picked faces and adds the embed job (the request id is its job id: a retry adds nothing twice). */
  private async forward(
    data: SyncDetectJob,
    image: RgbImage,
    picked: { image: RgbImage; face: Face; index: number }[],
    photoFaces?: { a: number; b: number },
    thumbnails = false,
  ): Promise<void> {
    const crops = await Promise.all(picked.map((p) => this.engine.align(p.image, p.face.landmarks)));
    if (thumbnails) {
      await this.thumbnails?.putMany(data.collection, crops.map((crop, i) => ({ faceId: faceId(data.collection, data.key, picked[i].index), crop })));
    }
    const embed: SyncEmbedJob = {
      jobId: data.jobId,
      collection: data.collection,
      key: data.key,
      width: image.width,
      height: image.height,
      faces: picked.map((p, i) => ({
        index: p.index,
        box: boxOf(p.face),
        score: p.face.score,
        quality: p.face.quality,
        landmarks: p.face.landmarks,
        crop: encodeBytes(crops[i].data),
      })),
      request: data.request,
      ...(photoFaces ? { photoFaces } : {}),
    };
    await this.queues.get(QUEUES.embed).add('embed', embed, { ...SYNC_JOB_OPTIONS, jobId: data.request.id });
  }
}

function boxOf(f: Face): [number, number, number, number] {
  return [f.box.x1, f.box.y1, f.box.x2 - f.box.x1, f.box.y2 - f.box.y1];
}

/** Engine errors of the input become the caller's 4xx; everything else passes as it is. */
function asRequestError(err: unknown): unknown {
  if (err instanceof FaceEngineError) {
    const status = INPUT_ERROR_STATUS[err.code];
    return status ? new RequestError(status, err.code, err.message) : err;
  }
  return err;
}
