'use strict';
// Keeps the README's code examples identical to the runnable files in examples/ (which a test
// runs as they are): what the README shows is the whole file, so it runs as pasted. A block reads:
//   <!-- example: examples/dispatcher.mjs -->
//   ```js
//   …the file…
//   ```
//   <!-- /example -->
// node scripts/readme-examples.js          checks, exit 1 when a block differs
// node scripts/readme-examples.js --write  rewrites the blocks from the files
const fs = require('node:fs');
const path = require('node:path');

const ROOT = path.join(__dirname, '..');
const BLOCK = /<!-- example: (\S+) -->\n```js\n([\s\S]*?)```\n<!-- \/example -->/g;

function region(file) {
  return fs.readFileSync(path.join(ROOT, file), 'utf8');
}

// [{ file, inReadme, expected }] for every example block in the README.
function blocks(readme) {
  return [...readme.matchAll(BLOCK)].map((m) => ({
    file: m[1],
    inReadme: m[2],
    expected: region(m[1]),
  }));
}

function write(readmePath = path.join(ROOT, 'README.md')) {
  const readme = fs.readFileSync(readmePath, 'utf8');
  const next = readme.replace(
    BLOCK,
    (all, file) => `<!-- example: ${file} -->\n\`\`\`js\n${region(file)}\`\`\`\n<!-- /example -->`,
  );
  fs.writeFileSync(readmePath, next);
}

if (require.main === module) {
  if (process.argv.includes('--write')) {
    write();
  } else {
    const stale = blocks(fs.readFileSync(path.join(ROOT, 'README.md'), 'utf8')).filter(
      (b) => b.inReadme !== b.expected,
    );
    for (const b of stale)
      console.error(
        `README block for ${b.file} differs from the file; run node scripts/readme-examples.js --write`,
      );
    process.exitCode = stale.length ? 1 : 0;
  }
}

module.exports = { blocks, region, write };
