// The collector's life on a real kernel: missing privileges, SIGKILL leaves nothing attached,
// and it never captures its own traffic.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { ROOT } from './harness';

const CLI = path.join(ROOT, 'bin', 'tcpsniff-collector');
const DEFAULT = path.join(ROOT, 'config', 'default.yaml');

/** Ids of the BPF programs loaded in the kernel (bpftool, as root). */
function loadedProgramIds(): number[] {
  const r = spawnSync('bpftool', ['-j', 'prog', 'show'], { encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
  return (JSON.parse(r.stdout) as Array<{ id: number }>).map((p) => p.id);
}

/** Ids of the BPF programs a process holds file descriptors to (from /proc/PID/fdinfo). */
function programsHeldBy(pid: number): number[] {
  const dir = `/proc/${pid}/fdinfo`;
  const ids: number[] = [];
  for (const fd of fs.readdirSync(dir)) {
    try {
      const m = /^prog_id:\s+(\d+)$/m.exec(fs.readFileSync(`${dir}/${fd}`, 'utf8'));
      if (m) ids.push(Number(m[1]));
    } catch {
      // closed meanwhile
    }
  }
  return ids;
}

test('without the privileges to load BPF: a clear message naming them, non-zero exit, no stack trace', () => {
  // Root uid, but an empty capability bounding set: what a container without CAP_BPF looks like.
  const r = spawnSync('setpriv', ['--bounding-set=-all', '--inh-caps=-all', process.execPath, CLI, '--config', DEFAULT], {
    encoding: 'utf8',
    timeout: 30_000,
  });
  const out = r.stdout + r.stderr;
  assert.notEqual(r.status, 0, out);
  assert.match(out, /CAP_BPF/);
  assert.match(out, /CAP_PERFMON/);
  assert.doesNotMatch(out, /\n\s+at .*\(.*:\d+:\d+\)/, 'no stack trace');
});

test('after SIGKILL nothing stays attached in the kernel', async () => {
  const child = spawn(process.execPath, [CLI, '--config', DEFAULT], { stdio: ['ignore', 'ignore', 'pipe'] });
  let err = '';
  child.stderr!.on('data', (d) => (err += d));
  try {
    const t0 = Date.now();
    while (!/\bready\b/.test(err)) {
      assert.ok(Date.now() - t0 < 30_000 && child.exitCode === null, `collector not ready:\n${err}`);
      await new Promise((r) => setTimeout(r, 20));
    }
    // Other processes on the machine may have programs of their own: follow this collector's.
    const ours = programsHeldBy(child.pid!);
    assert.ok(ours.length >= 5, 'programs are loaded while it runs');
    assert.ok(ours.every((id) => loadedProgramIds().includes(id)));
    const gone = new Promise((r) => child.once('exit', r));
    child.kill('SIGKILL');
    await gone;
    // The kernel releases programs when the last file descriptor closes; allow it a moment.
    const left = () => loadedProgramIds().filter((id) => ours.includes(id));
    for (let i = 0; i < 50 && left().length; i++) await new Promise((r) => setTimeout(r, 100));
    assert.deepEqual(left(), []);
  } finally {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  }
});

test('doctor: what this host allows and the backend each receiver would use; exit 1 when nothing can run', () => {
  const r = spawnSync(process.execPath, [CLI, 'doctor'], { encoding: 'utf8', timeout: 30_000 });
  assert.equal(r.status, 0, r.stderr);
  assert.match(r.stdout, /^kernel: +\S+/m);
  assert.match(r.stdout, /^BTF: +yes/m);
  assert.match(r.stdout, /^ {2}tracepoint +loads and attaches$/m);
  assert.match(r.stdout, /^ {2}ring buffer +loads and attaches$/m);
  // This machine refuses fentry (EPERM) and has no kprobes: the syscall backend, and the caveat.
  const tcp = /^ {2}tcp +backend (\S+)/m.exec(r.stdout)?.[1];
  assert.ok(tcp, r.stdout);
  if (tcp === 'syscalls') assert.match(r.stdout, /io_uring traffic .* not visible/);
  else assert.doesNotMatch(r.stdout, /io_uring traffic/);
  // TLS: uprobes attach here, and the host's libssl is found.
  assert.match(r.stdout, /^ {2}uprobes +attach: TLS plaintext is captured$/m);
  assert.match(r.stdout, /^ {2}OpenSSL +\/\S*libssl\.so\.3 \(mapped by \d+ process(es)? now\)$/m);

  const denied = spawnSync('setpriv', ['--bounding-set=-all', '--inh-caps=-all', process.execPath, CLI, 'doctor'], { encoding: 'utf8', timeout: 30_000 });
  assert.equal(denied.status, 1, denied.stdout + denied.stderr);
  assert.match(denied.stdout, /CAP_BPF/);
  assert.match(denied.stdout, /tcp +backend none/);
  assert.match(denied.stderr, /no receiver can run/);
});

test('a kernel without kprobes is named as such, by the kprobe backend and by doctor', () => {
  // Measured, not assumed: the kprobe PMU exists exactly when this kernel has CONFIG_KPROBES (5.x+).
  const haveKprobes = fs.existsSync('/sys/bus/event_source/devices/kprobe');
  const doctor = spawnSync(process.execPath, [path.join(ROOT, 'dist', 'src', 'cli.js'), 'doctor'], { encoding: 'utf8', timeout: 30_000 }).stdout;
  if (haveKprobes) {
    assert.doesNotMatch(doctor, /CONFIG_KPROBES/);
    return;
  }
  assert.match(doctor, /^ {2}kprobe +no \(kprobes are not available on this kernel \(CONFIG_KPROBES\)\)$/m);
  const dir = fs.mkdtempSync('/tmp/tcpsniff-kprobe-');
  const config = path.join(dir, 'pipeline.yaml');
  fs.writeFileSync(
    config,
    'receivers: { tcp: { backend: kprobe, ports: [9] } }\nprocessors: { http: {} }\nexporters: { debug: {} }\nservice: { pipelines: { traces: { receivers: [tcp], processors: [http], exporters: [debug] } } }\n',
  );
  const r = spawnSync(CLI, ['--config', config], { encoding: 'utf8', timeout: 30_000 });
  fs.rmSync(dir, { recursive: true, force: true });
  assert.equal(r.status, 1, r.stderr);
  assert.match(r.stderr, /tcp: no backend could start here — kprobe: kprobes are not available on this kernel \(CONFIG_KPROBES\)$/m);
});

test('starts under a sampling profiler (node --cpu-prof): its SIGPROF does not make the verifier give up', async () => {
  const dir = fs.mkdtempSync('/tmp/tcpsniff-cpuprof-');
  const child = spawn(process.execPath, ['--cpu-prof', `--cpu-prof-dir=${dir}`, CLI, '--config', DEFAULT], { stdio: ['ignore', 'ignore', 'pipe'] });
  let err = '';
  child.stderr!.on('data', (d) => (err += d));
  try {
    const t0 = Date.now();
    while (!/\bready\b/.test(err)) {
      assert.ok(Date.now() - t0 < 30_000 && child.exitCode === null, `collector not ready under --cpu-prof:\n${err}`);
      await new Promise((r) => setTimeout(r, 20));
    }
    assert.doesNotMatch(err, /errno 11/);
    const code = new Promise((r) => child.once('exit', r));
    child.kill('SIGINT');
    assert.equal(await code, 0, err);
    assert.ok(
      fs.readdirSync(dir).some((f) => f.endsWith('.cpuprofile')),
      'the profile was written',
    );
  } finally {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    fs.rmSync(dir, { recursive: true, force: true });
  }
});
