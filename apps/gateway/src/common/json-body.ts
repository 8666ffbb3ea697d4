import { isUtf8 } from 'node:buffer';
import bodyParser from 'body-parser';
import type { NextFunction, Request, RequestHandler, Response } from 'express';
import { principalOf } from '../access/principal';

/**
 * The photo-submission routes (`POST /v1/collections/{c}/photos`, `POST /v1/jobs/{id}/photos`)
 * take up to 10,000 items, hence FACEPIPE_JSON_BODY_LIMIT. Express matches routes ignoring case and
 * a trailing slash, so this does too.
 */
const SUBMISSION = /^\/v1\/(collections|jobs)\/([^/]+)\/photos\/?$/i;

/**
 * Every other route's body is small: the largest, a key over 1,000 collections or an identity with
 * 16 KiB of metadata, is well under this.
 */
export const SMALL_JSON_LIMIT = 1024 * 1024;

/** Deepest nesting a body may have; metadata, the deepest field, may nest 32 levels. */
export const MAX_JSON_DEPTH = 64;
/** Most members one JSON object may have (metadata's 16 KiB cannot hold more). */
export const MAX_JSON_MEMBERS = 10_000;
/**
 * Most values (objects, arrays and comma-separated items) in one body: what JSON.parse costs
 * grows with them, not with the bytes. 10,000 submitted items take about 40,000; a gzip body of
 * 16 KB that decodes to 16 MiB of `{},{},…` holds millions and blocked the gateway for 3 s.
 */
export const MAX_JSON_VALUES = 100_000;

/**
 * The JSON body parser. It runs before the routes' guards, so what it costs any caller with a key
 * must stay small: JSON.parse of 16 MiB nested seven million levels deep, or of one object with a
 * million members, blocked the event loop (every request, probes included) for 5–13 s. So:
 * - the shape is checked on the raw bytes first (decoded, if the body came gzipped; one pass,
 *   ~3 ms per MiB): deeper than MAX_JSON_DEPTH, an object with more than MAX_JSON_MEMBERS members,
 *   or more than MAX_JSON_VALUES values in all is 400 INVALID_JSON;
 * - only the submission routes take `limit`; the others take SMALL_JSON_LIMIT (413 above);
 * - a submission body is parsed only for a caller who may submit: an issued key needs the write
 *   scope, and on `/v1/collections/{c}/photos` collection `c`. Others keep no body and get the
 *   guard's own 404/403, as before.
 */
export function jsonBodies(limit: number): RequestHandler {
  const submissions = bodyParser.json({ limit, verify: checkJsonBody });
  const small = bodyParser.json({ limit: Math.min(limit, SMALL_JSON_LIMIT), verify: checkJsonBody });
  return (req: Request, res: Response, next: NextFunction) => {
    const submission = SUBMISSION.exec(req.path);
    if (!submission) return small(req, res, next);
    if (!maySubmit(req, submission[1].toLowerCase() === 'collections' ? submission[2] : undefined)) return next();
    return submissions(req, res, next);
  };
}

function maySubmit(req: Request, collectionParam: string | undefined): boolean {
  const principal = principalOf(req);
  if (!principal || principal.kind === 'admin') return true;
  if (!principal.scopes.has('write')) return false;
  if (collectionParam === undefined) return true;
  try {
    return principal.collections.has(decodeURIComponent(collectionParam));
  } catch {
    return false; // a malformed escape: Express answers it without running the route
  }
}

/** body-parser's `verify`: runs on the raw body before JSON.parse; a thrown error's `type` picks the answer (error-mapping.ts). */
function checkJsonBody(_req: unknown, _res: unknown, body: Buffer, encoding: string): void {
  // JSON travels in UTF-8 (RFC 8259). Unchecked, other bytes would decode to U+FFFD and be stored mangled.
  if (encoding.toLowerCase() !== 'utf-8') throw Object.assign(new Error(`JSON must be UTF-8, not ${encoding}`), { type: 'charset.unsupported' });
  if (!isUtf8(body)) throw Object.assign(new Error('The JSON body is not valid UTF-8'), { type: 'charset.unsupported' });
  const problem = jsonShapeProblem(body);
  if (problem) throw Object.assign(new Error(problem), { type: 'json.too.complex' });
}

const QUOTE = 0x22, BACKSLASH = 0x5c, COLON = 0x3a, COMMA = 0x2c, OPEN_OBJECT = 0x7b, CLOSE_OBJECT = 0x7d, OPEN_ARRAY = 0x5b, CLOSE_ARRAY = 0x5d;

/**
 * Why `body` is too deep or too wide to parse, or null. A lexical pass: brackets and colons outside
 * strings. Malformed JSON passes through to JSON.parse, which names the syntax error.
 */
export function jsonShapeProblem(body: Uint8Array): string | null {
  // members[d]: colons seen in the object open at depth d (-1 for an array).
  const members: number[] = [];
  let values = 0;
  let inString = false;
  for (let i = 0; i < body.length; i++) {
    const c = body[i];
    if (inString) {
      if (c === BACKSLASH) i++;
      else if (c === QUOTE) inString = false;
      continue;
    }
    if (c === QUOTE) inString = true;
    else if (c === OPEN_OBJECT || c === OPEN_ARRAY || c === COMMA) {
      if (++values > MAX_JSON_VALUES) return `The JSON body holds more than ${MAX_JSON_VALUES} values`;
      if (c === COMMA) continue;
      if (members.length === MAX_JSON_DEPTH) return `The JSON body nests deeper than ${MAX_JSON_DEPTH} levels`;
      members.push(c === OPEN_OBJECT ? 0 : -1);
    } else if (c === CLOSE_OBJECT || c === CLOSE_ARRAY) members.pop();
    else if (c === COLON && members.length > 0 && members[members.length - 1] >= 0) {
      if (++members[members.length - 1] > MAX_JSON_MEMBERS) return `A JSON object in the body has more than ${MAX_JSON_MEMBERS} members`;
    }
  }
  return null;
}
