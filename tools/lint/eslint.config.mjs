// ESLint for the ward board, Swagger UI's initializer and the Node test driver,
// without a build step.
// Run from the repository root (scripts/check, or npm --prefix tools/lint run lint):
// with --config, file patterns are relative to the working directory.
import js from '@eslint/js';
import globals from 'globals';

export default [
  js.configs.recommended,
  {
    // The board: ES modules loaded by the browser as they are (service/static/index.html).
    files: ['service/static/js/**/*.js'],
    languageOptions: {
      ecmaVersion: 'latest',
      sourceType: 'module',
      globals: globals.browser,
    },
  },
  {
    // Swagger UI's initializer: a classic script, run after the bundle and the
    // preset (service/openapi/static/index.html), whose globals it uses.
    files: ['service/openapi/static/*.js'],
    languageOptions: {
      ecmaVersion: 'latest',
      sourceType: 'script',
      globals: { ...globals.browser, SwaggerUIBundle: 'readonly', SwaggerUIStandalonePreset: 'readonly' },
    },
  },
  {
    // The dcrf-client driver: CommonJS ("type": "commonjs" in tests/node/package.json).
    files: ['tests/node/*.js'],
    languageOptions: {
      ecmaVersion: 'latest',
      sourceType: 'commonjs',
      globals: globals.node,
    },
  },
];
