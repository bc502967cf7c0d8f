'use strict';
// The collectors the benchmark measures against, each in its own process: nginx (plain, TLS,
// TLS+HTTP/2) with a config from nginx.conf.tmpl, or a Node collector when nginx is missing, and
// the 20 ms Node collector. Certificates are made with openssl for 127.0.0.1 at each run.
const fs = require('node:fs');
const net = require('node:net');
const path = require('node:path');
const { spawn, spawnSync } = require('node:child_process');
const { makeCertificates } = require('../test/helpers/certificates');

const HERE = __dirname;

function freePort() {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.on('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });
}

async function waitForPort(port, child, tries = 200) {
  for (let i = 0; i < tries; i++) {
    if (child && child.exitCode !== null)
      throw new Error(`collector exited with ${child.exitCode}`);
    const ok = await new Promise((resolve) => {
      const s = net.connect(port, '127.0.0.1', () => {
        s.destroy();
        resolve(true);
      });
      s.on('error', () => resolve(false));
    });
    if (ok) return;
    await new Promise((r) => setTimeout(r, 25));
  }
  throw new Error(`nothing listens on ${port}`);
}

function nginxVersion() {
  const r = spawnSync('nginx', ['-v'], { encoding: 'utf8' });
  if (r.error) return null;
  const m = /nginx\/(\S+)/.exec(r.stderr || '');
  return m ? m[1] : 'unknown';
}

// Starts a Node collector process: { port, stop(), child }.
async function startNodeCollector(delayMs, failEvery = 0) {
  const child = spawn(
    process.execPath,
    [path.join(HERE, 'slow-collector.js'), String(delayMs), String(failEvery)],
    {
      stdio: ['pipe', 'pipe', 'inherit'],
    },
  );
  const port = await new Promise((resolve, reject) => {
    child.stdout.once('data', (d) => resolve(Number(String(d).trim())));
    child.once('exit', (code) => reject(new Error(`collector exited with ${code}`)));
  });
  return {
    port,
    child,
    // Asks the collector what it received (the soak uses it).
    counts: () =>
      new Promise((resolve) => {
        child.stdout.once('data', (d) => resolve(JSON.parse(String(d))));
        child.stdin.write('?\n');
      }),
    stop: () =>
      new Promise((resolve) => {
        if (child.exitCode !== null) return resolve();
        child.once('exit', resolve);
        child.kill('SIGTERM');
      }),
  };
}

// nginx with the three servers; falls back to Node collectors (saying so) when nginx is missing.
async function startLoopbackCollectors(runDir) {
  fs.mkdirSync(runDir, { recursive: true });
  const { caFile } = makeCertificates({
    dir: runDir,
    names: ['IP:127.0.0.1', 'DNS:localhost'],
    caName: 'bench CA',
  });
  const version = nginxVersion();
  if (!version) {
    const plain = await startNodeCollector(0);
    return {
      kind: 'node (nginx not installed: bash scripts/setup.sh --bench)',
      plainPort: plain.port,
      tlsPort: null,
      h2Port: null,
      caFile,
      stop: plain.stop,
    };
  }
  const ports = {
    PLAIN_PORT: await freePort(),
    TLS_PORT: await freePort(),
    H2_PORT: await freePort(),
    RUN: runDir,
  };
  let conf = fs.readFileSync(path.join(HERE, 'nginx.conf.tmpl'), 'utf8');
  for (const [key, value] of Object.entries(ports))
    conf = conf.split(`{{${key}}}`).join(String(value));
  const confFile = path.join(runDir, 'nginx.conf');
  fs.writeFileSync(confFile, conf);
  const child = spawn('nginx', ['-c', confFile, '-p', runDir], {
    stdio: ['ignore', 'inherit', 'inherit'],
  });
  await waitForPort(ports.PLAIN_PORT, child);
  await waitForPort(ports.TLS_PORT, child);
  await waitForPort(ports.H2_PORT, child);
  return {
    kind: `nginx ${version}`,
    plainPort: ports.PLAIN_PORT,
    tlsPort: ports.TLS_PORT,
    h2Port: ports.H2_PORT,
    caFile,
    stop: () =>
      new Promise((resolve) => {
        if (child.exitCode !== null) return resolve();
        child.once('exit', resolve);
        child.kill('SIGQUIT'); // graceful: workers finish, then the master exits
      }),
  };
}

module.exports = { startLoopbackCollectors, startNodeCollector, freePort, nginxVersion };
