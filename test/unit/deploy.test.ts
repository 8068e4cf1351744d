// The deploy files: every YAML parses; every tcpsniff pipeline inside passes `validate`; the
// Collector configs pass the real Collector's `validate` (when it is built); the systemd unit
// passes `systemd-analyze verify`; every file grants exactly the capabilities the least-privilege
// integration test proves sufficient (TLS capture's included), with the mounts the kernel side needs.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { parseAllDocuments } from 'yaml';
import { DEPLOY_CAPS } from './helpers/least-privilege';
import { ensureCollector } from './helpers/otelcol';

const ROOT = path.resolve(__dirname, '..', '..', '..');
const DEPLOY = path.join(ROOT, 'deploy');
const CLI = path.join(ROOT, 'bin', 'tcpsniff-collector');
const K8S_CAPS = DEPLOY_CAPS.map((c) => c.toUpperCase()).sort();

type Doc = Record<string, any>;

function yamlFiles(dir: string): string[] {
  return fs.readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const p = path.join(dir, e.name);
    return e.isDirectory() ? yamlFiles(p) : /\.ya?ml$/.test(e.name) ? [p] : [];
  });
}

function docs(file: string): Doc[] {
  const all = parseAllDocuments(fs.readFileSync(file, 'utf8'));
  const list = Array.isArray(all) ? all : [all];
  for (const d of list) assert.deepEqual(d.errors, [], `${file}: ${d.errors.join('; ')}`);
  return list.map((d) => d.toJS() as Doc).filter(Boolean);
}

function validate(text: string, label: string, env: Record<string, string> = {}) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tcpsniff-deploy-'));
  const file = path.join(dir, 'pipeline.yaml');
  fs.writeFileSync(file, text);
  const r = spawnSync(process.execPath, [CLI, 'validate', '--config', file], { encoding: 'utf8', env: { ...process.env, ...env } });
  fs.rmSync(dir, { recursive: true, force: true });
  assert.equal(r.status, 0, `${label}: ${r.stderr}`);
  assert.match(r.stdout, /^OK: /);
  assert.equal(r.stderr, '', `${label}: no warnings`);
}

const k8sFiles = () => yamlFiles(path.join(DEPLOY, 'kubernetes'));
const k8sDocs = () => k8sFiles().flatMap(docs);
const daemonSets = () => k8sDocs().filter((d) => d.kind === 'DaemonSet');
const tcpsniffContainers = () => daemonSets().flatMap((d) => (d.spec.template.spec.containers as Doc[]).filter((c) => /tcpsniff-collector/.test(c.image)));

test('every YAML file under deploy/ parses', () => {
  const files = yamlFiles(DEPLOY);
  assert.ok(files.length >= 5, files.join(' '));
  for (const f of files) assert.ok(docs(f).length >= 1, f);
});

test('every tcpsniff pipeline in deploy/ passes validate (defaults and with the env overrides)', () => {
  validate(fs.readFileSync(path.join(DEPLOY, 'pipeline.yaml'), 'utf8'), 'deploy/pipeline.yaml');
  validate(fs.readFileSync(path.join(DEPLOY, 'pipeline.yaml'), 'utf8'), 'deploy/pipeline.yaml', {
    OTLP_ENDPOINT: 'collector:4317',
    OTLP_INSECURE: 'false',
    METRICS_ADDRESS: '127.0.0.1:9999',
  });
  const maps = k8sDocs().filter((d) => d.kind === 'ConfigMap' && d.data?.['pipeline.yaml']);
  assert.equal(maps.length, 2, 'the DaemonSet and the sidecar ConfigMaps');
  for (const m of maps) {
    validate(m.data['pipeline.yaml'], `ConfigMap ${m.metadata.name}`);
    // The Prometheus endpoint is on in the deploy manifests.
    assert.match(m.data['pipeline.yaml'], /metrics:\s*\n\s*address: 0\.0\.0\.0:8888/);
  }
});

test('Kubernetes: hostPID, no privileged mode, exactly the minimal capabilities, BTF and tracefs mounted, ConfigMap wired, probes on /healthz', () => {
  const ds = daemonSets();
  assert.equal(ds.length, 2);
  for (const d of ds) assert.equal(d.spec.template.spec.hostPID, true, d.metadata.name);
  const containers = tcpsniffContainers();
  assert.equal(containers.length, 2);
  for (const c of containers) {
    const sc = c.securityContext;
    assert.equal(sc.privileged, false);
    assert.equal(sc.allowPrivilegeEscalation, false);
    assert.deepEqual(sc.capabilities.drop, ['ALL']);
    assert.deepEqual([...sc.capabilities.add].sort(), K8S_CAPS);
    const mounts = Object.fromEntries((c.volumeMounts as Doc[]).map((m) => [m.mountPath, m.name]));
    for (const p of ['/sys/kernel/btf', '/sys/kernel/tracing']) assert.ok(mounts[p], `${p} mounted`);
    assert.equal(c.readinessProbe.httpGet.path, '/healthz');
    const cfg = c.args[c.args.indexOf('--config') + 1] as string;
    assert.ok(
      Object.keys(mounts).some((m) => cfg.startsWith(m + '/')),
      `${cfg} is on a mounted volume`,
    );
  }
  for (const d of ds) {
    const vols = Object.fromEntries((d.spec.template.spec.volumes as Doc[]).map((v) => [v.name, v]));
    assert.equal(vols['btf'].hostPath.path, '/sys/kernel/btf');
    assert.equal(vols['tracefs'].hostPath.path, '/sys/kernel/tracing');
    const cmName = vols['config'].configMap.name;
    assert.ok(
      k8sDocs().some((x) => x.kind === 'ConfigMap' && x.metadata.name === cmName),
      `ConfigMap ${cmName} exists`,
    );
  }
});

