import { test } from 'node:test';
import assert from 'node:assert/strict';
import { BatchProcessor, batchProcessorFactory } from '../../src/processors/batch';
import type { SpanRecord } from '../../src/core/types';
import { makeSpan, memoryLogger } from './helpers/fakes';

function batcher(settings: Record<string, unknown>) {
  const batches: SpanRecord[][] = [];
  const p = new BatchProcessor(
    batchProcessorFactory.parseConfig(settings, 'processors::batch'),
    { id: 'batch', logger: memoryLogger() },
    { consumeSpans: (s) => batches.push(s) },
  );
  return { p, batches, sizes: () => batches.map((b) => b.length) };
}
const spans = (n: number) => Array.from({ length: n }, () => makeSpan());
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

test('sends at send_batch_size at once, keeping order', async () => {
  const { p, batches, sizes } = batcher({ send_batch_size: 4, timeout: '1h' });
  await p.start();
  const input = spans(10);
  p.consumeSpans(input.slice(0, 3));
  assert.deepEqual(sizes(), []);
  p.consumeSpans(input.slice(3, 10));
  assert.deepEqual(sizes(), [10], 'without a max, the whole buffer goes once the size is reached');
  assert.deepEqual(batches.flat(), input);
  await p.shutdown();
});

test('send_batch_max_size splits, and the rest waits for the timeout', async () => {
  const { p, sizes } = batcher({ send_batch_size: 4, send_batch_max_size: 5, timeout: '50ms' });
  await p.start();
  p.consumeSpans(spans(13));
  assert.deepEqual(sizes(), [5, 5], 'two full batches; 3 spans stay below send_batch_size');
  await sleep(120);
  assert.deepEqual(sizes(), [5, 5, 3]);
  assert.equal(p.stats()['batches.by_timeout'], 1);
  assert.equal(p.stats()['batches.by_size'], 2);
  await p.shutdown();
});

test('timeout counts from the first span of a batch', async () => {
  const { p, sizes } = batcher({ send_batch_size: 100, timeout: '80ms' });
  await p.start();
  p.consumeSpans(spans(1));
  await sleep(50);
  p.consumeSpans(spans(1));
  await sleep(50);
  assert.deepEqual(sizes(), [2]);
  await p.shutdown();
});

test('timeout 0 hands every call on at once (split by the max)', async () => {
  const { p, sizes } = batcher({ send_batch_size: 100, send_batch_max_size: 100, timeout: 0 });
  await p.start();
  p.consumeSpans(spans(3));
  p.consumeSpans(spans(250));
  assert.deepEqual(sizes(), [3, 100, 100, 50]);
  await p.shutdown();
});

test('shutdown flushes what is buffered; the buffer never exceeds the batch size plus one call', async () => {
  const { p, sizes } = batcher({ send_batch_size: 50, timeout: '1h' });
  await p.start();
  for (let i = 0; i < 100; i++) {
    p.consumeSpans(spans(7));
    assert.ok(p.stats()['buffer.spans']! < 50);
  }
  const before = sizes().reduce((a, b) => a + b, 0);
  await p.shutdown();
  assert.equal(
    sizes().reduce((a, b) => a + b, 0),
    700,
  );
  assert.ok(before < 700);
  assert.equal(p.stats()['buffer.spans'], 0);
});

test('config: max must be 0 or at least the size', () => {
  assert.throws(
    () => batchProcessorFactory.parseConfig({ send_batch_size: 10, send_batch_max_size: 5 }, 'processors::batch'),
    /processors::batch::send_batch_max_size: must be 0 or at least send_batch_size \(10\), got 5/,
  );
  assert.deepEqual(batchProcessorFactory.parseConfig(undefined, 'processors::batch'), { send_batch_size: 8192, send_batch_max_size: 0, timeout: 200 });
});
