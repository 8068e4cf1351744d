// Least privilege: the collector runs as uid 0 but with a capability bounding set of only
// CAP_BPF and CAP_PERFMON (setpriv drops everything else, as the systemd unit's
// CapabilityBoundingSet and the DaemonSet's capabilities do), and still captures real traffic,
// a body sent with sendfile(2) included (the deploy pipelines list the sendfile receiver);
// with either one missing it names the missing capability and exits non-zero.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { ROOT, freePort, readSpans, run, startServer, stop, spansOf, SERVER, CLIENT } from './harness';
import { startCli } from './backends';

import { MINIMAL_CAPS } from '../unit/helpers/least-privilege';

const CAP_BITS: Record<string, number> = { bpf: 39, perfmon: 38 };
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
