'use strict';
// Per-test cleanup: what a test starts is stopped after it, even when it fails.
const { startCollector } = require('./collector');

function useCleanup() {
  const tasks = [];
  afterEach(async () => {
    while (tasks.length) await tasks.pop()();
  });
  return {
    later(task) {
      tasks.push(task);
    },
    async collector(plan, options) {
      const c = await startCollector(plan, options);
      tasks.push(() => c.close());
      return c;
    },
  };
}

module.exports = { useCleanup };
