'use strict';
// npx native-event-dispatcher build [node-gyp options]: compiles the addon from the packaged
// sources, for a platform without a prebuild. Nothing runs at install time; this is the explicit
// step. The result goes to build/Release, which node-gyp-build prefers over the prebuilds.
const fs = require('node:fs');
const path = require('node:path');
const { spawnSync } = require('node:child_process');

const ROOT = path.join(__dirname, '..');
const NATIVE = path.join(ROOT, 'native');
const ADDON = 'native_event_dispatcher.node';
// The oldest libcurl headers the sources compile against (CURLOPT_PROTOCOLS_STR, src/request.cc);
// at run time the addon works with older libcurl too.
const MIN_LIBCURL_HEADERS = '7.85.0';

const PACKAGES = {
  debian: 'apt-get install -y build-essential python3 pkg-config libcurl4-openssl-dev',
  alpine: 'apk add build-base python3 pkgconf curl-dev',
  rhel: 'dnf install -y gcc-c++ make python3 pkgconf-pkg-config libcurl-devel',
};

// Which node-gyp runs the build. npm sets npm_config_node_gyp to the node-gyp it bundles whenever
// it starts a package's bin (npx, npm exec, npm run), so a project that does not depend on
// node-gyp still has one; then a node-gyp the project does depend on; then npm's, beside node.
function findNodeGyp() {
  const candidates = [
    [process.env.npm_config_node_gyp, "npm's bundled node-gyp (npm_config_node_gyp)"],
    [resolveFrom(ROOT, 'node-gyp/bin/node-gyp.js'), "the project's node-gyp"],
    [
      path.join(
        path.dirname(process.execPath),
        '..',
        'lib',
        'node_modules',
        'npm',
        'node_modules',
        'node-gyp',
        'bin',
        'node-gyp.js',
      ),
      "npm's bundled node-gyp (beside node)",
    ],
  ];
  for (const [file, source] of candidates) {
    if (file && fs.existsSync(file)) return { file, source };
  }
  return null;
}

function resolveFrom(dir, request) {
  try {
    return require.resolve(request, { paths: [dir] });
  } catch {
    return undefined;
  }
}

function distroFamily() {
  let release;
  try {
    release = fs.readFileSync('/etc/os-release', 'utf8');
  } catch {
    return null;
  }
  const ids = (release.match(/^ID(?:_LIKE)?=(.*)$/gm) || []).join(' ').toLowerCase();
  if (/alpine/.test(ids)) return 'alpine';
  if (/debian|ubuntu/.test(ids)) return 'debian';
  if (/rhel|fedora|centos|rocky|alma|amzn/.test(ids)) return 'rhel';
  return null;
}

function packagesHint() {
  const family = distroFamily();
  if (family) return `  ${PACKAGES[family]}`;
  return Object.entries(PACKAGES)
    .map(([name, line]) => `  ${name.padEnd(7)} ${line}`)
    .join('\n');
}

// The headers the sources include, checked before node-gyp starts: a missing package is then one
// clear line instead of a compiler error.
function missingLibraries() {
  const probe = spawnSync('pkg-config', ['--version'], { encoding: 'utf8' });
  if (probe.error || probe.status !== 0) return ['pkg-config'];
  return ['libcurl'].filter((name) => spawnSync('pkg-config', ['--exists', name]).status !== 0);
}

function build(
  args,
  out = (line) => process.stdout.write(`${line}\n`),
  err = (line) => process.stderr.write(`${line}\n`),
) {
  if (args.includes('--help') || args.includes('-h')) {
    out('Usage: npx native-event-dispatcher build [node-gyp options, e.g. --debug --jobs=2]');
    out('');
    out('Compiles the addon from the sources in this package (Linux; needs a C++ compiler, make,');
    out(`python3, pkg-config and libcurl's development package, >= ${MIN_LIBCURL_HEADERS}):`);
    out(packagesHint());
    out('The result, build/Release/native_event_dispatcher.node, is loaded before any prebuild.');
    return 0;
  }
  if (process.platform !== 'linux') {
    err(
      `build: the native transport builds on Linux only; on ${process.platform} the package uses its JavaScript transport.`,
    );
    return 1;
  }
  const missing = missingLibraries();
  if (missing.length) {
    err(
      `build: missing ${missing.join(', ')} (pkg-config finds no ${missing.join(' or ')}). Install the build packages:`,
    );
    err(packagesHint());
    return 1;
  }
  if (
    spawnSync('pkg-config', [`--atleast-version=${MIN_LIBCURL_HEADERS}`, 'libcurl']).status !== 0
  ) {
    const found = spawnSync('pkg-config', ['--modversion', 'libcurl'], {
      encoding: 'utf8',
    }).stdout.trim();
    err(
      `build: libcurl's headers are ${found}; the sources need ${MIN_LIBCURL_HEADERS} or newer to compile.`,
    );
    return 1;
  }
  const nodeGyp = findNodeGyp();
  if (!nodeGyp) {
    err(
      'build: no node-gyp found. Run this through npm (npx native-event-dispatcher build), or add node-gyp to the project.',
    );
    return 1;
  }
  out(`build: ${nodeGyp.source}: ${nodeGyp.file}`);
  const gyp = spawnSync(process.execPath, [nodeGyp.file, 'rebuild', ...args], {
    cwd: NATIVE,
    stdio: 'inherit',
  });
  if (gyp.status !== 0) {
    err(
      `build: node-gyp failed (${gyp.error ? gyp.error.message : `exit ${gyp.status}`}); its output is above.`,
    );
    return 1;
  }
  // node-gyp builds in native/build; the loader looks in the package's build/ (Release or Debug).
  const configuration = args.includes('--debug') || args.includes('-d') ? 'Debug' : 'Release';
  const built = path.join(NATIVE, 'build', configuration, ADDON);
  const target = path.join(ROOT, 'build', configuration, ADDON);
  fs.mkdirSync(path.dirname(target), { recursive: true });
  // A new file renamed into place: a process that has the old one loaded keeps its copy (writing
  // over a loaded library in place crashes that process).
  const partial = `${target}.${process.pid}.tmp`;
  fs.copyFileSync(built, partial);
  fs.renameSync(partial, target);
  // Loaded in a child process: a library the linker found but the loader does not (libcurl.so.4
  // missing at run time) shows up here rather than in the application.
  const check = spawnSync(process.execPath, ['-e', 'require(process.argv[1])', target], {
    encoding: 'utf8',
  });
  if (check.status !== 0) {
    err(`build: built ${target}, but it does not load:\n${check.stderr.trim()}`);
    return 1;
  }
  out(`build: done: ${target}`);
  out(
    "build: require('native-event-dispatcher') loads this build from now on (it comes before the prebuilds).",
  );
  return 0;
}

module.exports = { build, findNodeGyp };
