import { type ClusterPoint, type Neighbour, assignPersons, dbscan, newPersonId, symmetrise } from './clustering';
import { seededRandom as rng } from '@facepipe/contracts';


function gaussian(r: () => number): number {
  return Math.sqrt(-2 * Math.log(r() || 1e-12)) * Math.cos(2 * Math.PI * r());
}

function unit(v: number[]): number[] {
  const n = Math.hypot(...v);
  return v.map((x) => x / n);
}

const DIM = 64;

/** `people` identities with `faces` noisy faces each (cosine to their centre ≈ 0.8), plus `loners` unrelated faces. */
function synthetic(people: number, faces: number, loners: number, seed = 1): { vectors: number[][]; truth: number[] } {
  const r = rng(seed);
  const vectors: number[][] = [], truth: number[] = [];
  for (let p = 0; p < people; p++) {
    const centre = unit(Array.from({ length: DIM }, () => gaussian(r)));
    for (let f = 0; f < faces; f++) {
      vectors.push(unit(centre.map((c) => c + 0.09 * gaussian(r))));
      truth.push(p);
    }
  }
  for (let l = 0; l < loners; l++) {
    vectors.push(unit(Array.from({ length: DIM }, () => gaussian(r))));
    truth.push(-1 - l);
  }
  return { vectors, truth };
}

/** Exact neighbours within eps (the processor uses ANN search, bounded by k; same shape). */
function neighboursOf(vectors: number[][], eps: number): Neighbour[][] {
  return vectors.map((a, i) =>
    vectors.flatMap((b, j) => {
      if (i === j) return [];
      const s = a.reduce((sum, x, d) => sum + x * b[d], 0);
      return s >= eps ? [{ j, s }] : [];
    }),
  );
}

describe('dbscan on synthetic embeddings', () => {
  it('finds each identity as one cluster and leaves unrelated faces as noise', () => {
    const { vectors, truth } = synthetic(6, 5, 4);
    const labels = dbscan(symmetrise(neighboursOf(vectors, 0.5)), 2);
    for (let p = 0; p < 6; p++) {
      const own = new Set(truth.flatMap((t, i) => (t === p ? [labels[i]] : [])));
      expect(own.size).toBe(1); // the identity is not split
      expect([...own][0]).toBeGreaterThanOrEqual(0);
      // ...and not merged with another identity
      expect(truth.filter((t, i) => labels[i] === [...own][0] && t !== p)).toEqual([]);
    }
    truth.forEach((t, i) => t < 0 && expect(labels[i]).toBe(-1));
    expect(new Set(labels.filter((l) => l >= 0)).size).toBe(6);
  });

  it('needs minFaces faces for a cluster: a pair is noise at 3, a cluster at 2', () => {
    const { vectors } = synthetic(1, 2, 0, 7);
    const lists = symmetrise(neighboursOf(vectors, 0.5));
    expect([...dbscan(lists, 2)]).toEqual([0, 0]);
    expect([...dbscan(lists, 3)]).toEqual([-1, -1]);
  });

  it('attaches a border face to a core neighbour; a face next to a border face only is noise', () => {
    // 0–3 are mutually close (core at minFaces 4); 4 touches 3 and 5 (2 neighbours: border); 5 touches only 4.
    const close = (i: number) => [0, 1, 2, 3].filter((j) => j !== i).map((j) => ({ j, s: 0.9 }));
    const lists = symmetrise([close(0), close(1), close(2), [...close(3), { j: 4, s: 0.6 }], [{ j: 5, s: 0.6 }], []]);
    expect([...dbscan(lists, 4)]).toEqual([0, 0, 0, 0, 0, -1]);
  });

  it('symmetrise drops self-links and duplicates and sorts best first', () => {
    const out = symmetrise([[{ j: 0, s: 1 }, { j: 1, s: 0.6 }, { j: 2, s: 0.7 }], [{ j: 0, s: 0.65 }], []]);
    expect(out[0]).toEqual([{ j: 2, s: 0.7 }, { j: 1, s: 0.65 }]);
    expect(out[1]).toEqual([{ j: 0, s: 0.65 }]);
    expect(out[2]).toEqual([{ j: 0, s: 0.7 }]);
  });
});

