'use strict';
// The documentation holds together: every relative link in README.md, CHANGELOG.md and docs/*.md
// names a file that exists, and every #anchor a heading of the page it points at (GitHub's ids);
// the README's comparison is the benchmark's latest figures; docs/benchmarks.md keeps the markers
// `npm run bench` writes its tables between; every `file:line` in docs/trace.md is the line of what
// it names.
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');

const ROOT = path.join(__dirname, '..');
const PAGES = [
  'README.md',
  'CHANGELOG.md',
  ...fs
    .readdirSync(path.join(ROOT, 'docs'))
    .filter((f) => f.endsWith('.md'))
    .map((f) => `docs/${f}`),
];
// The recipes land from their own branch: until examples/recipes/ exists, links into it wait.
const PENDING = path.join(ROOT, 'examples', 'recipes');

// Markdown outside fenced code blocks, a line at a time with its number.
function proseLines(markdown) {
  const out = [];
  let fence = null;
  markdown.split('\n').forEach((line, i) => {
    const mark = /^\s*(```|~~~)/.exec(line);
    if (mark) {
      if (fence === null) fence = mark[1];
      else if (fence === mark[1]) fence = null;
      return;
    }
    if (fence === null) out.push({ line, number: i + 1 });
  });
  return out;
}

// GitHub's id for a heading: its text as rendered (code spans, links and emphasis reduced to their
// text), lower case, punctuation and symbols removed, spaces turned into hyphens.
function slug(heading) {
  const text = heading
    .replace(/`([^`]*)`/g, '$1')
    .replace(/!?\[([^\]]*)\]\([^)]*\)/g, '$1')
    .replace(/\*+/g, '');
  return text
    .trim()
    .toLowerCase()
    .replace(/[^\p{L}\p{M}\p{N}\p{Pc} -]/gu, '')
    .replace(/ /g, '-');
}

// The ids of a page's headings; a repeated heading gets -1, -2, … as on GitHub.
function anchors(markdown) {
  const seen = new Map();
  const ids = new Set();
  for (const { line } of proseLines(markdown)) {
    const h = /^#{1,6}\s+(.*?)\s*#*\s*$/.exec(line);
    if (!h) continue;
    const base = slug(h[1]);
    const n = seen.get(base) || 0;
    seen.set(base, n + 1);
    ids.add(n === 0 ? base : `${base}-${n}`);
  }
  return ids;
}

// Links and images outside code: [text](target) and ![alt](target).
function links(markdown) {
  const out = [];
  for (const { line, number } of proseLines(markdown)) {
    const prose = line.replace(/`[^`]*`/g, '``');
    for (const m of prose.matchAll(/!?\[[^\]]*\]\(([^)\s]+)(?:\s+"[^"]*")?\)/g))
      out.push({ target: m[1], line: number });
  }
  return out;
}

// What is wrong with the links of `file` (a path under root): a list of messages, empty when none.
function brokenLinks(root, file) {
  const own = fs.readFileSync(path.join(root, file), 'utf8');
  const problems = [];
  for (const { target, line } of links(own)) {
    if (/^[a-z][a-z0-9+.-]*:/i.test(target)) continue; // https:, mailto:: not ours to check
    const [where, anchor] = target.split('#');
    const resolved =
      where === ''
        ? path.join(root, file)
        : path.resolve(path.dirname(path.join(root, file)), decodeURI(where));
    if (!fs.existsSync(resolved)) {
      const pending = resolved.startsWith(`${PENDING}${path.sep}`) && !fs.existsSync(PENDING);
      if (!pending) problems.push(`${file}:${line}: ${target}: no such file`);
      continue;
    }
    if (anchor === undefined) continue;
    if (!resolved.endsWith('.md')) {
      problems.push(`${file}:${line}: ${target}: an anchor into a file that is not markdown`);
      continue;
    }
    const ids = anchors(
      resolved === path.join(root, file) ? own : fs.readFileSync(resolved, 'utf8'),
    );
    if (!ids.has(anchor))
      problems.push(`${file}:${line}: ${target}: no heading with the id ${anchor}`);
  }
  return problems;
}

describe('links', () => {
  test.each(PAGES)('%s: every relative link and anchor resolves', (page) => {
    expect(brokenLinks(ROOT, page)).toEqual([]);
  });

  test('the docs pages are linked from the README', () => {
    const targets = links(fs.readFileSync(path.join(ROOT, 'README.md'), 'utf8')).map(
      (l) => l.target.split('#')[0],
    );
    for (const page of PAGES.filter((p) => p.startsWith('docs/'))) expect(targets).toContain(page);
    expect(targets).toContain('CHANGELOG.md');
  });

  test('the checker finds a missing file, a missing heading and a missing anchor in another page', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ned-docs-'));
    try {
      fs.mkdirSync(path.join(dir, 'docs'));
      fs.writeFileSync(path.join(dir, 'docs', 'b.md'), '# Bee\n\n## `flush()` and close()\n');
      fs.writeFileSync(
        path.join(dir, 'a.md'),
        [
          '# A',
          '',
          '## Options',
          '## Options',
          '',
          '[ok](docs/b.md) [ok](docs/b.md#flush-and-close) [ok](#options-1) [ok](https://example.com/x#y)',
          '```',
          '[in code](missing-in-code.md)',
          '```',
          '`[in a code span](missing-in-span.md)`',
          '[gone](docs/none.md) [no such heading](#nothing) [not there](docs/b.md#wasp)',
        ].join('\n'),
      );
      expect(brokenLinks(dir, 'a.md')).toEqual([
        'a.md:11: docs/none.md: no such file',
        'a.md:11: #nothing: no heading with the id nothing',
        'a.md:11: docs/b.md#wasp: no heading with the id wasp',
      ]);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  test("GitHub's ids for the README's headings", () => {
    const ids = anchors(fs.readFileSync(path.join(ROOT, 'README.md'), 'utf8'));
    for (const id of [
      'security-credentials-and-the-spool',
      'the-transport-dispatchevent',
      'flush-and-close',
      'v6-optimizelyoptimizely-sdk-6x-promise-interface',
      'the-warning-ned_fallback_transport',
      'other-event-sdks-createfetch-and-adapters',
    ]) {
      expect(ids).toContain(id);
    }
  });
});

