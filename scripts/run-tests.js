#!/usr/bin/env node
// The README's test command (after `npm run setup`, which npm runs first as `pretest`):
// unit tests, then integration tests against the machine's own kernel with real programs.
// Integration tests need root (they load eBPF programs); without it they are reported as
// skipped with the reason, never as passed.
'use strict';
const { spawnSync } = require('node:child_process');
const fs = require('node:fs');
const path = require('node:path');

const root = path.resolve(__dirname, '..');
const list = (dir) => {
  const d = path.join(root, 'dist', 'test', dir);
  return fs.existsSync(d)
    ? fs
        .readdirSync(d)
        .filter((f) => f.endsWith('.test.js'))
        .sort()
        .map((f) => path.join(d, f))
    : [];
};

const only = process.argv[2]; // optional: 'unit' or 'integration'
const files = [];
if (!only || only === 'unit') files.push(...list('unit'));
if (!only || only === 'integration') {
  if (process.getuid && process.getuid() === 0) files.push(...list('integration'));
  else console.log('# integration tests skipped: they load eBPF programs and need root (sudo npm test)');
}
if (files.length === 0) {
  console.error('no test files found under dist/test — did the TypeScript build run?');
  process.exit(1);
}
// One file at a time: integration tests start collectors and servers, and 2 cores are few.
const r = spawnSync(process.execPath, ['--test', '--test-concurrency=1', '--test-reporter=spec', ...files], {
  stdio: 'inherit',
  cwd: root,
});
process.exit(r.status ?? 1);
