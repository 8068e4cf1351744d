// The HPACK decoder against every story of the hpack-test-case corpus (../shared/corpora relative
// to the repository root): each story's cases share one decoding context; every header list is
// compared exactly, in order. header_table_size is the SETTINGS_HEADER_TABLE_SIZE acknowledged
// just before the case.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { HpackDecoder } from '../../src/processors/http/h2/hpack';

const ROOT = path.resolve(__dirname, '..', '..', '..');
const CORPUS = path.resolve(ROOT, '..', 'shared', 'corpora', 'hpack-test-case');

interface Case {
  seqno: number;
  header_table_size?: number;
  wire: string;
  headers: Array<Record<string, string>>;
}

function corpusDirs(): string[] {
  if (!fs.existsSync(CORPUS)) {
    throw new Error(`HPACK corpus not found at ${CORPUS}: the tests read ../shared/corpora/hpack-test-case next to the repository (CI provides it)`);
  }
  return fs
    .readdirSync(CORPUS)
    .filter((d) => d !== 'raw-data' && fs.statSync(path.join(CORPUS, d)).isDirectory())
    .sort();
}

test('the corpus is present and has encoder directories with stories', () => {
  const dirs = corpusDirs();
  assert.ok(dirs.length >= 5, `encoder directories: ${dirs.join(', ')}`);
  let stories = 0;
  for (const d of dirs) stories += fs.readdirSync(path.join(CORPUS, d)).filter((f) => /^story_\d+\.json$/.test(f)).length;
  assert.ok(stories >= 150, `stories: ${stories}`);
});

for (const dir of fs.existsSync(CORPUS) ? corpusDirs() : []) {
  test(`HPACK corpus: ${dir} (every story, every case, exact header lists)`, () => {
    const files = fs
      .readdirSync(path.join(CORPUS, dir))
      .filter((f) => /^story_\d+\.json$/.test(f))
      .sort();
    assert.ok(files.length > 0);
    let cases = 0;
    for (const f of files) {
      const story = JSON.parse(fs.readFileSync(path.join(CORPUS, dir, f), 'utf8')) as { cases: Case[] };
      const dec = new HpackDecoder({ maxListBytes: 1 << 20, maxFields: 10_000 });
      for (const c of story.cases) {
        if (c.header_table_size !== undefined) dec.setLimit(c.header_table_size);
        const r = dec.decode(Buffer.from(c.wire, 'hex'));
        const where = `${dir}/${f} case ${c.seqno}`;
        assert.ok(r.ok, `${where}: ${r.ok ? '' : r.error}`);
        const want = c.headers.map((h) => {
          const [name, value] = Object.entries(h)[0]!;
          return [name, value];
        });
        assert.deepEqual(
          r.fields.map((x) => [x.name, x.value]),
          want,
          where,
        );
        assert.equal(r.unknown, 0, where);
        assert.equal(r.dropped, 0, where);
        cases++;
      }
    }
    assert.ok(cases > 0);
  });
}