// A page's blocks, each one string with the number of its first line: a table row, a list item
// or a paragraph (with the lines that continue it).
function blocks(markdown) {
  const out = [];
  let current = null;
  for (const { line, number } of proseLines(markdown)) {
    if (line.trim() === '') {
      current = null;
      continue;
    }
    const row = line.startsWith('|');
    if (current === null || current.row || row || /^(\s*([-*+]|\d+\.)\s|#)/.test(line)) {
      current = { text: line, number, row };
      out.push(current);
    } else {
      current.text += `\n${line}`;
    }
  }
  return out;
}

const PATH = /^((?:[\w.-]+\/)+[\w.-]+\.\w+)(?::(\d+))?$/; // lib/x.js, src/y.cc:12
const NAME = /^[A-Za-z_~]\w*(?:(?:#|::|\.|->)[A-Za-z_~]\w*)*(?:\(.*\))?$/; // Pump::Submit, f()

// What a name is looked for by on its line: the part after the last #, :: , . or ->, without
// arguments (`Dispatcher#send` → send, `completions.copiedBytes()` → copiedBytes).
const lastPart = (name) =>
  name
    .replace(/\(.*\)$/, '')
    .split(/#|::|\.|->/)
    .pop();

// The `file:line` references of a page (docs/trace.md), in order: { at, file, line, name }, the
// name undefined when there is none. The forms:
//   `path:NNN`, named by a `Name` right after it, or else by one right before it with " (" or ", "
//     between: `src/pump.cc:67` `Pump::Submit`, `Wake` (`src/channel.h:104`);
//   `Name` :NNN, `Name` (:NNN), or :NNN alone: that line of the last full path before it in the
//     same block (table row, list item or paragraph).
function lineReferences(markdown) {
  const refs = [];
  for (const { text, number } of blocks(markdown)) {
    const parts = text.split(/(`[^`]*`)/); // the odd ones are code spans
    const code = (i) => (i % 2 === 1 && i > 0 && i < parts.length ? parts[i].slice(1, -1) : null);
    const taken = new Set(); // code spans already given to a reference as its name
    const nameAt = (i) => {
      const c = code(i);
      if (c === null || taken.has(i) || !NAME.test(c)) return undefined;
      taken.add(i);
      return c;
    };
    let file = null;
    const short = (line, nameIndex) =>
      refs.push({ at: number, file, line: Number(line), name: nameAt(nameIndex) });
    for (let i = 0; i < parts.length; i++) {
      if (i % 2 === 0) {
        // Bare ones; the name is the code span just before, when only a space (and "(") is between.
        for (const m of parts[i].matchAll(/(^|[\s(]):(\d+)\b/g)) {
          const before = parts[i].slice(0, m.index + m[1].length);
          short(m[2], /^\s+\(?$/.test(before) ? i - 1 : -1);
        }
        continue;
      }
      const c = code(i);
      const path = PATH.exec(c);
      if (path) {
        file = path[1];
        if (path[2] === undefined) continue;
        let name;
        if (/^\s+$/.test(parts[i + 1] || '')) name = nameAt(i + 2);
        if (name === undefined && /^\**(\s+\(|,\s*)$/.test(parts[i - 1])) name = nameAt(i - 2);
        refs.push({ at: number, file, line: Number(path[2]), name });
        continue;
      }
      const bare = /^:(\d+)$/.exec(c);
      if (bare) short(bare[1], /^\s+\(?$/.test(parts[i - 1]) ? i - 2 : -1);
    }
  }
  return refs;
}

// What is wrong with the line references of `file` (a path under root): a list of messages.
function wrongLines(root, file) {
  const problems = [];
  const sources = new Map();
  for (const ref of lineReferences(fs.readFileSync(path.join(root, file), 'utf8'))) {
    const where = `${file}:${ref.at}: ${ref.file}:${ref.line}`;
    if (ref.file === null) {
      problems.push(`${file}:${ref.at}: :${ref.line}: no file named before it in its block`);
      continue;
    }
    if (!sources.has(ref.file)) {
      const full = path.join(root, ref.file);
      sources.set(ref.file, fs.existsSync(full) ? fs.readFileSync(full, 'utf8').split('\n') : null);
    }
    const lines = sources.get(ref.file);
    if (lines === null) {
      problems.push(`${where}: no such file`);
      continue;
    }
    const count = lines.length - (lines[lines.length - 1] === '' ? 1 : 0);
    if (ref.line < 1 || ref.line > count) {
      problems.push(`${where}: the file has ${count} lines`);
      continue;
    }
    if (ref.name === undefined) continue;
    const part = lastPart(ref.name);
    const text = lines[ref.line - 1];
    if (!new RegExp(`(^|\\W)${part}(\\W|$)`).test(text))
      problems.push(`${where} names ${ref.name}, but the line is: ${text.trim()}`);
  }
  return problems;
}

describe('the trace', () => {
  test('docs/trace.md: every file:line reference points at what it names', () => {
    const refs = lineReferences(fs.readFileSync(path.join(ROOT, 'docs', 'trace.md'), 'utf8'));
    expect(refs.length).toBeGreaterThan(100); // the parser still finds them
    expect(wrongLines(ROOT, 'docs/trace.md')).toEqual([]);
  });
});

describe('the benchmark figures', () => {
  const results = JSON.parse(fs.readFileSync(path.join(ROOT, 'bench', 'results.json'), 'utf8'));
  const scenario = (id) => results.scenarios.find((s) => s.id === id).clients;
  const us = (v) => `${Math.round(v)} µs`;
  const count = (v) => Math.round(v).toLocaleString('en-US');
  const readme = fs.readFileSync(path.join(ROOT, 'README.md'), 'utf8');
  const firstScreen = readme.slice(0, readme.indexOf('\n## Install'));

  test.each([
    ['native-event-dispatcher', 'dispatcher'],
    ['Optimizely SDK', 'optimizely'],
    ['undici', 'undici'],
  ])("the README's comparison row for %s is the latest run's", (label, client) => {
    const row = firstScreen.split('\n').find((l) => l.startsWith('|') && l.includes(label));
    const cells = row
      .split('|')
      .slice(2, -1)
      .map((c) => c.replace(/\*\*/g, '').trim());
    const rate = scenario('rate')[client];
    expect(cells).toEqual([
      us(rate.mainCpuUsPerReq),
      `+${us(rate.mainBeyondSerialiseUsPerReq)}`,
      us(rate.processCpuUsPerReq),
      count(scenario('loopback-64')[client].throughput),
      count(scenario('tls-64')[client].throughput),
    ]);
  });

  test("the README says when, what the floor is, and the fallback's figures", () => {
    const flat = firstScreen.replace(/\s+/g, ' ');
    expect(flat).toContain(`Measured ${results.machine.date}`);
    expect(flat).toContain(
      `${us(scenario('rate').serialise.mainCpuUsPerReq)} of every main-thread figure`,
    );
    expect(flat).toContain(
      `${us(scenario('rate').fallback.mainCpuUsPerReq)} on the main thread, ${count(scenario('loopback-64').fallback.throughput)} requests/s`,
    );
    expect(flat).toContain('[docs/benchmarks.md](docs/benchmarks.md)');
  });

  test('docs/benchmarks.md has the markers npm run bench writes between, once each', () => {
    const page = fs.readFileSync(path.join(ROOT, 'docs', 'benchmarks.md'), 'utf8');
    expect(page.split('<!-- bench:start -->')).toHaveLength(2);
    expect(page.split('<!-- bench:end -->')).toHaveLength(2);
    expect(page.indexOf('<!-- bench:start -->')).toBeLessThan(page.indexOf('<!-- bench:end -->'));
    expect(readme).not.toContain('<!-- bench:start -->');
  });
});
