'use strict';
// The error for an option name a call does not know, and the help in it: the name users bring from
// other SDKs and HTTP clients mapped to ours (`retries` → maxAttempts), else the closest known
// name (a typo), else the call's names listed by topic. Only names of that call are suggested.
const { invalid } = require('./errors');

// Names other SDKs and clients use, compared without case, '_' or '-'. Tried in order: an entry
// with `to` applies when `to` is one of the call's names; one with a note only always applies.
const FOREIGN_NAMES = [
  {
    from: ['retries', 'maxretries', 'retry', 'retrycount', 'maxretry', 'numretries', 'retrylimit'],
    to: 'maxAttempts',
    note: 'maxAttempts counts the first attempt too: retries: 3 is maxAttempts: 4',
  },
  {
    from: ['maxretries', 'retry', 'retrycount', 'maxretry', 'numretries', 'retrylimit'],
    to: 'retries',
  },
  { from: ['attempts', 'maxattempt', 'tries', 'maxtries'], to: 'maxAttempts' },
  {
    from: [
      'retries',
      'maxretries',
      'retry',
      'retrycount',
      'maxretry',
      'numretries',
      'retrylimit',
      'maxattempts',
    ],
    note: "one call is one attempt; retries are a dispatcher's: createDispatcher({ maxAttempts })",
  },
  {
    from: ['closetimeout', 'shutdowntimeout', 'closetimeoutmillis', 'shutdowntimeoutms'],
    to: 'closeTimeoutMs',
  },
  {
    from: [
      'timeout',
      'requesttimeout',
      'sockettimeout',
      'readtimeout',
      'responsetimeout',
      'httptimeout',
      'timeoutmillis',
      'timeoutms',
      'closetimeout',
      'shutdowntimeout',
    ],
    to: 'timeoutMs',
  },
  { from: ['connecttimeout', 'connectiontimeout', 'connecttimeoutmillis'], to: 'connectTimeoutMs' },
  {
    from: [
      'flushinterval',
      'flushintervalms',
      'flushat',
      'batchsize',
      'maxbatchsize',
      'eventbatchsize',
      'eventflushinterval',
      'maxeventsinbatch',
      'flushqueuesize',
    ],
    note:
      "this package does not batch, it sends each batch it is handed: batching is the SDK's " +
      '(its batchSize and flushInterval)',
  },
  {
    from: [
      'url',
      'uri',
      'endpointurl',
      'host',
      'apihost',
      'serverurl',
      'collectorurl',
      'eventsurl',
    ],
    to: 'endpoint',
  },
  { from: ['endpoint', 'uri', 'endpointurl', 'collectorurl'], to: 'url' },
  {
    from: ['concurrency', 'maxconcurrency', 'maxconcurrentrequests', 'parallelism'],
    to: 'maxInFlight',
  },
  { from: ['maxsockets', 'maxsocketsperhost', 'connectionsperhost'], to: 'maxConnectionsPerHost' },
  {
    from: [
      'maxsockets',
      'maxsocketsperhost',
      'maxconnections',
      'maxconnectionsperhost',
      'connectionlimit',
    ],
    note: 'connection limits are process-wide: setConnectionLimits({ maxConnections, maxConnectionsPerHost })',
  },
  {
    from: ['maxqueuesize', 'queuesize', 'maxqueuelength', 'maxbufferedevents'],
    to: 'maxQueueBytes',
    note: 'maxQueueBytes bounds bytes, not events',
  },
  {
    from: ['rejectunauthorized', 'strictssl', 'verifyssl', 'sslverify', 'verifytls'],
    to: 'insecure',
    note: 'insecure: true turns certificate verification off',
  },
  {
    from: ['ca', 'cacert', 'cacerts', 'capath', 'certificateauthority'],
    to: 'caFile',
    note: 'caFile is the path of a PEM file',
  },
  { from: ['proxyurl', 'httpproxy', 'httpsproxy', 'proxyagent'], to: 'proxy' },
  {
    from: ['verbose', 'debug', 'trace'],
    note: 'set NATIVE_EVENT_DISPATCHER_TRACE=1 for a trace of every request on stderr',
  },
];

