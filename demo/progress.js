'use strict';
// A one-line progress bar on a terminal; plain lines every 10% otherwise (CI logs).
function progressBar(total, label, stream = process.stdout) {
  const width = 30;
  let lastShown = -1;
  return {
    update(done) {
      const fraction = total === 0 ? 1 : done / total;
      if (stream.isTTY) {
        const filled = Math.round(fraction * width);
        stream.write(
          `\r${label} [${'#'.repeat(filled)}${'.'.repeat(width - filled)}] ${done}/${total}`,
        );
        if (done >= total) stream.write('\n');
      } else {
        const step = Math.floor(fraction * 10);
        if (step !== lastShown) {
          lastShown = step;
          stream.write(`${label} ${Math.round(fraction * 100)}% (${done}/${total})\n`);
        }
      }
    },
  };
}

module.exports = { progressBar };
