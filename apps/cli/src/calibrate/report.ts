import type { FarOperatingPoint } from '@facepipe/face-engine';
import { formatCount, plural } from '../ingest/progress';
import type { CalibrationReport } from './calibrate';

/** Examples of files without a face / skipped, in the text report. */
const EXAMPLES = 5;

/** A FAR target as people write it: 1e-3, 5e-2. */
export const formatFarTarget = (far: number): string => far.toExponential().replace('e+', 'e');
/** A measured FAR: 0, or three significant digits. */
const formatFar = (far: number): string => (far === 0 ? '0' : far.toExponential(2));
const formatThreshold = (t: number | null): string => (t === null ? 'none' : t.toFixed(4));

/** The human-readable report of `facepipe calibrate`. */
export function formatReport(r: CalibrationReport, dirArg: string): string {
  const lines: string[] = [];
  const p = r.photos;
  lines.push(`Calibration on ${dirArg} (${r.models.manifest} models, flip TTA ${r.models.flip ? 'on' : 'off'})`);
  lines.push(`  photos      ${plural(p.files, 'file')} in ${plural(p.identityFolders, 'identity folder')}: ` +
    `${formatCount(p.withFace)} with a face, ${formatCount(p.noFace)} without, ${formatCount(p.skipped)} skipped (not a usable image)` +
    (p.outside ? `; ${plural(p.outside, 'file')} outside identity folders ignored` : ''));
  lines.push(`  pairs       ${formatCount(r.pairs.genuine)} genuine (all, ${plural(r.identities, 'identity', 'identities')} with a face), ` +
    `${formatCount(r.pairs.impostor)} impostor ` +
    (r.pairs.sampled ? `(a seeded sample of ${formatCount(r.pairs.impostorTotal)}: --max-impostors)` : '(all)'));
  lines.push('');

  const res = r.result;
  const target = formatFarTarget(res.targetFar);
  if (res.threshold === null) {
    lines.push(`  threshold   none: no threshold in [-1, 1] gives FAR ≤ ${target} ` +
      '(impostor pairs score 1: the same photo under two identities?)');
  } else {
    lines.push(`  threshold   ${formatThreshold(res.threshold)} for FAR ≤ ${target} (a pair matches when its similarity ≥ the threshold)`);
    lines.push(`  FAR         ${formatFar(res.far)} (${formatCount(res.falseAccepts)} of ${formatCount(r.pairs.impostor)} impostor pairs accepted)`);
    lines.push(`  TAR         ${res.tar.toFixed(4)} (${formatCount(res.trueAccepts)} of ${formatCount(r.pairs.genuine)} genuine pairs accepted)`);
  }
  if (!res.reliable) {
    lines.push(`  unreliable  ${formatCount(r.pairs.impostor)} impostor pairs < 10/FAR = ${formatCount(Math.ceil(10 / res.targetFar))}: ` +
      (res.targetFar * r.pairs.impostor < 1 ? 'not one false accept is allowed, the threshold only clears the highest impostor' : 'too few false accepts to estimate'));
  }
  lines.push('');

  if (r.table.length > 0) {
    lines.push('  FAR target  threshold  FAR        TAR');
    for (const row of r.table) lines.push(tableRow(row));
    if (r.table.some((row) => !row.reliable)) lines.push('  * unreliable: fewer than 10/FAR impostor pairs');
    const missing = [1e-2, 1e-3, 1e-4, 1e-5].filter((far) => !r.table.some((row) => row.targetFar === far));
    if (missing.length) lines.push(`  not measurable with ${formatCount(r.pairs.impostor)} impostor pairs: FAR ${missing.map(formatFarTarget).join(', ')}`);
    lines.push('');
  }

  const m = r.manifestThreshold;
  lines.push(`  the manifest's threshold ${m.threshold}: FAR ${formatFar(m.far)}, TAR ${m.tar.toFixed(4)}`);
  if (p.noFace) lines.push(`  no face     ${examples(p.noFaceFiles)}`);
  if (p.skipped) lines.push(`  skipped     ${examples(p.skippedFiles.map((s) => `${s.file} (${s.code})`))}`);
  if (r.apply && !r.apply.error) {
    lines.push(`  applied     threshold ${formatThreshold(r.apply.threshold)} to collection "${r.apply.collection}" on ${r.apply.server}`);
  }
  return lines.join('\n') + '\n';
}

function tableRow(row: FarOperatingPoint): string {
  const target = (formatFarTarget(row.targetFar) + (row.reliable ? '' : '*')).padEnd(12);
  return `  ${target}${formatThreshold(row.threshold).padEnd(11)}${formatFar(row.far).padEnd(11)}${row.threshold === null ? '-' : row.tar.toFixed(4)}`;
}

function examples(items: string[]): string {
  const shown = items.slice(0, EXAMPLES).join(', ');
  return items.length > EXAMPLES ? `${shown}, … (${formatCount(items.length - EXAMPLES)} more; --json lists all)` : shown;
}
