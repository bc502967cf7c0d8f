'use strict';
// What the demo prints once its runs are over, and its verdict (the exit code).

const line = (label, value) => console.log(`${label.padEnd(19)}${value}`);
const ms = (ns) => `${(ns / 1e6).toFixed(ns < 1e7 ? 1 : 0)} ms`;
const us = (ns) => `${(ns / 1e3).toFixed(1)} µs`;
const latency = (value) => (typeof value === 'number' ? value.toFixed(1) : '–');
const eventsOf = (made) => made.impressions + made.conversions;

// stats() on one line: the counters that are not zero (those of `events` in braces), and the
// latency percentiles.
function compactStats(stats) {
  const nonZero = (counts) => Object.entries(counts).filter(([, value]) => value !== 0);
  const { latencyMs, events, ...rest } = stats;
  const shown = nonZero(rest).map(([key, value]) => `${key} ${value}`);
  shown.push(
    `events {${nonZero(events)
      .map(([key, value]) => `${key} ${value}`)
      .join(', ')}}`,
  );
  return `${shown.join(', ')}; latency p50/p95/p99 ${latency(latencyMs.p50)}/${latency(latencyMs.p95)}/${latency(latencyMs.p99)} ms`;
}

// How many of a run's events the collector counted (by uuid), in words.
function arrivals(made, received) {
  const events = eventsOf(made);
  if (!received) return 'arrivals not counted (--url)';
  const missing = events - received.visitors;
  const counted = `${received.visitors} of ${events} events arrived`;
  if (missing > 0) return `${counted}, ${missing} LOST`;
  return missing < 0 ? `${counted}, ${-missing} more than made` : counted;
}

// The SDK default dispatcher's row: its CPU, what arrived, and why some did not; with --url, what
// its requests came to (there is no collector to count arrivals).
function sdkDefaultRow(run, failRate) {
  const events = eventsOf(run.made);
  const { requests, failed } = run.activity;
  let why = run.received ? '' : `; ${failed} of its ${requests} requests failed`;
  if (run.abandonedAfterMs) {
    why += `; its close() had not finished after ${run.abandonedAfterMs / 1000} s, the requests still open were abandoned`;
  } else if (run.received && run.received.visitors < events && failRate > 0) {
    why = ': the SDK gives a batch three attempts, then drops it';
  }
  return `${ms(run.cpuNs)}, ${us(run.cpuNs / events)} per event; ${arrivals(run.made, run.received)}${why}`;
}

// The main thread's CPU of each run side by side, and what the dispatching alone cost in each (the
// run's CPU beyond the run through a dispatcher that does nothing).
function reportCpu({ kind, sdkDefault, ours, nothing, requests }, { args, received }) {
  const note = {
    schedstat: '',
    stat: ' (counted in 10 ms ticks: a coarse clock, run more --users)',
    process:
      " (the whole process: this platform has no per-thread clock; the collector's thread included)",
  }[kind];
  const events = eventsOf(ours.made);
  const users = `${args.users} user${args.users === 1 ? '' : 's'}`;
  line(
    'main thread CPU',
    `the same ${users} (${events} events) through each dispatcher, from the first user to the end of close()${note}`,
  );
  line('  SDK default', sdkDefaultRow(sdkDefault, args.failRate));
  line(
    '  this package',
    `${ms(ours.cpuNs)}, ${us(ours.cpuNs / events)} per event; ${arrivals(ours.made, received)}`,
  );
  line(
    '  no dispatcher',
    `${ms(nothing.cpuNs)}, ${us(nothing.cpuNs / events)} per event; sends nothing: the SDK's own work`,
  );
  const theirs = sdkDefault.cpuNs - nothing.cpuNs;
  const mine = ours.cpuNs - nothing.cpuNs;
  const share = (ns, more) =>
    ns > 0
      ? `${ms(ns)} (${us(ns / events)} per event${more})`
      : 'too small to tell from the noise in this run (try more --users)';
  let ratio = '';
  if (theirs > 0 && mine > 0) {
    ratio =
      theirs >= mine
        ? `: ${(theirs / mine).toFixed(1)}× less main-thread CPU than the SDK default`
        : `: ${(mine / theirs).toFixed(1)}× more main-thread CPU than the SDK default`;
  }
  line(
    'dispatching',
    `SDK default ${share(theirs, '')}, this package ${share(mine, `, ${us(mine / requests)} per request`)}${ratio}`,
  );
}

function report(outcome) {
  const { args, made, summary, received, stats, seconds } = outcome;
  const eventsMade = eventsOf(made);
  const variations = Object.entries(made.variations)
    .map(([key, n]) => `${n} ${key}`)
    .join(', ');
  console.log('');
  line('users', `${args.users}`);
  line(
    'events made',
    `${eventsMade} (${made.impressions} decisions: ${variations}; ${made.conversions} conversions)`,
  );
  if (received) {
    const missing = eventsMade - received.visitors;
    const match =
      missing === 0
        ? 'match'
        : `MISMATCH: ${missing > 0 ? `${missing} missing` : `${-missing} more than made`}`;
    line(
      'visitors received',
      `${received.visitors} of ${eventsMade}, ${match}` +
        ` (${received.distinctUuids} distinct uuids, ${received.redelivered} redelivered)`,
    );
    line(
      'requests',
      `${received.requests} seen by the collector:` +
        ` ${received.batches} batches accepted, ${received.injected} failures injected`,
    );
  } else {
    line('visitors received', 'not counted (--url)');
  }
  line('retries', `${stats.retried}`);
  line('close', JSON.stringify(summary));
  line('dispatcher', compactStats(stats));
  line('elapsed', `${seconds.toFixed(2)} s (${Math.round(args.users / seconds)} users/s)`);
  console.log('');
  reportCpu(outcome.cpu, outcome);
}

// Exit code 0 only when every event made arrived through this package (counted by the collector)
// and the dispatcher lost nothing; close() counts every dropped batch as lost, `failed` ones were
// refused for good. The SDK default dispatcher's losses are reported, not judged.
function verdict({ made, summary, received, dropReasons }) {
  const problems = [];
  if (received) {
    const missing = eventsOf(made) - received.visitors;
    if (missing > 0) problems.push(`${missing} events missing`);
    if (missing < 0) problems.push(`${-missing} events more than made`);
  }
  if (summary.lost > 0) problems.push(`${summary.lost} batches lost (${dropReasons.join(', ')})`);
  if (summary.failed > 0) problems.push(`${summary.failed} batches rejected by the endpoint`);
  if (problems.length > 0) {
    console.log(`FAILED: ${problems.join(', ')}`);
    return 1;
  }
  console.log(
    received
      ? 'OK: every event arrived'
      : 'OK: every event arrived (the endpoint answered 2xx for every batch)',
  );
  return 0;
}

module.exports = { line, report, verdict };
