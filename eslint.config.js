// Lint: the recommended rules of JavaScript, TypeScript and Svelte, without type information (fast
// enough to run in `npm test`); `tsc` and `svelte-check` do the type checking.
import js from '@eslint/js';
import svelte from 'eslint-plugin-svelte';
import globals from 'globals';
import ts from 'typescript-eslint';

export default ts.config(
  { ignores: ['node_modules/', 'dist/', '.gridplan-data*/', '.test-data/', '.scratch/', 'tests/artifacts/'] },
  js.configs.recommended,
  ...ts.configs.recommended,
  ...svelte.configs.recommended,
  {
    languageOptions: { globals: { ...globals.browser, ...globals.node } },
    rules: {
      // Database rows and parsed JSON are typed where they are read; `any` stays in tests and at those edges.
      '@typescript-eslint/no-explicit-any': 'off',
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_', caughtErrors: 'none' }],
      'no-empty': ['error', { allowEmptyCatch: true }],
      // Prettier wraps code at 160; strings, SQL and comments it cannot wrap are held to the same.
      'max-len': ['error', { code: 160, ignoreUrls: true }],
      // TypeScript knows what is defined (ambient GeoJSON types, DOM, Node); this rule does not.
      'no-undef': 'off',
      // Local Maps and Sets inside functions are not state; state lives in $state fields of classes.
      'svelte/prefer-svelte-reactivity': 'off',
    },
  },
  {
    files: ['**/*.svelte', '**/*.svelte.ts'],
    languageOptions: { parserOptions: { parser: ts.parser, extraFileExtensions: ['.svelte'] } },
  },
);