// How the names are grouped when they are listed; a name not here is listed under "other".
const TOPICS = [
  ['sending', ['endpoint', 'url', 'dispatcher', 'headers', 'userAgent']],
  [
    'retries',
    ['maxAttempts', 'retries', 'baseDelayMs', 'maxDelayMs', 'deadlineMs', 'maxRetryAfterMs'],
  ],
  ['queue', ['maxInFlight', 'maxQueueBytes']],
  ['spool', ['spoolDir', 'spoolMaxBytes', 'spoolRetryMs']],
  ['closing', ['handleProcessExit', 'closeTimeoutMs']],
  ['logs', ['logger']],
  ['counts', ['eventCount']],
  ['timeouts', ['timeoutMs', 'connectTimeoutMs']],
  ['network', ['proxy', 'noProxy', 'resolve', 'http2']],
  ['TLS', ['caFile', 'insecure']],
  ['response', ['maxResponseBytes', 'timings', 'captureStack']],
];
const TOPIC_OF = new Map(TOPICS.flatMap(([topic, names]) => names.map((name) => [name, topic])));
// Up to this many names are listed as they are, without topics.
const PLAIN_LIST = 6;

const normalise = (name) => String(name).toLowerCase().replace(/[-_]/g, '');

function editDistance(a, b) {
  const d = Array.from({ length: a.length + 1 }, (_, i) => [i]);
  for (let j = 1; j <= b.length; j++) d[0][j] = j;
  for (let i = 1; i <= a.length; i++) {
    for (let j = 1; j <= b.length; j++) {
      d[i][j] = Math.min(
        d[i - 1][j] + 1,
        d[i][j - 1] + 1,
        d[i - 1][j - 1] + (a[i - 1] === b[j - 1] ? 0 : 1),
      );
    }
  }
  return d[a.length][b.length];
}

// The closest known name, for "did you mean" (names that differ in case or a few letters).
function closest(name, names) {
  let best;
  let bestDistance = Infinity;
  for (const candidate of names) {
    const dist = editDistance(String(name).toLowerCase(), candidate.toLowerCase());
    if (dist < bestDistance) {
      best = candidate;
      bestDistance = dist;
    }
  }
  return bestDistance <= Math.max(2, Math.floor(String(name).length / 3)) ? best : undefined;
}

// What to tell someone who wrote `key`: ': did you mean "x"? (note)', ': note', or '' for nothing.
function hintFor(key, names) {
  const wanted = normalise(key);
  for (const entry of FOREIGN_NAMES) {
    if (!entry.from.includes(wanted) || (entry.to !== undefined && !names.includes(entry.to)))
      continue;
    if (entry.to === undefined) return `: ${entry.note}`;
    return `: did you mean ${JSON.stringify(entry.to)}?${entry.note ? ` (${entry.note})` : ''}`;
  }
  const suggestion = closest(key, names);
  return suggestion === undefined ? '' : `: did you mean ${JSON.stringify(suggestion)}?`;
}

// "a, b, c", or for a longer list "topic: a, b; other topic: c" in the order of `names`.
function listed(names) {
  if (names.length <= PLAIN_LIST) return names.join(', ');
  const groups = new Map();
  for (const name of names) {
    const topic = TOPIC_OF.get(name) || 'other';
    if (!groups.has(topic)) groups.set(topic, []);
    groups.get(topic).push(name);
  }
  return [...groups].map(([topic, members]) => `${topic}: ${members.join(', ')}`).join('; ');
}

// unknownOption('retries', names) → a TypeError (ERR_UNKNOWN_OPTION) to throw; `noun` names what
// the call takes ('option', 'limit') and `what` the argument holding it.
function unknownOption(key, names, { noun = 'option', what = `${noun}s` } = {}) {
  const hint = hintFor(key, names) || ` (known ${noun}s — ${listed(names)})`;
  return invalid(
    TypeError,
    'ERR_UNKNOWN_OPTION',
    what,
    `a known ${noun} name`,
    key,
    undefined,
    hint,
  );
}

module.exports = { unknownOption, closest };
