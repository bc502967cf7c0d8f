'use strict';
// handleProcessExit: on SIGTERM/SIGINT, close (within closeTimeoutMs) and re-raise the signal; on
// 'exit', make the journal durable and say what was still in memory.
function installExitHandlers(dispatcher) {
  const onSignal = (signal) => {
    dispatcher.reports.log('info', `${signal}: closing`);
    dispatcher.close().finally(() => {
      process.removeListener(signal, onSignal);
      // Re-raised for the default behaviour, unless the application handles the signal itself.
      if (process.listenerCount(signal) === 0) process.kill(process.pid, signal);
    });
  };
  const onExit = () => dispatcher.onProcessExit();
  const handlers = { SIGTERM: onSignal, SIGINT: onSignal, exit: onExit };
  for (const [name, handler] of Object.entries(handlers)) process.on(name, handler);
  return () => {
    for (const [name, handler] of Object.entries(handlers)) process.removeListener(name, handler);
  };
}

module.exports = { installExitHandlers };
