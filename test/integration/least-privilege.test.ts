// Least privilege: the collector runs as uid 0 but with a capability bounding set of only
// CAP_BPF and CAP_PERFMON (setpriv drops everything else, as the systemd unit's
// CapabilityBoundingSet and the DaemonSet's capabilities do), and still captures real traffic,
// a body sent with sendfile(2) included (the deploy pipelines list the sendfile receiver);
// with either one missing it names the missing capability and exits non-zero. TLS capture needs
// CAP_SYS_ADMIN (uprobes) and CAP_SYS_PTRACE (other processes' maps, exe and root) besides, as the
// deploy files grant: with all four, HTTPS of curl (the system libssl) and of Node (the node
// executable, found only from running processes) is captured; without CAP_SYS_PTRACE it says so
// once and still captures curl's; without both it says once that TLS is not captured (above).

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { ROOT, certIn, freePort, readSpans, run, startServer, stop, spansOf, SERVER, CLIENT } from './harness';
import { startCli } from './backends';

import { DEPLOY_CAPS, MINIMAL_CAPS } from '../unit/helpers/least-privilege';

const CAP_BITS: Record<string, number> = { bpf: 39, perfmon: 38, sys_admin: 21, sys_ptrace: 19 };
const CLI = path.join(ROOT, 'bin', 'tcpsniff-collector');

const setpriv = spawnSync('setpriv', ['--version'], { encoding: 'utf8' });
const skip = setpriv.status === 0 ? false : 'needs setpriv (util-linux) to drop capabilities';
const only = (caps: readonly string[]) => ['setpriv', `--bounding-set=-all${caps.map((c) => `,+${c}`).join('')}`, '--inh-caps=-all', '--'];

function pipeline(port: number, out: string) {
  return `receivers: { tcp: { ports: [${port}] }, sendfile: {} }
processors: { http: { command_line: true, capture_bodies: true } }
exporters: { file: { path: ${JSON.stringify(out)} } }
service: { pipelines: { traces: { receivers: [tcp, sendfile], processors: [http], exporters: [file] } } }
`;
}

test(
  `uid 0 with only CAP_${MINIMAL_CAPS.map((c) => c.toUpperCase()).join(' and CAP_')}: captures real traffic, process names included`,
  { skip, timeout: 60_000 },
  async () => {
    const port = await freePort();
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tcpsniff-lp-'));
    fs.writeFileSync(path.join(dir, 'hello.txt'), 'least privilege\n');
    const out = path.join(dir, 'spans.jsonl');
    const server = await startServer('python3', [path.join(ROOT, 'test', 'fixtures', 'file-body-server.py'), 'sendfile', String(port), dir], '127.0.0.1', port);
    let cli: Awaited<ReturnType<typeof startCli>> | undefined;
    try {
      cli = await startCli(pipeline(port, out), { wrap: only(MINIMAL_CAPS) });
      // setpriv execs node: the pid is the collector's. Its effective set is exactly the two.
      const status = fs.readFileSync(`/proc/${cli.proc.pid}/status`, 'utf8');
      const eff = BigInt('0x' + /^CapEff:\s*([0-9a-f]+)$/m.exec(status)![1]);
      const bnd = BigInt('0x' + /^CapBnd:\s*([0-9a-f]+)$/m.exec(status)![1]);
      const want = MINIMAL_CAPS.reduce((m, c) => m | (1n << BigInt(CAP_BITS[c]!)), 0n);
      assert.equal(eff, want, `CapEff ${eff.toString(16)}`);
      assert.equal(bnd, want, `CapBnd ${bnd.toString(16)}`);
      assert.match(/^Uid:\s*(\d+)/m.exec(status)![1]!, /^0$/);

      assert.equal(await run('curl', ['-sS', '-o', '/dev/null', '-w', '%{http_code}', `http://127.0.0.1:${port}/hello.txt`]), '200');
      await new Promise((r) => setTimeout(r, 300));
    } finally {
      const code = cli ? await cli.stop() : null;
      await stop(server);
      if (cli) assert.equal(code, 0, cli.output());
    }
    const spans = readSpans(out);
    fs.rmSync(dir, { recursive: true, force: true });
    const [s] = spansOf(spans, SERVER);
    const [c] = spansOf(spans, CLIENT, 'curl');
    assert.ok(s && c, JSON.stringify(spans.map((x) => [x.kind, x.resource['process.executable.name']])));
    assert.equal(s.attributes['http.response.status_code'], 200);
    assert.equal(s.attributes['url.path'], '/hello.txt');
    assert.equal(s.attributes['http.response.body.content'], 'least privilege\n', 'the sendfile body, read again');
    assert.equal(s.attributes['tcpsniff.sendfile.response.capture'], 'reread');
    assert.match(String(s.resource['process.executable.name']), /^python3/);
    assert.match(String(c.resource['process.command_line']), /^curl -sS/);
    assert.match(cli!.output(), /drops by reason: .*kernel_ringbuf_full=0/);
    // Creating uprobes needs more: said once, and TCP capture goes on without TLS.
    assert.equal(cli!.output().match(/TLS plaintext is not captured/g)?.length, 1, cli!.output());
  },
);

