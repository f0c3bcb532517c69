import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { describe, it } from 'node:test';
import { REPO_ROOT } from '../helpers/gateway-process.js';

/**
 * The README and docs/ link to each other by file and section: every relative link must
 * lead to a file that exists and, with `#section`, to a heading that exists there (GitHub's
 * anchors), so moving a section cannot leave a dead link behind.
 */

const DOCS = [
  'README.md',
  'CHANGELOG.md',
  'examples/README.md',
  'rules/README.md',
  'templates/README.md',
  'bench/README.md',
  ...readdirSync(join(REPO_ROOT, 'docs'))
    .filter((f) => f.endsWith('.md'))
    .map((f) => `docs/${f}`),
];

/** GitHub's anchor for a heading: lower case, markup and punctuation dropped, spaces to dashes. */
function anchorOf(heading: string): string {
  return heading
    .replace(/`/g, '')
    .replace(/\[([^\]]*)\]\([^)]*\)/g, '$1')
    .trim()
    .toLowerCase()
    .replace(/[^\p{L}\p{N}\s_-]/gu, '')
    .replace(/\s/g, '-');
}

function anchors(markdown: string): Set<string> {
  const seen = new Map<string, number>();
  const result = new Set<string>();
  let fenced = false;
  for (const line of markdown.split('\n')) {
    if (line.startsWith('```')) fenced = !fenced;
    const heading = !fenced ? /^#{1,6}\s+(.*)$/.exec(line)?.[1] : undefined;
    if (heading === undefined) continue;
    const base = anchorOf(heading);
    const n = seen.get(base) ?? 0;
    seen.set(base, n + 1);
    result.add(n === 0 ? base : `${base}-${n}`);
  }
  return result;
}

function links(markdown: string): string[] {
  const withoutCode = markdown.replace(/```[\s\S]*?```/g, '').replace(/`[^`\n]*`/g, '');
  return [...withoutCode.matchAll(/\]\(([^)\s]+)\)/g)].map((m) => m[1] ?? '').filter((l) => !/^[a-z]+:/i.test(l));
}

describe('links in the README and docs/', () => {
  it('finds headings the way GitHub names them', () => {
    assert.equal(anchorOf('Relaying for real: outgoing accounts'), 'relaying-for-real-outgoing-accounts');
    assert.equal(anchorOf('`listeners[]`'), 'listeners');
    assert.equal(anchorOf('Events (`src/events.ts`)'), 'events-srceventsts');
  });

  for (const doc of DOCS) {
    it(`${doc}: every relative link leads somewhere`, () => {
      const file = join(REPO_ROOT, doc);
      assert.ok(existsSync(file), `${doc} exists`);
      for (const link of links(readFileSync(file, 'utf8'))) {
        const [path = '', anchor] = link.split('#');
        const target = path === '' ? file : resolve(dirname(file), path);
        assert.ok(existsSync(target), `${doc}: ${link}: ${relative(REPO_ROOT, target)} does not exist`);
        if (anchor && statSync(target).isFile() && target.endsWith('.md')) {
          assert.ok(anchors(readFileSync(target, 'utf8')).has(anchor), `${doc}: ${link}: no heading #${anchor} in ${relative(REPO_ROOT, target)}`);
        }
      }
    });
  }
});
