'use strict';
// Runs `code` in a fresh node process: { child, exited, output } where exited resolves
// { code, signal, stdout, stderr } and output() is the stdout so far. `env` adds to this process's
// environment; a variable set to undefined is removed.
const { spawn } = require('node:child_process');

function spawnNode(code, env = {}) {
  const merged = { ...process.env, ...env };
  for (const [name, value] of Object.entries(merged)) if (value === undefined) delete merged[name];
  const child = spawn(process.execPath, ['-e', code], {
    stdio: ['pipe', 'pipe', 'pipe'],
    env: merged,
  });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d) => {
    stdout += d;
  });
  child.stderr.on('data', (d) => {
    stderr += d;
  });
  // 'close', not 'exit': the child's last output may still be in the pipe when 'exit' comes.
  const exited = new Promise((resolve) => {
    child.on('close', (exitCode, signal) => resolve({ code: exitCode, signal, stdout, stderr }));
  });
  return { child, exited, output: () => stdout };
}

// A child process whose stdout is read line by line: { proc, lines, exited, until, send, stderr }.
// until(predicate) resolves once predicate(lines) holds, and rejects if the child exits first;
// send(line) writes a line to its stdin. Killed after the test (later) if still running. `env` adds
// to this process's environment.
function lineProcess(later, command, args, env = {}) {
  const proc = spawn(command, args, {
    stdio: ['pipe', 'pipe', 'pipe'],
    env: { ...process.env, ...env },
  });
  const lines = [];
  const waiters = [];
  let rest = '';
  let stderr = '';
  proc.stdout.on('data', (d) => {
    const parts = (rest + d).split('\n');
    rest = parts.pop();
    lines.push(...parts);
    for (const w of waiters) w();
  });
  proc.stderr.on('data', (d) => {
    stderr += d;
  });
  // 'close', not 'exit': a line the child wrote just before it exited (DONE, then exit(0)) may still
  // be in the pipe when 'exit' comes, and until() would reject as if it never came.
  const exited = new Promise((resolve) =>
    proc.on('close', (code, signal) => resolve({ code, signal, stderr })),
  );
  let done = false;
  let how = '';
  exited.then((r) => {
    done = true;
    how = `code ${r.code}, signal ${r.signal}`;
    for (const w of waiters) w();
  });
  later(() => {
    if (!done) proc.kill('SIGKILL');
    return exited;
  });
  const until = (predicate) =>
    new Promise((resolve, reject) => {
      const check = () => {
        if (predicate(lines)) resolve(lines);
        else if (done)
          reject(
            new Error(`the child exited first (${how}): ${stderr}\n${lines.slice(-5).join('\n')}`),
          );
      };
      waiters.push(check);
      check();
    });
  const send = (line) => proc.stdin.write(`${line}\n`);
  return { proc, lines, exited, until, send, stderr: () => stderr };
}

// The variables libcurl (and the fallback, and doctor) read a proxy from, as lib/ lists them, and
// HTTP_PROXY, which they ignore: a child started with withoutProxyVariables() sees none of the
// caller's.
const { PROXY_VARIABLES: BY_SCHEME } = require('../../lib/transport/options');
const PROXY_VARIABLES = [...new Set(Object.values(BY_SCHEME).flat())];

// process.env without the proxy variables and the `also` names.
function withoutProxyVariables(also = []) {
  const env = { ...process.env };
  for (const name of [...PROXY_VARIABLES, ...also]) delete env[name];
  return env;
}

module.exports = { spawnNode, lineProcess, withoutProxyVariables };
