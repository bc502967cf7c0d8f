'use strict';
// Picks the transport: the native addon (a prebuild for this platform or a local build, picked by
// node-gyp-build, or the file named by NATIVE_EVENT_DISPATCHER_ADDON) where it loads, otherwise the
// fallback on undici, saying so once with the reason and the remedy.
// NATIVE_EVENT_DISPATCHER_TRANSPORT=native fails loudly instead of falling back; =fallback always
// takes the fallback (tests, or a choice).
const fs = require('node:fs');
const path = require('node:path');
const { invalid } = require('./errors');

const CHOICE_VARIABLE = 'NATIVE_EVENT_DISPATCHER_TRANSPORT';
const ROOT = path.join(__dirname, '..');
const BUILD_COMMAND = '`npx native-event-dispatcher build`';
const BUILD_NEEDS =
  '(needs a C++ compiler, make, python3 and the libcurl headers: `apt-get install build-essential ' +
  'python3 libcurl4-openssl-dev`, or `apk add build-base python3 curl-dev` on Alpine)';
const INSTALL_LIBCURL =
  '`apt-get install libcurl4` (Debian/Ubuntu), `dnf install libcurl` (RHEL/Fedora) or ' +
  '`apk add libcurl` (Alpine) for the native transport';

function loadNative(file) {
  const native = require(file);
  // What the addon must know and lib/ defines, once per environment before anything else. A
  // binary from before setup() keeps its own.
  if (typeof native.setup === 'function')
    native.setup(require('./transport/protocol').addonSetup());
  Object.defineProperty(native, 'binaryPath', { value: file });
  if (native.kind === undefined)
    Object.defineProperty(native, 'kind', { value: 'native', enumerable: true });
  return native;
}

function firstLine(err) {
  return String((err && err.message) || err)
    .split('\n')[0]
    .trim();
}

// glibc or musl: the prebuilds are for glibc, and Node's report says which libc it runs on.
function libc() {
  try {
    return process.report.getReport().header.glibcVersionRuntime ? 'glibc' : 'musl';
  } catch {
    return 'unknown libc';
  }
}

// The prebuilds this copy of the package carries ('linux-x64 (glibc)', ...); null when it has no
// prebuilds/ at all: installed from git or from source, which carry none (npm pack makes them).
function prebuiltPlatforms() {
  const dir = path.join(ROOT, 'prebuilds');
  let platforms;
  try {
    platforms = fs
      .readdirSync(dir, { withFileTypes: true })
      .filter((entry) => entry.isDirectory())
      .map((entry) => entry.name);
  } catch {
    return null;
  }
  return platforms.sort().map((platform) => {
    const libcs = fs
      .readdirSync(path.join(dir, platform))
      .map((file) => /\.(glibc|musl)\.node$/.exec(file))
      .filter(Boolean);
    return libcs.length > 0 ? `${platform} (${libcs.map((m) => m[1]).join(', ')})` : platform;
  });
}

// One line: why the native transport did not load, and what gets it.
function reasonFor(err, override) {
  const message = String((err && err.message) || err);
  if (override) {
    return (
      `NATIVE_EVENT_DISPATCHER_ADDON=${override} cannot be loaded (${firstLine(err)}): ` +
      'point it at a built native-event-dispatcher.node, or unset it'
    );
  }
  // The addon binds every libcurl function when it loads (native/binding.gyp: -z now), so a
  // libcurl.so.4 without one of them is refused here instead of killing the process later.
  const lacking = /undefined symbol: (curl_\w+)/.exec(message);
  if (lacking) {
    const paths = process.env.LD_LIBRARY_PATH;
    const found = paths
      ? `the libcurl.so.4 found (LD_LIBRARY_PATH=${paths})`
      : 'the libcurl.so.4 found';
    const remedy = paths
      ? 'unset LD_LIBRARY_PATH (or leave that library out of it), or install libcurl4'
      : 'install libcurl4 in its place';
    return `${found} lacks ${lacking[1]}: it is not a usable libcurl ≥ 7.68; ${remedy}: ${INSTALL_LIBCURL}`;
  }
  if (/libcurl\.so/.test(message))
    return `libcurl.so.4 is missing or cannot be loaded: ${INSTALL_LIBCURL}`;
  if (/No native build was found/.test(message)) {
    if (process.platform !== 'linux') {
      return (
        `the native transport is Linux-only (this is ${process.platform}-${process.arch}); ` +
        'the fallback is fully supported here'
      );
    }
    const platforms = prebuiltPlatforms();
    if (platforms === null) {
      return (
        'this copy of native-event-dispatcher has no prebuilt binaries (installed from git or from source, ' +
        `which carry none, and not built here yet): run ${BUILD_COMMAND} in the project for the native transport ` +
        BUILD_NEEDS
      );
    }
    const carried =
      platforms.length > 0 ? ` in this copy, which carries ${platforms.join(', ')} only` : '';
    return (
      `no prebuilt native binary for linux-${process.arch} (${libc()})${carried}: build one with ` +
      `${BUILD_COMMAND} ${BUILD_NEEDS}`
    );
  }
  return `the native binary failed to load (${firstLine(err)}): rebuild it with ${BUILD_COMMAND}`;
}

function choice() {
  const raw = process.env[CHOICE_VARIABLE];
  const value = raw === undefined ? '' : raw.trim().toLowerCase();
  if (value === '' || value === 'native' || value === 'fallback') return value;
  throw invalid(
    TypeError,
    'ERR_INVALID_ARG_VALUE',
    CHOICE_VARIABLE,
    "'native', 'fallback' or unset",
    raw,
  );
}

function useFallback(reason) {
  const fallback = require('./fallback');
  fallback.reason = reason;
  Object.defineProperty(fallback, 'binaryPath', { value: null });
  return fallback;
}

function load() {
  const wanted = choice();
  if (wanted === 'fallback') return useFallback(`${CHOICE_VARIABLE}=fallback is set`);
  const override = process.env.NATIVE_EVENT_DISPATCHER_ADDON;
  try {
    return loadNative(override ? path.resolve(override) : require('node-gyp-build').resolve(ROOT));
  } catch (err) {
    const reason = reasonFor(err, override);
    if (wanted === 'native') {
      const e = new Error(
        `${CHOICE_VARIABLE}=native, but the native transport cannot load: ${reason}. ` +
          `Original error: ${firstLine(err)}`,
        { cause: err },
      );
      e.code = 'ERR_NATIVE_TRANSPORT';
      throw e;
    }
    process.emitWarning(
      `native-event-dispatcher uses its fallback transport (undici): ${reason}.`,
      { code: 'NED_FALLBACK_TRANSPORT' },
    );
    return useFallback(reason);
  }
}

module.exports = load();
