// Lifecycle conformance of every registered component (src/components.ts, read here, never listed
// by hand, so a new component is covered when it is registered): create → start → shutdown twice,
// and create → shutdown without start. Nothing throws, nothing hangs, and a second shutdown changes
// nothing. Receivers load their BPF objects for real (tests run as root); exporters send to a port
// nobody listens on and must still stop within the service's own per-component limit.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { builtinRegistry } from '../../src/components';
import type { AnyFactory } from '../../src/config/registry';
import { UserError, type Component, type CreateContext } from '../../src/core/component';
import { missingBpfPrivileges } from '../../src/receivers/privileges';
import { freePort } from '../integration/harness';
import { DISCARD, chunk, makeSpan, memoryLogger } from './helpers/fakes';

/** The service gives up on a component's shutdown after this long (ServiceOptions.componentShutdownTimeoutMs). */
const SHUTDOWN_LIMIT_MS = 15_000;
/** Loading and attaching BPF objects on a busy shared host. */
const START_LIMIT_MS = 60_000;

const registry = builtinRegistry();
const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tcpsniff-lifecycle-'));
process.on('exit', () => fs.rmSync(dir, { recursive: true, force: true }));

/**
 * Settings that keep a component to itself on a shared host: receivers on a port (or a socket path)
 * nothing uses, exporters to a closed port or a scratch file. Every other type runs its defaults.
 */
async function settingsFor(f: AnyFactory): Promise<Record<string, unknown>> {
  switch (`${f.kind}/${f.type}`) {
    case 'receiver/tcp':
      return { ports: [await freePort()], ring_buffer_bytes: '1MiB' };
    case 'receiver/unix':
      return { include: [path.join(dir, 'nobody.sock')], ring_buffer_bytes: '1MiB' };
    case 'exporter/file':
      return { path: path.join(dir, `${f.type}.jsonl`) };
    case 'exporter/otlp_grpc':
    case 'exporter/otlp_js':
      return { endpoint: `127.0.0.1:${await freePort()}`, tls: { insecure: true } };
    default:
      return {};
  }
}

async function within<T>(ms: number, what: string, p: Promise<T>): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error(`${what} did not finish within ${ms} ms`)), ms)));
  try {
    return await Promise.race([p, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

interface Made {
  component: Component;
  /** A receiver it joins (sendfile → tcp), created first as the service does. */
  joined?: Component;
}

async function make(f: AnyFactory): Promise<Made> {
  const ctx = (id: string, more: Partial<CreateContext> = {}): CreateContext => ({ id, logger: memoryLogger(), ...more });
  const cfg = f.parseConfig(await settingsFor(f), `${f.kind}s::${f.type}`);
  const joins = f.capabilities?.joins?.(cfg);
  if (!joins) return { component: f.create(cfg, ctx(f.type), DISCARD) };
  const target = registry.get('receiver', joins.type)!;
  const joined: Component = target.create(target.parseConfig(await settingsFor(target), `receivers::${joins.receiver}`), ctx(joins.receiver), DISCARD);
  return { component: f.create(cfg, ctx(f.type, { joined }), DISCARD), joined };
}

/** Something to hold, so shutdown has something to flush (an exporter: to a dead backend). */
function feed(f: AnyFactory, c: Component): void {
  if (f.kind === 'receiver') return;
  if (f.stage === 'chunks') (c as Component & { consumeChunks: (x: unknown[]) => void }).consumeChunks([chunk('lifecycle')]);
  else (c as Component & { consumeSpans: (x: unknown[]) => void }).consumeSpans([makeSpan()]);
}

async function shutdownTwice(label: string, c: Component): Promise<void> {
  await within(SHUTDOWN_LIMIT_MS, `${label}: shutdown`, c.shutdown());
  const after = c.stats();
  await within(SHUTDOWN_LIMIT_MS, `${label}: second shutdown`, c.shutdown());
  assert.deepEqual(c.stats(), after, `${label}: a second shutdown changes nothing`);
}

/** Why a component cannot start here, said per component rather than skipped in silence. */
function cannotStart(f: AnyFactory): string | undefined {
  return f.kind === 'receiver' ? (missingBpfPrivileges() ?? undefined) : undefined;
}

for (const f of registry.factories()) {
  const label = `${f.kind}/${f.type}`;

  test(`lifecycle ${label}: create → start → shutdown → shutdown`, { timeout: START_LIMIT_MS + 3 * SHUTDOWN_LIMIT_MS }, async () => {
    const { component, joined } = await make(f);
    const why = cannotStart(f);
    const start = async (c: Component, what: string) => {
      const started = within(START_LIMIT_MS, what, c.start());
      // Not root: a receiver refuses to start with a user error naming what is missing, and still stops cleanly.
      if (why === undefined) await started;
      else await assert.rejects(started, (e: Error) => e instanceof UserError, `${what}: expected a user error (${why})`);
    };
    if (joined) await start(joined, `${label}: start of the receiver it joins`);
    await start(component, `${label}: start`);
    if (why === undefined) feed(f, component);
    await shutdownTwice(label, component);
    if (joined) await shutdownTwice(`${label}'s joined receiver`, joined);
  });

  test(`lifecycle ${label}: create → shutdown without start`, { timeout: 3 * SHUTDOWN_LIMIT_MS }, async () => {
    const { component, joined } = await make(f);
    await shutdownTwice(label, component);
    if (joined) await shutdownTwice(`${label}'s joined receiver`, joined);
  });
}

test('lifecycle: every kind of component is registered and covered above', () => {
  const kinds = new Set(registry.factories().map((f) => f.kind));
  assert.deepEqual([...kinds].sort(), ['exporter', 'processor', 'receiver']);
});
