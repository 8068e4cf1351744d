// What the set-up installs: scripts/setup.sh (npm start, bin/tcpsniff-collector) only what
// building and running the collector needs; every program the tests run comes from
// scripts/setup-test.sh's TEST_PKGS (npm test, the kernel matrix, the benchmarks, npm run lint),
// or is part of any Debian system or of the build packages.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';

const ROOT = path.resolve(__dirname, '..', '..', '..');
const read = (rel: string) => fs.readFileSync(path.join(ROOT, rel), 'utf8');

/** The words of a bash array `NAME=(a b\n c)`. */
function bashArray(text: string, name: string): string[] {
  const m = new RegExp(`^${name}=\\(([^)]*)\\)`, 'm').exec(text);
  assert.ok(m, `${name}=( … ) not found`);
  return m[1]!.split(/\s+/).filter(Boolean);
}

const RUNTIME_PKGS = bashArray(read('scripts/setup.sh'), 'PKGS');
const TEST_PKGS = bashArray(read('scripts/setup-test.sh'), 'TEST_PKGS');

/** Programs the tests, the kernel matrix and npm run lint run, and the Debian package each comes from. */
const TEST_TOOLS: Record<string, string> = {
  curl: 'curl',
  nghttp: 'nghttp2-client',
  h2load: 'nghttp2-client',
  nginx: 'nginx-light',
  haproxy: 'haproxy',
  caddy: 'caddy',
  bpftool: 'bpftool',
  'qemu-system-x86_64': 'qemu-system-x86',
  busybox: 'busybox-static', // scripts/kernel-matrix/build-initramfs.sh
  cpio: 'cpio', // same
  file: 'file', // same
  openssl: 'openssl', // certificates for the TLS tests
  'clang-format': 'clang-format', // npm run lint (scripts/lint.sh), which CI runs after npm test
};
/** Headers the tests compile against. */
const TEST_HEADERS: Record<string, string> = { '/usr/include/liburing.h': 'liburing-dev' };
/**
 * Run by tests but on every Debian system (coreutils, util-linux, systemd, libc-bin, dpkg), installed by
 * setup.sh (cc, python3), what the checkout came with (git), or the machine's Go toolchain (go: Go peers
 * built from source, like the Jaeger and Collector builds; this machine kind has it installed).
 */
const BASE_TOOLS = new Set([
  'bash',
  'sh',
  'chown',
  'setpriv',
  'systemd-analyze',
  'getconf',
  'cc',
  'python3',
  'mount',
  'taskset',
  'dpkg-query',
  'git',
  'go',
  'unshare',
]);

test('setup.sh installs only what building and running the collector needs: no test-only package', () => {
  const testOnly = [...new Set([...Object.values(TEST_TOOLS), ...Object.values(TEST_HEADERS), 'python3-venv'])];
  for (const p of testOnly) {
    assert.ok(!RUNTIME_PKGS.includes(p), `${p} is in setup.sh's PKGS`);
    assert.ok(TEST_PKGS.includes(p), `${p} is missing from setup-test.sh's TEST_PKGS`);
  }
  assert.deepEqual(
    RUNTIME_PKGS.filter((p) => TEST_PKGS.includes(p)),
    [],
    'no package in both lists',
  );
  // One way in for Debian packages: the shared install_missing with its own list.
  assert.doesNotMatch(read('scripts/setup.sh'), /apt-get/);
});

test('every program the tests start comes from TEST_PKGS, or from the base system or the build packages', () => {
  const sources = ['test/integration', 'test/kernel-matrix', 'test/unit'].flatMap((dir) =>
    fs
      .readdirSync(path.join(ROOT, dir))
      .filter((f) => f.endsWith('.ts'))
      .map((f) => read(path.join(dir, f))),
  );
  const started = new Set<string>();
  for (const text of sources) {
    for (const m of text.matchAll(/\b(?:run|startServer|spawn|spawnSync|execFile|execFileSync)\(\s*'([A-Za-z0-9_.-]+)'/g)) started.add(m[1]!);
  }
  assert.ok(started.has('curl') && started.has('nginx'), [...started].join(' '));
  for (const tool of started) {
    if (BASE_TOOLS.has(tool)) continue;
    const pkg = TEST_TOOLS[tool];
    assert.ok(pkg, `the tests run ${tool}: name its Debian package in TEST_TOOLS and scripts/setup-test.sh's TEST_PKGS`);
    assert.ok(TEST_PKGS.includes(pkg), `${tool} (${pkg}) is missing from TEST_PKGS`);
  }
});

test('after the set-up, each of those programs and headers is there, from a package the lists name', (t) => {
  if (spawnSync('dpkg-query', ['--version']).status !== 0) return t.skip('not a Debian system');
  // Written by setup-test.sh once everything it installs is there (npm test runs it first).
  if (!fs.existsSync(path.join(ROOT, '.cache', 'pyvenv', '.requirements-stamp'))) return t.skip('scripts/setup-test.sh has not run');
  const lists = new Set([...TEST_PKGS, ...RUNTIME_PKGS]);
  for (const p of lists) {
    const r = spawnSync('dpkg-query', ['-W', '-f=${Status}', p], { encoding: 'utf8' });
    assert.match(r.stdout, /install ok installed/, `${p}: not installed (is it a Debian package?)`);
  }
  for (const [tool, pkg] of Object.entries(TEST_TOOLS)) {
    const r = spawnSync('sh', ['-c', `command -v ${tool}`], { encoding: 'utf8' });
    assert.equal(r.status, 0, `${tool} (from ${pkg}) is not on PATH after scripts/setup-test.sh`);
  }
  for (const [file, pkg] of Object.entries(TEST_HEADERS)) assert.ok(fs.existsSync(file), `${file} (from ${pkg})`);
});

test('npm start runs setup.sh only; npm test, test:kernels and the benchmarks also run setup-test.sh', () => {
  const scripts = (JSON.parse(read('package.json')) as { scripts: Record<string, string> }).scripts;
  assert.equal(scripts['prestart'], 'bash scripts/setup.sh');
  assert.doesNotMatch(scripts['start']!, /setup/);
  for (const name of ['pretest', 'test:kernels', 'bench', 'bench:bpf-cost']) {
    assert.match(scripts[name]!, /^bash scripts\/setup\.sh && bash scripts\/setup-test\.sh\b/, name);
  }
});
