// A fresh checkout, first run by a user other than root: `help` and `validate` build only the
// JavaScript side (scripts/setup.sh --js-only) and never ask to install anything, even on a
// machine with no Debian package installed (a dpkg-query that finds none stands in for one).
// Root is needed to switch to that user (setpriv).

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { ROOT } from './harness';

const NOBODY = 65534;

/** The checkout's own files (tracked and new, not ignored) copied with their times, owned by nobody. */
function freshCheckout(): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tcpsniff-fresh-'));
  const files = spawnSync('git', ['ls-files', '-z', '--cached', '--others', '--exclude-standard'], { cwd: ROOT, encoding: 'utf8' });
  assert.equal(files.status, 0, files.stderr);
  for (const f of files.stdout.split('\0').filter(Boolean)) {
    if (!fs.existsSync(path.join(ROOT, f))) continue; // deleted in the work tree
    fs.mkdirSync(path.dirname(path.join(dir, f)), { recursive: true });
    fs.cpSync(path.join(ROOT, f), path.join(dir, f), { preserveTimestamps: true });
  }
  // The npm dependencies as `npm ci` left them (read only: they are older than the lock file,
  // so the set-up does not install them again).
  fs.symlinkSync(path.join(ROOT, 'node_modules'), path.join(dir, 'node_modules'));
  const r = spawnSync('chown', ['-R', `${NOBODY}:${NOBODY}`, dir]);
  assert.equal(r.status, 0);
  fs.chmodSync(dir, 0o755);
  return dir;
}

/** PATH of a machine whose Node is the one this suite runs on, and whose dpkg knows no package. */
function freshPath(dir: string): string {
  const bin = path.join(dir, '.fresh-machine-bin');
  fs.mkdirSync(bin);
  fs.symlinkSync(process.execPath, path.join(bin, 'node'));
  fs.writeFileSync(path.join(bin, 'dpkg-query'), '#!/bin/sh\nexit 1\n', { mode: 0o755 });
  return `${bin}:/usr/bin:/bin`;
}

test('a fresh checkout, first run by nobody: help and validate build the JavaScript only and install nothing', { timeout: 300_000 }, (t) => {
  if (process.getuid?.() !== 0) return t.skip('needs root to run as another user');
  if (spawnSync('setpriv', ['--version']).status !== 0) return t.skip('setpriv (util-linux) is missing');
  const dir = freshCheckout();
  t.after(() => fs.rmSync(dir, { recursive: true, force: true }));
  const env = { PATH: freshPath(dir), HOME: dir, LANG: 'C.UTF-8' };
  const asNobody = (...args: string[]) =>
    spawnSync('setpriv', [`--reuid=${NOBODY}`, `--regid=${NOBODY}`, '--clear-groups', path.join(dir, 'bin', 'tcpsniff-collector'), ...args], {
      cwd: dir,
      env,
      encoding: 'utf8',
      timeout: 280_000,
    });

  const help = asNobody('help');
  assert.equal(help.status, 0, help.stderr);
  assert.match(help.stdout, /^tcpsniff-collector: turns the TCP traffic/, 'stdout is the help text alone');
  assert.match(help.stderr, /setup: compiling TypeScript/);
  assert.doesNotMatch(help.stderr, /Debian|sudo|apt-get|missing/i, 'never asked to install anything');
  for (const notBuilt of ['build', 'dist/bpf', '.cache/libbpf']) assert.ok(!fs.existsSync(path.join(dir, notBuilt)), `${notBuilt} was built`);

  // Built once: the next command starts at once, with no set-up at all.
  const validate = asNobody('validate', '--config', 'config/default.yaml');
  assert.equal(validate.status, 0, validate.stderr);
  assert.match(validate.stdout, /^OK: config\/default\.yaml: /);
  assert.equal(validate.stderr, '');
});
