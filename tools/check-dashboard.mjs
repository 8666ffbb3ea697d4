// Checks k8s/grafana/facepipe-dashboard.json offline: it parses, its panels and queries are
// well-formed, every query goes through the `datasource` variable, and every metric it queries is
// one the code exports — a `name: 'facepipe_…'` registration under libs/ or apps/ (createMetrics
// and the gateway's HTTP metrics), or one of prom-client's default process/Node.js metrics.
// Usage: node tools/check-dashboard.mjs [dashboard.json]
import { readFileSync, readdirSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const file = path.resolve(process.argv[2] ?? path.join(root, 'k8s/grafana/facepipe-dashboard.json'));
const errors = [];

// 1. Metric names the code registers.
const exported = new Set();
const walk = (dir) => {
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = path.join(dir, e.name);
    if (e.isDirectory()) {
      if (e.name !== 'node_modules') walk(p);
    } else if (e.name.endsWith('.ts') && !e.name.endsWith('.spec.ts')) {
      for (const m of readFileSync(p, 'utf8').matchAll(/\bname:\s*['"`](facepipe_[a-z0-9_]+)['"`]/g)) exported.add(m[1]);
    }
  }
};
for (const dir of ['libs', 'apps']) walk(path.join(root, dir));
// prom-client's default metrics (collectDefaultMetrics in createMetrics), from the installed version.
const { Registry, collectDefaultMetrics } = createRequire(path.join(root, 'package.json'))('prom-client');
const registry = new Registry();
collectDefaultMetrics({ register: registry });
for (const m of registry.getMetricsAsArray()) exported.add(m.name);
registry.clear();
if (![...exported].some((n) => n.startsWith('facepipe_'))) errors.push('no facepipe_* metric registrations found in libs/ or apps/');

// 2. The dashboard.
let dash;
try {
  dash = JSON.parse(readFileSync(file, 'utf8'));
} catch (err) {
  console.error(`check-dashboard: ${path.relative(root, file)}: ${err.message}`);
  process.exit(1);
}
const vars = dash.templating?.list ?? [];
if (!vars.some((v) => v.name === 'datasource' && v.type === 'datasource' && v.query === 'prometheus')) {
  errors.push('templating: no `datasource` variable of type datasource (prometheus)');
}
const panels = (dash.panels ?? []).flatMap((p) => [p, ...(p.panels ?? [])]);
const ids = new Set();
const used = new Map(); // metric -> panel titles
const PROMQL_WORDS = new Set(['by', 'without', 'on', 'ignoring', 'group_left', 'group_right', 'offset', 'bool', 'and', 'or', 'unless', 'le']);
for (const p of panels) {
  if (ids.has(p.id)) errors.push(`panel id ${p.id} is used twice`);
  ids.add(p.id);
  if (!p.gridPos) errors.push(`panel "${p.title}": no gridPos`);
  if (p.type === 'row') continue;
  if (p.datasource?.uid !== '${datasource}') errors.push(`panel "${p.title}": datasource is not \${datasource}`);
  if (!p.targets?.length) errors.push(`panel "${p.title}": no queries`);
  for (const t of p.targets ?? []) {
    if (t.datasource && t.datasource.uid !== '${datasource}') errors.push(`panel "${p.title}" ${t.refId}: datasource is not \${datasource}`);
    const expr = String(t.expr ?? '');
    if (!expr.trim()) errors.push(`panel "${p.title}" ${t.refId}: empty expr`);
    let depth = 0;
    for (const c of expr) {
      depth += c === '(' || c === '{' || c === '[' ? 1 : c === ')' || c === '}' || c === ']' ? -1 : 0;
      if (depth < 0) break;
    }
    if (depth !== 0) errors.push(`panel "${p.title}" ${t.refId}: unbalanced brackets in ${expr}`);
    // Metric names: identifiers outside {…} label matchers and "…" strings that look like metrics.
    const bare = expr.replace(/"[^"]*"/g, '""').replace(/\{[^}]*\}/g, '{}').replace(/\[[^\]]*\]/g, '[]');
    for (const m of bare.matchAll(/\b([a-z_][a-z0-9_]*)\b(?!\s*\()/g)) {
      const name = m[1];
      if (PROMQL_WORDS.has(name) || !/^(facepipe|process|nodejs)_/.test(name)) continue;
      const base = name.replace(/_(bucket|sum|count)$/, '');
      const metric = exported.has(name) ? name : exported.has(base) ? base : null;
      if (!metric) errors.push(`panel "${p.title}": metric ${name} is not exported by the code`);
      else used.set(metric, [...(used.get(metric) ?? []), p.title]);
    }
  }
}
for (const v of vars) {
  const q = typeof v.query === 'string' ? v.query : v.query?.query ?? '';
  for (const m of q.matchAll(/label_values\(\s*([a-z_][a-z0-9_]*)/g)) {
    if (!exported.has(m[1])) errors.push(`variable ${v.name}: metric ${m[1]} is not exported by the code`);
  }
}
// Every facepipe_* metric the code exports should be on the dashboard.
for (const name of exported) {
  if (name.startsWith('facepipe_') && !used.has(name)) errors.push(`metric ${name} is exported but no panel plots it`);
}

if (errors.length) {
  for (const e of errors) console.error(`check-dashboard: ${e}`);
  process.exit(1);
}
const ours = [...used.keys()].filter((n) => n.startsWith('facepipe_')).sort();
console.log(`check-dashboard: ${path.relative(root, file)}: ${panels.length} panels, ${used.size} metrics, all exported (${ours.join(', ')})`);
