// ESLint: the recommended rules of ESLint and typescript-eslint. The import structure (no cycles,
// type-only imports included, and the layers) is checked by dependency-cruiser
// (.dependency-cruiser.cjs); Prettier owns the formatting. `npm run lint` runs both.
import { defineConfig } from 'eslint/config';
import eslint from '@eslint/js';
import tseslint from 'typescript-eslint';
import globals from 'globals';

export default defineConfig(
  { ignores: ['node_modules/', 'data/', 'test-output/', '**/dist/', 'bench/.compiled/'] },
  eslint.configs.recommended,
  tseslint.configs.recommended,
  {
    languageOptions: { globals: globals.node },
    rules: {
      // a leading underscore marks a parameter or binding kept for its position, not its value
      '@typescript-eslint/no-unused-vars': [
        'error',
        { argsIgnorePattern: '^_', varsIgnorePattern: '^_', caughtErrors: 'none', ignoreRestSiblings: true },
      ],
    },
  },
  {
    // tests and benchmarks read answers whose shape the assertions check
    files: ['test/**', 'bench/**'],
    rules: { '@typescript-eslint/no-explicit-any': 'off' },
  },
  {
    // CommonJS on purpose: the packaging test loads the receiver package through require()
    files: ['**/*.cjs', '**/*.cts'],
    rules: { '@typescript-eslint/no-require-imports': 'off' },
  },
  {
    // the dashboard runs in the browser
    files: ['web/**/*.js'],
    languageOptions: { globals: globals.browser },
  },
);
