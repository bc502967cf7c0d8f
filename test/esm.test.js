'use strict';
// The ESM entry (package.json "exports" → lib/index.mjs) in a real ESM process.
const { execFile } = require('node:child_process');
const { promisify } = require('node:util');
const { startCollector } = require('./helpers/collector');

const run = promisify(execFile);

test('import { createDispatcher } works and shares the CommonJS objects', async () => {
  const c = await startCollector();
  try {
    const code = `
      import { createDispatcher, DispatchError } from 'native-event-dispatcher';
      import cjs from 'native-event-dispatcher';
      import { createRequire } from 'node:module';
      const required = createRequire(import.meta.url)('native-event-dispatcher');
      const d = createDispatcher();
      const r = await d.send('POST', ${JSON.stringify(c.url)}, { visitors: [{ snapshots: [{ events: [{ uuid: 'esm-1' }] }] }] });
      await d.close();
      console.log(JSON.stringify({ status: r.statusCode, same: cjs.createDispatcher === createDispatcher && required.DispatchError === DispatchError }));
    `;
    const { stdout } = await run(process.execPath, ['--input-type=module', '-e', code], {
      cwd: __dirname,
    });
    expect(JSON.parse(stdout)).toEqual({ status: 204, same: true });
    expect(c.received.has('esm-1')).toBe(true);
  } finally {
    await c.close();
  }
});
