// Validates the Kubernetes manifests offline (no cluster): renders each kustomize overlay under
// k8s/overlays with `kubectl kustomize` (works with kubectl 1.20's built-in kustomize v2.0.3, as
// installed by Debian's kubernetes-client, and with newer kubectl), then checks every rendered
// object against its OpenAPI schema: Kubernetes kinds with `kubernetes-models`, KEDA's CRDs with
// `@kubernetes-models/keda` (each object goes through its model class and `.validate()`). A kind
// no model knows is an error, never skipped. It also checks references inside one overlay
// (ScaledObject targets, ConfigMaps, PVCs) resolve.
// Usage: node tools/validate-k8s.mjs [overlay ...]   (default: every folder under k8s/overlays)
// Env: KUBECTL = the kubectl binary to use (default: `kubectl` on PATH).
import { spawnSync } from 'node:child_process';
import { readdirSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import YAML from 'yaml';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const kubectl = process.env.KUBECTL || 'kubectl';
const overlaysDir = path.join(root, 'k8s/overlays');
const overlays = process.argv.length > 2
  ? process.argv.slice(2)
  : readdirSync(overlaysDir, { withFileTypes: true }).filter((e) => e.isDirectory()).map((e) => e.name).sort();
// Objects the operator provides (k8s/README.md); references to them are not errors.
const EXTERNAL = new Set(['Secret/facepipe-secrets']);

/** The module holding the models of one apiVersion: core `v1`, `group/version`, or KEDA's CRDs. */
function modelModule(apiVersion) {
  if (!apiVersion.includes('/')) return `kubernetes-models/${apiVersion}`;
  const [group] = apiVersion.split('/');
  if (group === 'keda.sh' || group === 'eventing.keda.sh') return `@kubernetes-models/keda/${apiVersion}`;
  return `kubernetes-models/${apiVersion}`;
}
const modules = new Map();
async function modelClass(apiVersion, kind) {
  const spec = modelModule(apiVersion);
  if (!modules.has(spec)) modules.set(spec, await import(spec).catch(() => null));
  const mod = modules.get(spec);
  return mod && typeof mod[kind] === 'function' ? mod[kind] : null;
}

const v = spawnSync(kubectl, ['version', '--client'], { encoding: 'utf8' });
if (v.error || v.status !== 0) {
  console.error(`validate-k8s: cannot run \`${kubectl}\` (${v.error?.message ?? v.stderr.trim()}); install kubectl (Debian: apt-get install kubernetes-client) or set KUBECTL`);
  process.exit(2);
}
console.log(`kubectl: ${v.stdout.match(/GitVersion:"([^"]+)"/)?.[1] ?? v.stdout.match(/Client Version: (\S+)/)?.[1] ?? v.stdout.trim().split('\n')[0]}`);

let total = 0;
let failed = 0;
for (const overlay of overlays) {
  const dir = path.resolve(overlaysDir, overlay);
  const r = spawnSync(kubectl, ['kustomize', dir], { encoding: 'utf8', maxBuffer: 64 << 20 });
  if (r.error || r.status !== 0) {
    console.log(`FAIL ${overlay}: kubectl kustomize failed: ${(r.error?.message ?? r.stderr).trim()}`);
    failed++;
    continue;
  }
  const objects = [];
  for (const doc of YAML.parseAllDocuments(r.stdout)) {
    if (doc.errors.length) {
      console.log(`FAIL ${overlay}: rendered YAML does not parse: ${doc.errors[0].message}`);
      failed++;
      continue;
    }
    const obj = doc.toJSON();
    if (obj) objects.push(obj);
  }
  if (objects.length === 0) {
    console.log(`FAIL ${overlay}: rendered no objects`);
    failed++;
  }
  const names = new Set(objects.map((o) => `${o.kind}/${o.metadata?.name}`));
  for (const obj of objects) {
    total++;
    const id = `${obj.apiVersion}/${obj.kind} ${obj.metadata?.namespace ?? '-'}/${obj.metadata?.name}`;
    const errors = [];
    if (!obj.apiVersion || !obj.kind || !obj.metadata?.name) {
      errors.push('apiVersion, kind and metadata.name are required');
    } else {
      const Model = await modelClass(obj.apiVersion, obj.kind);
      if (!Model) {
        errors.push(`unknown kind: no schema for ${obj.apiVersion} ${obj.kind}`);
      } else {
        try {
          new Model(obj).validate();
        } catch (err) {
          errors.push(`schema: ${formatError(err)}`);
        }
      }
      for (const ref of references(obj)) {
        if (!names.has(ref) && !EXTERNAL.has(ref)) errors.push(`references missing ${ref}`);
      }
    }
    if (errors.length) {
      failed++;
      console.log(`FAIL ${overlay} ${id}\n  ${errors.join('\n  ')}`);
    } else {
      console.log(`ok   ${overlay} ${id}`);
    }
  }
}
console.log(`\n${total} objects in ${overlays.length} overlays (${overlays.join(', ')}): ${failed ? `${failed} FAILED` : 'all valid'}`);
process.exit(failed ? 1 : 0);

/** `Kind/name`s an object needs in the same render. */
function* references(obj) {
  if (obj.kind === 'ScaledObject') yield `${obj.spec?.scaleTargetRef?.kind ?? 'Deployment'}/${obj.spec?.scaleTargetRef?.name}`;
  const pod = obj.spec?.template?.spec;
  if (!pod) return;
  for (const vol of pod.volumes ?? []) {
    if (vol.persistentVolumeClaim) yield `PersistentVolumeClaim/${vol.persistentVolumeClaim.claimName}`;
    if (vol.configMap) yield `ConfigMap/${vol.configMap.name}`;
    if (vol.secret) yield `Secret/${vol.secret.secretName}`;
  }
  for (const c of [...(pod.initContainers ?? []), ...(pod.containers ?? [])]) {
    for (const from of c.envFrom ?? []) {
      if (from.configMapRef) yield `ConfigMap/${from.configMapRef.name}`;
      if (from.secretRef) yield `Secret/${from.secretRef.name}`;
    }
    for (const e of c.env ?? []) {
      if (e.valueFrom?.configMapKeyRef) yield `ConfigMap/${e.valueFrom.configMapKeyRef.name}`;
      if (e.valueFrom?.secretKeyRef) yield `Secret/${e.valueFrom.secretKeyRef.name}`;
    }
  }
}

function formatError(err) {
  const list = err?.errors ?? err?.details;
  if (Array.isArray(list) && list.length) {
    return list.map((e) => `${e.instancePath || e.dataPath || '/'} ${e.message}${e.params ? ` ${JSON.stringify(e.params)}` : ''}`).join('; ');
  }
  return err instanceof Error ? err.message : String(err);
}
