import { createHash } from 'node:crypto';

/**
 * The pure part of re-clustering: DBSCAN over precomputed neighbour lists, then person ids for the
 * clusters that keep every manual decision. No index, no I/O: the processor gathers the
 * neighbours (ANN search per face) and applies the outcome.
 */

/** One unknown face taking part: its current person and whether a human decided it (merge, move). */
export interface ClusterPoint {
  id: string;
  personId?: string;
  pinned: boolean;
}

/** A neighbour of a point: its index in the point list and the cosine similarity. */
export interface Neighbour {
  j: number;
  s: number;
}

/**
 * Makes neighbour lists symmetric (ANN search with a bounded k is not), drops self-links and
 * duplicates, and sorts each list by similarity, best first.
 */
export function symmetrise(lists: Neighbour[][]): Neighbour[][] {
  const maps = lists.map(() => new Map<number, number>());
  lists.forEach((list, i) => {
    for (const { j, s } of list) {
      if (j === i) continue;
      maps[i].set(j, Math.max(s, maps[i].get(j) ?? -Infinity));
      maps[j].set(i, Math.max(s, maps[j].get(i) ?? -Infinity));
    }
  });
  return maps.map((m) => [...m].map(([j, s]) => ({ j, s })).sort((a, b) => b.s - a.s || a.j - b.j));
}

/**
 * DBSCAN labels: a point with at least `minFaces - 1` neighbours (within eps: the caller keeps only
 * those) is a core point; core points linked by a neighbour relation form one cluster; a non-core
 * point joins the cluster of its most similar core neighbour (a border point) or stays noise (-1).
 * Clusters are numbered in the order of their first point, so the result depends only on the input.
 */
export function dbscan(neighbours: Neighbour[][], minFaces: number): Int32Array {
  const n = neighbours.length;
  const labels = new Int32Array(n).fill(-1);
  const core = neighbours.map((list) => list.length + 1 >= minFaces);
  let next = 0;
  for (let i = 0; i < n; i++) {
    if (!core[i] || labels[i] !== -1) continue;
    const label = next++;
    labels[i] = label;
    const stack = [i];
    while (stack.length > 0) {
      const p = stack.pop()!;
      for (const { j } of neighbours[p]) {
        if (!core[j] || labels[j] !== -1) continue;
        labels[j] = label;
        stack.push(j);
      }
    }
  }
  for (let i = 0; i < n; i++) {
    if (core[i]) continue;
    const best = neighbours[i].find(({ j }) => core[j]); // lists are best first
    if (best) labels[i] = labels[best.j];
  }
  return labels;
}

/**
 * The person of every point after clustering, keeping the manual decisions:
 * - a pinned face keeps its person;
 * - the unpinned faces of a cluster take the person most of them had, unless a bigger cluster took
 *   it first (a person that split: its larger part keeps the id), or pinned faces hold it and
 *   none of them is in this cluster (the faces had the id from an earlier, looser recluster, and
 *   keeping it would join two clusters into one person). Otherwise they get a new id derived
 *   from their smallest face id (deterministic), one no other cluster has;
 * - pinned faces never pull the other faces of their cluster into their person: a face a human
 *   moved out of a person still clusters with that person's faces, which must not follow it into
 *   the person it was moved to (a wrong merge is worse than a split);
 * - noise faces are people of their own, under the same rules.
 */
export function assignPersons(points: ClusterPoint[], labels: Int32Array): string[] {
  const groups = new Map<number, number[]>();
  let noise = -1;
  points.forEach((_, i) => {
    const key = labels[i] >= 0 ? labels[i] : noise--; // each noise point its own group
    let g = groups.get(key);
    if (!g) groups.set(key, (g = []));
    g.push(i);
  });
  const claimed = new Set<string>();
  const isPinned = (i: number) => points[i].pinned && !!points[i].personId;
  const pinnedPersons = new Set(points.filter((_, i) => isPinned(i)).map((p) => p.personId!));
  const taken = (id: string) => claimed.has(id) || pinnedPersons.has(id);
  const out = points.map((p) => p.personId ?? '');
  // Biggest groups first: when a person split, its larger part keeps the id.
  const ordered = [...groups.values()].sort((a, b) => b.length - a.length || minId(points, a).localeCompare(minId(points, b)));
  for (const members of ordered) {
    const free = members.filter((i) => !isPinned(i));
    if (free.length === 0) continue;
    const candidate = majority(free.map((i) => points[i].personId).filter((p): p is string => !!p));
    const withItsPinned = members.some((i) => isPinned(i) && points[i].personId === candidate);
    const keep = candidate !== undefined && !claimed.has(candidate) && (withItsPinned || !pinnedPersons.has(candidate));
    const person = keep ? candidate : freshPersonId(minId(points, free), taken);
    claimed.add(person);
    for (const i of free) out[i] = person;
  }
  return out;
}

/** `person_` + 24 hex digits, like the ids ingest gives, derived from a face id. */
export function newPersonId(seedFaceId: string, salt = 'recluster'): string {
  return 'person_' + createHash('sha256').update(`${salt}\u0000${seedFaceId}`).digest('hex').slice(0, 24);
}

/**
 * A new person id from a face id that no other cluster has: the plain derivation can be taken
 * already (an earlier recluster gave it to the cluster this face was in then, which has since
 * split), and two clusters under one id would be one person.
 */
function freshPersonId(seedFaceId: string, taken: (id: string) => boolean): string {
  for (let n = 0; ; n++) {
    const id = newPersonId(seedFaceId, n === 0 ? 'recluster' : `recluster\u0000${n}`);
    if (!taken(id)) return id;
  }
}

function minId(points: ClusterPoint[], members: number[]): string {
  let m = points[members[0]].id;
  for (const i of members) if (points[i].id < m) m = points[i].id;
  return m;
}

/** The most common value; ties go to the smallest, so the outcome never depends on order. */
function majority(values: string[]): string | undefined {
  const counts = new Map<string, number>();
  for (const v of values) counts.set(v, (counts.get(v) ?? 0) + 1);
  let best: string | undefined, bestCount = 0;
  for (const [v, c] of counts) {
    if (c > bestCount || (c === bestCount && best !== undefined && v < best)) {
      best = v;
      bestCount = c;
    }
  }
  return best;
}
