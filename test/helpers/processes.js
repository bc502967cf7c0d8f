'use strict';
// Runs `code` in a fresh node process: { child, exited, output } where exited resolves
// { code, signal, stdout, stderr } and output() is the stdout so far. `env` adds to this process's
// environment; a variable set to undefined is removed.
const { spawn } = require('node:child_process');

function spawnNode(code, env = {}) {
  const merged = { ...process.env, ...env };
  for (const [name, value] of Object.entries(merged)) if (value === undefined) delete merged[name];
  const child = spawn(process.execPath, ['-e', code], { stdio: ['pipe', 'pipe', 'pipe'], env: merged });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d) => { stdout += d; });
  child.stderr.on('data', (d) => { stderr += d; });
  const exited = new Promise((resolve) => {
    child.on('exit', (exitCode, signal) => resolve({ code: exitCode, signal, stdout, stderr }));
  });
  return { child, exited, output: () => stdout };
}

module.exports = { spawnNode };
