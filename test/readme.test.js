'use strict';
// The README's examples are the files in examples/ (kept identical by scripts/readme-examples.js),
// and each of them runs here against a local collector.
const fs = require('node:fs');
const path = require('node:path');
const { execFile } = require('node:child_process');
const { blocks } = require('../scripts/readme-examples');
const { startCollector } = require('./helpers/collector');
const { closedPort } = require('./helpers/servers');
const { useCleanup } = require('./helpers/cleanup');
const { lineProcess } = require('./helpers/processes');

const ROOT = path.join(__dirname, '..');
// Where the example files run from: this clone, or — for the newcomer's path
// (scripts/test-newcomer.sh) — a consumer app that installed the packed package and pasted them in.
const EXAMPLES = process.env.NED_EXAMPLES_ROOT || ROOT;

// Each example runs exactly as the README shows it (an ES module, as pasted), from a clone: the
// SDK examples read the example datafile beside them (examples/datafile.json), and node's own
// flags (the v5 SDK is installed here under an alias, which a resolve hook maps to the name the
// example imports). A variable set to undefined is removed.
function run(file, env, flags = []) {
  return new Promise((resolve) => {
    const environment = { ...process.env, ...env };
    delete environment.OPTIMIZELY_DATAFILE;
    for (const [name, value] of Object.entries(environment))
      if (value === undefined) delete environment[name];
    execFile(
      process.execPath,
      [...flags, path.join(EXAMPLES, file)],
      { env: environment, cwd: EXAMPLES },
      (err, stdout, stderr) => {
        resolve({ code: err ? err.code : 0, stdout, stderr });
      },
    );
  });
}
const V5_ALIAS = ['--import', path.join(ROOT, 'test', 'fixtures', 'optimizely-v5-alias.mjs')];

test('every example block in the README is the runnable file it names', () => {
  const found = blocks(fs.readFileSync(path.join(ROOT, 'README.md'), 'utf8'));
  expect(found.map((b) => b.file).sort()).toEqual([
    'examples/dispatcher.mjs',
    'examples/optimizely-v5.mjs',
    'examples/optimizely-v6.mjs',
    'examples/otlp-traces.mjs',
    'examples/prometheus.mjs',
    'examples/transport.mjs',
  ]);
  for (const b of found) expect(b.inReadme).toBe(b.expected);
});

describe('the examples run', () => {
  let c;
  beforeEach(async () => {
    c = await startCollector();
  });
  afterEach(() => c.close());

  test('Optimizely v6: a decision and a conversion arrive', async () => {
    const r = await run('examples/optimizely-v6.mjs', { EVENT_ENDPOINT: c.url });
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(
      /(treatment|control) \{\s+delivered: 1,\s+spooled: 0,\s+lost: 0,\s+failed: 0,\s+events: \{ delivered: 2, spooled: 0, lost: 0, failed: 0 \}\s+\}/,
    );
    expect(c.received.size).toBe(2);
  });

  test('Optimizely v4/v5: the decision arrives', async () => {
    const r = await run('examples/optimizely-v5.mjs', { EVENT_ENDPOINT: c.url }, V5_ALIAS);
    expect(r.code).toBe(0);
    expect(r.stderr).toBe('');
    expect(r.stdout).toMatch(
      /\{\s+delivered: 1,\s+spooled: 0,\s+lost: 0,\s+failed: 0,\s+events: \{ delivered: 1, spooled: 0, lost: 0, failed: 0 \}\s+\}/,
    );
    expect(c.received.size).toBe(1);
  });

  test('the dispatcher: a batch of one visitor, delivered, and counted as one event', async () => {
    const r = await run('examples/dispatcher.mjs', { EVENT_ENDPOINT: c.url });
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('{ statusCode: 204, attempts: 1 } 1');
    expect(r.stdout).toMatch(
      /\{\s+delivered: 1,\s+spooled: 0,\s+lost: 0,\s+failed: 0,\s+events: \{ delivered: 1, spooled: 0, lost: 0, failed: 0 \}\s+\}/,
    );
    expect(c.requests).toHaveLength(1);
    expect(c.received.size).toBe(1);
  });

  test('the transport, answered and refused', async () => {
    const ok = await run('examples/transport.mjs', { EVENT_ENDPOINT: c.url });
    expect(ok.code).toBe(0);
    expect(ok.stderr).toBe('');
    expect(ok.stdout.trim()).toBe('204 (no body)');
    const port = await closedPort();
    const refused = await run('examples/transport.mjs', {
      EVENT_ENDPOINT: `http://127.0.0.1:${port}/v1/events`,
    });
    expect(refused.code).toBe(0);
    expect(refused.stderr).toMatch(/^ECONNREFUSED 7 POST http:\/\/127\.0\.0\.1:\d+\/v1\/events: /);
  });
});

describe('the examples without a collector of their own', () => {
  const { later, collector } = useCleanup();

  test('the transport prints what a strict endpoint answered: the status and its reason', async () => {
    const strict = await collector(() => ({ status: 400, body: 'invalid batch: no visitors' }));
    const r = await run('examples/transport.mjs', { EVENT_ENDPOINT: strict.url });
    expect(r.code).toBe(0);
    expect(r.stdout.trim()).toBe('400 invalid batch: no visitors');
  });

  test('EVENT_ENDPOINT unset: the examples say where they send and how to start a collector there', async () => {
    // Whatever answers on 127.0.0.1:8080 (or nothing), the notice comes first.
    const r = await run('examples/transport.mjs', { EVENT_ENDPOINT: undefined });
    expect(r.stderr).toContain(
      'EVENT_ENDPOINT is not set: sending to http://127.0.0.1:8080/v1/events (start a collector there with npm run collector)',
    );
  });

  test('npm run collector (examples/collector.mjs) receives the dispatcher example and prints each batch', async () => {
    const started = lineProcess(
      later,
      process.execPath,
      [path.join(EXAMPLES, 'examples', 'collector.mjs')],
      { PORT: '0' },
    );
    const [first] = await started.until((lines) => lines.length >= 1);
    const url = first.match(/^collector listening on (http:\/\/127\.0\.0\.1:\d+\/v1\/events)$/)[1];
    const r = await run('examples/dispatcher.mjs', { EVENT_ENDPOINT: url });
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('{ statusCode: 204, attempts: 1 } 1');
    await started.until((lines) => lines.length >= 2);
    expect(started.lines[1]).toMatch(/^POST \/v1\/events 1 visitor\(s\): purchase [0-9a-f-]{36}$/);
    started.proc.kill('SIGTERM');
    expect(await started.exited).toMatchObject({ code: 0, signal: null, stderr: '' });
    expect(started.lines[2]).toBe('collector: 1 request(s), 1 visitor(s)');
    expect(
      JSON.parse(fs.readFileSync(path.join(ROOT, 'package.json'), 'utf8')).scripts.collector,
    ).toBe('node examples/collector.mjs');
  });
});
