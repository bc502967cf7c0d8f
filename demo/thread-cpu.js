'use strict';
// The main thread's own CPU time, for the demo and the benchmarks. On Linux the kernel keeps it per
// thread in nanoseconds (/proc/self/task/<tid>/schedstat, first field: time on CPU; the main
// thread's tid is the pid); stat's utime+stime would do too, but only in 10 ms ticks. Elsewhere
// there is no per-thread clock in Node 20, and the whole process's CPU stands in (`kind` says so).
const fs = require('node:fs');

const TICKS = 100; // USER_HZ on Linux

function readable(file) {
  try {
    fs.readFileSync(file, 'utf8');
    return true;
  } catch {
    return false;
  }
}

// { kind: 'schedstat' | 'stat' | 'process', read() → ns }
function mainThreadClock() {
  const task = `/proc/self/task/${process.pid}`;
  if (readable(`${task}/schedstat`)) {
    const file = `${task}/schedstat`;
    return { kind: 'schedstat', read: () => Number(fs.readFileSync(file, 'utf8').split(' ')[0]) };
  }
  if (readable(`${task}/stat`)) {
    const file = `${task}/stat`;
    return {
      kind: 'stat',
      read() {
        const stat = fs.readFileSync(file, 'utf8');
        const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
        return ((Number(fields[11]) + Number(fields[12])) * 1e9) / TICKS;
      },
    };
  }
  return {
    kind: 'process',
    read() {
      const { user, system } = process.cpuUsage();
      return (user + system) * 1000;
    },
  };
}

module.exports = { mainThreadClock };
