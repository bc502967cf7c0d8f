'use strict';
// npm run lint:js (run by npm run lint): eslint's recommended rules, and a few more that the code
// already keeps, over every .js/.mjs/.cjs file. Layout is prettier's (.prettierrc.json, checked by
// the same script): no rule here is about it. CommonJS with 'use strict' everywhere but the ES
// modules (.mjs); Node 20's syntax and globals; Jest's globals in test/.
const js = require('@eslint/js');
const globals = require('globals');

module.exports = [
  { ignores: ['build/', 'build-*/', 'prebuilds/', 'coverage/', '.tmp/', 'bench/.run/'] },
  js.configs.recommended,
  {
    languageOptions: { ecmaVersion: 2023, globals: globals.node },
    rules: {
      'array-callback-return': 'error',
      eqeqeq: ['error', 'smart'],
      'no-eval': 'error',
      'no-implicit-globals': 'error',
      'no-implied-eval': 'error',
      'no-new-func': 'error',
      'no-new-wrappers': 'error',
      'no-self-compare': 'error',
      'no-template-curly-in-string': 'error',
      'no-throw-literal': 'error',
      'no-var': 'error',
      'object-shorthand': 'error',
      'prefer-const': 'error',
      'prefer-promise-reject-errors': 'error',
      radix: 'error',
    },
  },
  {
    files: ['**/*.js', '**/*.cjs'],
    languageOptions: { sourceType: 'commonjs' },
    rules: { strict: ['error', 'global'] },
  },
  { files: ['**/*.mjs'], languageOptions: { sourceType: 'module' } },
  { files: ['test/**'], languageOptions: { globals: { ...globals.node, ...globals.jest } } },
];
