'use strict';
// The README's examples are the files in examples/ (kept identical by scripts/readme-examples.js),
// and each of them runs here against a local collector.
const fs = require('node:fs');
const path = require('node:path');
const { execFile } = require('node:child_process');
const { blocks } = require('../scripts/readme-examples');
const { startCollector } = require('./helpers/collector');
const { closedPort } = require('./helpers/servers');

const ROOT = path.join(__dirname, '..');

function run(file, env) {
  return new Promise((resolve) => {
    execFile(process.execPath, [path.join(ROOT, file)], { env: { ...process.env, ...env }, cwd: ROOT }, (err, stdout, stderr) => {
      resolve({ code: err ? err.code : 0, stdout, stderr });
    });
  });
}

test('every example block in the README is the runnable file it names', () => {
  const found = blocks(fs.readFileSync(path.join(ROOT, 'README.md'), 'utf8'));
  expect(found.map((b) => b.file).sort()).toEqual(['examples/dispatcher.js', 'examples/optimizely-v5.js',
    'examples/optimizely-v6.js', 'examples/transport.js']);
  for (const b of found) expect(b.inReadme).toBe(b.expected);
});

describe('the examples run', () => {
  let c;
  beforeEach(async () => { c = await startCollector(); });
  afterEach(() => c.close());

  test('Optimizely v6: a decision and a conversion arrive', async () => {
    const r = await run('examples/optimizely-v6.js', { EVENT_ENDPOINT: c.url });
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/(treatment|control) \{\s+delivered: 1,\s+spooled: 0,\s+lost: 0,\s+failed: 0,\s+events: \{ delivered: 2, spooled: 0, lost: 0, failed: 0 \}\s+\}/);
    expect(c.received.size).toBe(2);
  });

  test('Optimizely v4/v5: the decision arrives', async () => {
    const r = await run('examples/optimizely-v5.js', { EVENT_ENDPOINT: c.url });
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('{ delivered: 1, spooled: 0, lost: 0, failed: 0 }');
    expect(c.received.size).toBe(1);
  });

  test('the dispatcher', async () => {
    const r = await run('examples/dispatcher.js', { EVENT_ENDPOINT: c.url });
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('{ statusCode: 204, attempts: 1 } 1');
    expect(r.stdout).toMatch(/\{\s+delivered: 1,\s+spooled: 0,\s+lost: 0,\s+failed: 0,\s+events: \{ delivered: 0, spooled: 0, lost: 0, failed: 0 \}\s+\}/); // an empty batch: no visitors
    expect(c.requests).toHaveLength(1);
  });

  test('the transport, answered and refused', async () => {
    const ok = await run('examples/transport.js', { EVENT_ENDPOINT: c.url });
    expect(ok.code).toBe(0);
    expect(ok.stdout.trim()).toBe('204 undefined');
    const port = await closedPort();
    const refused = await run('examples/transport.js', { EVENT_ENDPOINT: `http://127.0.0.1:${port}/v1/events` });
    expect(refused.code).toBe(0);
    expect(refused.stderr).toMatch(/^ECONNREFUSED 7 POST http:\/\/127\.0\.0\.1:\d+\/v1\/events: /);
  });
});
