// kernelHasFunction against this machine's /proc/kallsyms (every kernel with TCP has tcp_sendmsg).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import { kernelFunctionsKnown, kernelHasFunction } from '../../src/receivers/kallsyms';

test('kallsyms: the kernel’s own functions, by whole name', { skip: !fs.existsSync('/proc/kallsyms') && 'no /proc/kallsyms' }, () => {
  assert.equal(kernelFunctionsKnown(), true);
  assert.equal(kernelHasFunction('tcp_sendmsg'), true);
  assert.equal(kernelHasFunction('tcp_sendms'), false, 'a prefix of a name is not the name');
  assert.equal(kernelHasFunction('cp_sendmsg'), false, 'a suffix of a name is not the name');
  assert.equal(kernelHasFunction('tcpsniff_no_such_function'), false);
});
