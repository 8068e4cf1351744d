// http processor configuration: defaults, user keys on top, errors naming their path.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ConfigError } from '../../src/core/component';
import { httpProcessorFactory } from '../../src/processors/http';
import { quietLogger } from './http-fixtures';

const P = 'processors::http';

test('config: factory identity', () => {
  assert.equal(httpProcessorFactory.type, 'http');
  assert.equal(httpProcessorFactory.kind, 'processor');
  assert.equal(httpProcessorFactory.stage, 'chunks');
});

test('config: defaults for an empty or missing section', () => {
  const expected = {
    capture_bodies: false,
    max_body_bytes: 65536,
    max_header_bytes: 65536,
    max_connections: 10000,
    max_pending_requests: 64,
    idle_timeout: 120000,
    inspect_bodies: 'auto',
    max_inspect_bytes: 1048576,
    capture_headers: [],
    service_names: {},
    command_line: false,
  };
  assert.deepEqual(httpProcessorFactory.parseConfig(undefined, P), expected);
  assert.deepEqual(httpProcessorFactory.parseConfig(null, P), expected);
  assert.deepEqual(httpProcessorFactory.parseConfig({}, P), expected);
});

test('config: user keys on top, units parsed', () => {
  const cfg = httpProcessorFactory.parseConfig(
    { capture_bodies: true, max_body_bytes: '1MiB', max_header_bytes: '8KiB', idle_timeout: '30s', service_names: { node: 'web', java: 1 } },
    P,
  );
  assert.equal(cfg.capture_bodies, true);
  assert.equal(cfg.max_body_bytes, 1048576);
  assert.equal(cfg.max_header_bytes, 8192);
  assert.equal(cfg.idle_timeout, 30000);
  assert.deepEqual(cfg.service_names, { node: 'web', java: '1' });
  assert.equal(cfg.max_connections, 10000);
});

function throwsAt(raw: unknown, path: string, detail?: RegExp) {
  assert.throws(
    () => httpProcessorFactory.parseConfig(raw, P),
    (e: unknown) => {
      assert.ok(e instanceof ConfigError, String(e));
      assert.equal(e.path, path);
      assert.ok(e.message.startsWith(`${path}: `), e.message);
      if (detail) assert.match(e.message, detail);
      return true;
    },
  );
}

test('config: unknown key and bad values are ConfigErrors naming the path', () => {
  throwsAt({ capture_body: true }, `${P}::capture_body`, /unknown key; valid keys: capture_bodies/);
  throwsAt({ max_body_bytes: 'lots' }, `${P}::max_body_bytes`, /byte size/);
  throwsAt({ max_body_bytes: -1 }, `${P}::max_body_bytes`);
  throwsAt({ max_header_bytes: 10 }, `${P}::max_header_bytes`, /at least 1024/);
  throwsAt({ capture_bodies: 'yes' }, `${P}::capture_bodies`, /true or false/);
  throwsAt({ max_connections: 0 }, `${P}::max_connections`, /at least 1/);
  throwsAt({ max_connections: 1.5 }, `${P}::max_connections`, /integer/);
  throwsAt({ max_pending_requests: '10' }, `${P}::max_pending_requests`, /integer/);
  throwsAt({ idle_timeout: '5 minutes' }, `${P}::idle_timeout`, /duration/);
  throwsAt({ service_names: ['a'] }, `${P}::service_names`, /mapping/);
  throwsAt({ service_names: { node: { x: 1 } } }, `${P}::service_names::node`, /string/);
  throwsAt('capture_bodies', P, /mapping/);
});

test('config: create gives a working component', async () => {
  const cfg = httpProcessorFactory.parseConfig({ idle_timeout: '50ms' }, P);
  const c = httpProcessorFactory.create(cfg, { id: 'http', logger: quietLogger }, { consumeSpans() {} });
  await c.start();
  await c.start();
  assert.equal(c.stats()['connections.active'], 0);
  await c.shutdown();
});
