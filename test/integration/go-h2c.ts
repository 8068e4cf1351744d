// The Go h2c peer of the HTTP/2 tests (test/fixtures/go-h2c: net/http, standard library only),
// built from source into .cache on first use.
import * as path from 'node:path';
import { ROOT, run } from './harness';

const SRC = path.join(ROOT, 'test', 'fixtures', 'go-h2c');
const BIN = path.join(ROOT, '.cache', 'go-h2c');
let built: Promise<string> | null = null;

/** Path of the go-h2c binary (`go build` runs once per test process; Go caches the rest). */
export function goH2c(): Promise<string> {
  built ??= run('go', ['-C', SRC, 'build', '-o', BIN, '.']).then(() => BIN);
  return built;
}