describe('assignPersons keeps the manual decisions', () => {
  const p = (id: string, personId: string, pinned = false): ClusterPoint => ({ id, personId, pinned });
  const labels = (...l: number[]) => Int32Array.from(l);

  it('keeps the id most faces of a cluster had, and joins the faces that had others', () => {
    const points = [p('a', 'P1'), p('b', 'P1'), p('c', 'P2')];
    expect(assignPersons(points, labels(0, 0, 0))).toEqual(['P1', 'P1', 'P1']);
  });

  it('a split person: the bigger part keeps the id, the other gets a new deterministic one', () => {
    const points = [p('a', 'P'), p('b', 'P'), p('c', 'P'), p('d', 'P'), p('e', 'P')];
    const out = assignPersons(points, labels(0, 0, 0, 1, 1));
    expect(out.slice(0, 3)).toEqual(['P', 'P', 'P']);
    expect(out[3]).toBe(newPersonId('d'));
    expect(out[4]).toBe(out[3]);
    expect(assignPersons(points, labels(0, 0, 0, 1, 1))).toEqual(out); // same input, same ids
  });

  it('pinned faces keep their person and do not pull the faces they cluster with into it', () => {
    // A human merged x and y into M; the clustering puts y with u, v (which were U) and x alone.
    const points = [p('x', 'M', true), p('y', 'M', true), p('u', 'U'), p('v', 'U')];
    expect(assignPersons(points, labels(-1, 0, 0, 0))).toEqual(['M', 'M', 'U', 'U']);
    // A human moved a1 out of A into B; a1 still clusters with A's faces: they stay A.
    const moved = [p('b', 'B', true), p('a1', 'B', true), p('a2', 'A'), p('a3', 'A')];
    expect(assignPersons(moved, labels(-1, 0, 0, 0))).toEqual(['B', 'B', 'A', 'A']);
  });

  it('faces that had the person of pinned faces keep it with them, but not where a bigger part has it', () => {
    // A human merged b1, b2 into B; later faces f1, f2 joined B on ingest: they stay B.
    const joined = [p('b1', 'B', true), p('b2', 'B', true), p('f1', 'B'), p('f2', 'B')];
    expect(assignPersons(joined, labels(0, 0, 0, 0))).toEqual(['B', 'B', 'B', 'B']);
    // c0 was moved into B (pinned); a loose recluster put c1, c2 (c0's own person) into B too.
    // Now c0, c1, c2 cluster apart from B's own faces: c1, c2 do not stay B by c0's pin.
    const moved = [p('b1', 'B', true), p('b2', 'B', true), p('f1', 'B'), p('c0', 'B', true), p('c1', 'B'), p('c2', 'B')];
    expect(assignPersons(moved, labels(0, 0, 0, 1, 1, 1))).toEqual(['B', 'B', 'B', 'B', newPersonId('c1'), newPersonId('c1')]);
  });

  it('never gives two clusters one id: a new id another cluster kept is derived again', () => {
    // Q = newPersonId('a') was given by an earlier recluster; now the cluster holding 'a' split
    // off, and the part without 'a' (bigger) kept Q. The part with 'a' must not get Q again.
    const Q = newPersonId('a');
    const points = [p('a', Q), p('x', Q), p('y', Q), p('z', Q), p('w', Q)];
    const out = assignPersons(points, labels(0, 0, 1, 1, 1));
    expect(out.slice(2)).toEqual([Q, Q, Q]);
    expect(out[0]).toBe(out[1]);
    expect(out[0]).not.toBe(Q);
    expect(out[0]).toMatch(/^person_[0-9a-f]{24}$/);
  });

  it('a cluster that only had the id of pinned faces elsewhere gets a new one: no two clusters become one person', () => {
    // x and y were merged into X (pinned). A loose recluster put c and d with them, so they had X;
    // now they cluster apart from x and y. Keeping X would join the two clusters into one person.
    const points = [p('x', 'X', true), p('y', 'X', true), p('c', 'X'), p('d', 'X')];
    expect(assignPersons(points, labels(0, 0, 1, 1))).toEqual(['X', 'X', newPersonId('c'), newPersonId('c')]);
    // Whichever cluster comes first: the same when the unpinned one is bigger.
    const more = [...points, p('e', 'X')];
    expect(assignPersons(more, labels(0, 0, 1, 1, 1))).toEqual(['X', 'X', ...Array(3).fill(newPersonId('c'))]);
  });

  it('holds its rules on random inputs: pins kept, one id per cluster, no id in two clusters, stable when run again', () => {
    const r = rng(11);
    for (let run = 0; run < 300; run++) {
      const n = 2 + Math.floor(r() * 14);
      const persons = ['A', 'B', 'C', 'D', newPersonId('f0'), newPersonId('f3')];
      const points: ClusterPoint[] = Array.from({ length: n }, (_, i) => ({ id: `f${i}`, personId: persons[Math.floor(r() * persons.length)], pinned: r() < 0.25 }));
      const labels = Int32Array.from({ length: n }, () => Math.floor(r() * 4) - 1); // -1: noise
      const out = assignPersons(points, labels);
      const group = (i: number) => (labels[i] >= 0 ? `c${labels[i]}` : `noise${i}`);
      const pinnedIn = new Map<string, Set<string>>(); // person → groups holding its pinned faces
      points.forEach((pt, i) => {
        if (pt.pinned) pinnedIn.set(pt.personId!, (pinnedIn.get(pt.personId!) ?? new Set()).add(group(i)));
      });
      const groupsOf = new Map<string, Set<string>>(); // id given to unpinned faces → their groups
      points.forEach((pt, i) => {
        if (pt.pinned) return expect(out[i]).toBe(pt.personId); // a pinned face keeps its person
        groupsOf.set(out[i], (groupsOf.get(out[i]) ?? new Set()).add(group(i)));
        // A pinned person's id only beside its pinned faces.
        if (pinnedIn.has(out[i])) expect(pinnedIn.get(out[i])!.has(group(i))).toBe(true);
      });
      for (const [id, groups] of groupsOf) expect({ id, groups: groups.size }).toEqual({ id, groups: 1 });
      // Run again on its own outcome: nothing changes.
      const again = assignPersons(points.map((pt, i) => ({ ...pt, personId: out[i] })), labels);
      expect(again).toEqual(out);
    }
  });

  it('noise faces stay people of their own', () => {
    const points = [p('a', 'A'), p('b', 'A'), p('c', 'C'), p('d', 'A')];
    const out = assignPersons(points, labels(0, 0, -1, -1));
    expect(out[0]).toBe('A');
    expect(out[1]).toBe('A');
    expect(out[2]).toBe('C'); // its own id, unclaimed
    expect(out[3]).toBe(newPersonId('d')); // A is taken by the cluster
  });

  it('end to end on synthetic vectors: wrong ingest-time ids are repaired, a merge survives', () => {
    const { vectors, truth } = synthetic(4, 6, 2, 3);
    // Ingest split every identity in two (ids by face parity), and a human merged identities 0 and 1 into "H".
    const points: ClusterPoint[] = truth.map((t, i) =>
      t === 0 || t === 1 ? p(`f${String(i).padStart(3, '0')}`, 'H', true) : p(`f${String(i).padStart(3, '0')}`, `ingest_${t}_${i % 2}`),
    );
    const out = assignPersons(points, dbscan(symmetrise(neighboursOf(vectors, 0.5)), 2));
    truth.forEach((t, i) => (t === 0 || t === 1) && expect(out[i]).toBe('H'));
    for (const id of [2, 3]) {
      const persons = new Set(truth.flatMap((t, i) => (t === id ? [out[i]] : [])));
      expect(persons.size).toBe(1); // one person again
      expect([...persons][0]).toMatch(new RegExp(`^ingest_${id}_[01]$`)); // an id it had: stable for clients
    }
    const loners = truth.flatMap((t, i) => (t < 0 ? [out[i]] : []));
    expect(new Set(loners).size).toBe(2);
  });
});