/** HTTPS from curl and from Node's https client to a Python ssl server, under a collector with `caps`. */
async function httpsUnder(caps: readonly string[]) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tcpsniff-lp-tls-'));
  const { cert, key } = await certIn(dir);
  const port = await freePort();
  const base = `https://127.0.0.1:${port}`;
  const out = path.join(dir, 'spans.jsonl');
  const server = await startServer('python3', [path.join(ROOT, 'test', 'fixtures', 'tls-server.py'), String(port), cert, key], '127.0.0.1', port);
  let cli: Awaited<ReturnType<typeof startCli>> | undefined;
  try {
    cli = await startCli(pipeline(port, out), { wrap: only(caps) });
    const status = fs.readFileSync(`/proc/${cli.proc.pid}/status`, 'utf8');
    const want = caps.reduce((m, c) => m | (1n << BigInt(CAP_BITS[c]!)), 0n);
    assert.equal(BigInt('0x' + /^CapEff:\s*([0-9a-f]+)$/m.exec(status)![1]), want);
    assert.equal(await run('curl', ['-sk', `${base}/curl/1`]), 'hello /curl/1');
    assert.equal(await run(process.execPath, [path.join(ROOT, 'test', 'fixtures', 'node-https.js'), 'client', base, '0', '/node/1']), '200 hello /node/1\n');
    await new Promise((r) => setTimeout(r, 300));
  } finally {
    const code = cli ? await cli.stop() : null;
    await stop(server);
    if (cli) assert.equal(code, 0, cli.output());
  }
  const spans = readSpans(out);
  fs.rmSync(dir, { recursive: true, force: true });
  // "scheme path status": SERVER spans carry scheme and path, CLIENT spans the full URL.
  const paths = (kind: number, exe?: string) =>
    spansOf(spans, kind, exe)
      .map((x) => {
        const u = new URL(String(x.attributes['url.full'] ?? `${x.attributes['url.scheme']}://server${x.attributes['url.path']}`));
        return `${u.protocol.slice(0, -1)} ${u.pathname} ${x.attributes['http.response.status_code']}`;
      })
      .sort();
  return { output: cli!.output(), server: paths(SERVER), curl: paths(CLIENT, 'curl'), node: paths(CLIENT, 'node') };
}

test("with CAP_SYS_ADMIN and CAP_SYS_PTRACE besides (the deploy files' set): HTTPS of curl and of Node is captured", { skip, timeout: 120_000 }, async () => {
  const r = await httpsUnder(DEPLOY_CAPS);
  assert.deepEqual(r.server, ['https /curl/1 200', 'https /node/1 200'], r.output);
  assert.deepEqual(r.curl, ['https /curl/1 200'], r.output);
  assert.deepEqual(r.node, ['https /node/1 200'], "the node executable, found from its processes' maps");
  assert.doesNotMatch(r.output, /TLS plaintext is not captured|needs CAP_SYS_PTRACE/);
});

test(
  'without CAP_SYS_PTRACE: said once; curl (the system libssl) still captured, Node (found only from its process) not',
  { skip, timeout: 120_000 },
  async () => {
    const r = await httpsUnder(DEPLOY_CAPS.filter((c) => c !== 'sys_ptrace'));
    assert.equal(r.output.match(/needs CAP_SYS_PTRACE/g)?.length, 1, r.output);
    assert.doesNotMatch(r.output, /TLS plaintext is not captured/);
    assert.deepEqual(r.server, ['https /curl/1 200', 'https /node/1 200'], 'the Python server maps the system libssl');
    assert.deepEqual(r.curl, ['https /curl/1 200']);
    assert.deepEqual(r.node, [], 'absent, not wrong');
  },
);

test('doctor names the capability each step of TLS capture lacks', { skip, timeout: 400_000 }, () => {
  const doctor = (caps: readonly string[]) =>
    spawnSync(only(caps)[0]!, [...only(caps).slice(1), process.execPath, CLI, 'doctor'], { encoding: 'utf8', timeout: 120_000 }).stdout;
  const minimal = doctor(MINIMAL_CAPS);
  assert.match(minimal, /^ {2}uprobes +refused: TLS plaintext is not captured \(uprobes need CAP_SYS_ADMIN\)$/m, minimal);
  const noPtrace = doctor(DEPLOY_CAPS.filter((c) => c !== 'sys_ptrace'));
  assert.match(noPtrace, /^ {2}uprobes +attach: TLS plaintext is captured$/m, noPtrace);
  assert.match(noPtrace, /^ {2}process maps +\d+ of \d+ processes unreadable \(needs CAP_SYS_PTRACE\)/m, noPtrace);
  assert.doesNotMatch(doctor(DEPLOY_CAPS), /needs CAP_/);
});

for (const missing of MINIMAL_CAPS) {
  test(`without CAP_${missing.toUpperCase()} it names what is missing and exits non-zero`, { skip, timeout: 30_000 }, () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tcpsniff-lp-'));
    const config = path.join(dir, 'p.yaml');
    fs.writeFileSync(config, pipeline(9, path.join(dir, 'out.jsonl')));
    const keep = MINIMAL_CAPS.filter((c) => c !== missing);
    const r = spawnSync(only(keep)[0]!, [...only(keep).slice(1), process.execPath, CLI, '--config', config], { encoding: 'utf8', timeout: 20_000 });
    fs.rmSync(dir, { recursive: true, force: true });
    assert.notEqual(r.status, 0, r.stderr);
    assert.match(r.stderr, new RegExp(`needs CAP_${missing.toUpperCase()}\\b`));
    assert.doesNotMatch(r.stderr, /\n\s+at /, 'a message, not a stack');
  });
}