test('systemd unit: bounding set and ambient set are exactly the minimal capabilities; systemd-analyze verify passes', () => {
  const unit = fs.readFileSync(path.join(DEPLOY, 'systemd', 'tcpsniff-collector.service'), 'utf8');
  const caps = (key: string) => (new RegExp(`^${key}=(.*)$`, 'm').exec(unit)?.[1] ?? '').trim().split(/\s+/).sort();
  const want = DEPLOY_CAPS.map((c) => `CAP_${c.toUpperCase()}`).sort();
  assert.deepEqual(caps('CapabilityBoundingSet'), want);
  assert.deepEqual(caps('AmbientCapabilities'), want);
  assert.match(unit, /^NoNewPrivileges=yes$/m);
  assert.match(unit, /^ExecStartPre=.* validate --config /m);
  // Through the launcher, which picks Node >= 22, never a fixed /usr/bin/node (Debian 12's is 18).
  assert.match(unit, /^ExecStart=\/bin\/sh \/opt\/tcpsniff-collector\/bin\/tcpsniff-collector /m);
  assert.doesNotMatch(unit, /\/usr\/bin\/node/);
  const sa = spawnSync('systemd-analyze', ['--version'], { encoding: 'utf8' });
  if (sa.status !== 0) return; // not installed: the checks above still ran
  const r = spawnSync('systemd-analyze', ['verify', path.join(DEPLOY, 'systemd', 'tcpsniff-collector.service')], { encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
  assert.doesNotMatch(r.stderr, /tcpsniff-collector\.service/, r.stderr);
});

test("compose: the collector with the minimal capabilities and host PID, a Collector and Jaeger; Collector configs pass the real Collector's validate", (ctx) => {
  const [compose] = docs(path.join(DEPLOY, 'compose', 'compose.yaml'));
  const svc = compose!.services;
  assert.deepEqual(Object.keys(svc).sort(), ['jaeger', 'otel-collector', 'tcpsniff-collector']);
  const t = svc['tcpsniff-collector'];
  assert.equal(t.pid, 'host');
  assert.deepEqual(t.cap_drop, ['ALL']);
  assert.deepEqual([...t.cap_add].sort(), K8S_CAPS);
  assert.notEqual(t.privileged, true);
  assert.equal(t.environment.OTLP_ENDPOINT, 'otel-collector:4317');
  for (const v of t.volumes as string[]) {
    const src = v.split(':')[0]!;
    if (src.startsWith('.')) assert.ok(fs.existsSync(path.resolve(DEPLOY, 'compose', src)), `${src} exists`);
  }
  assert.ok(fs.existsSync(path.resolve(DEPLOY, 'compose', t.build.context, t.build.dockerfile)));

  // The Collector configs, checked by the real Collector (built once by scripts/build-otelcol.sh).
  const collector = ensureCollector();
  if ('skip' in collector) return void ctx.diagnostic(`Collector configs not validated: ${collector.skip}`);
  const bin = collector.bin;
  const sidecarMap = k8sDocs().find((d) => d.kind === 'ConfigMap' && d.data?.['otelcol.yaml'])!;
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'otelcol-validate-'));
  const configs = {
    'compose-otelcol.yaml': fs.readFileSync(path.join(DEPLOY, 'compose', 'otelcol.yaml'), 'utf8'),
    'sidecar-otelcol.yaml': sidecarMap.data['otelcol.yaml'] as string,
  };
  for (const [name, text] of Object.entries(configs)) {
    const f = path.join(dir, name);
    fs.writeFileSync(f, text);
    const v: { status: number | null; stderr: string } = spawnSync(bin as string, ['validate', '--config', f], {
      encoding: 'utf8',
      env: { ...process.env, BACKEND_ENDPOINT: 'jaeger:4317' },
    });
    assert.equal(v.status, 0, `${name}: ${v.stderr}`);
  }
  fs.rmSync(dir, { recursive: true, force: true });
});

test('Dockerfile: builds with scripts/setup.sh, copies only paths that exist, runs the CLI', () => {
  const text = fs.readFileSync(path.join(DEPLOY, 'Dockerfile'), 'utf8');
  assert.match(text, /RUN bash scripts\/setup\.sh/);
  for (const m of text.matchAll(/^COPY ((?:\S+ )+)\S+$/gm)) {
    if (m[0].includes('--from')) continue;
    for (const src of m[1]!.trim().split(' ')) assert.ok(fs.existsSync(path.join(ROOT, src)), `COPY ${src}`);
  }
  // Through the launcher (bin/ runs scripts/launch.sh, which the image must hold): it sets V8's flags.
  assert.match(text, /ENTRYPOINT \["\/bin\/sh", "\/opt\/tcpsniff-collector\/bin\/tcpsniff-collector"\]/);
  assert.match(text, /COPY --from=build \/src\/scripts\/launch\.sh \/src\/scripts\/node \.\/scripts\//);
  // Node 24 LTS in both stages (the engines field says >= 22).
  const images = [...text.matchAll(/^FROM (\S+)/gm)].map((m) => m[1]);
  assert.deepEqual(images, ['node:24-bookworm', 'node:24-bookworm-slim']);
});
