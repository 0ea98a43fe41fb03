import js from '@eslint/js';
import tseslint from 'typescript-eslint';
import globals from 'globals';

export default tseslint.config(
  {
    ignores: [
      'dist/',
      'node_modules/',
      'coverage/',
      '.ci/',
      '.runtime*/',
      'native/udp-batch/build/',
    ],
  },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    languageOptions: { globals: globals.node },
    rules: {
      '@typescript-eslint/no-unused-vars': [
        'error',
        { argsIgnorePattern: '^_', varsIgnorePattern: '^_' },
      ],
      '@typescript-eslint/consistent-type-imports': 'error',
      'no-constant-condition': ['error', { checkLoops: false }],
    },
  },
  {
    // The GeoIP build tooling (MMDB writer, CSV ranges) is offline code: only the CLI's
    // `geo build` command and the tooling itself import it, never the serving runtime.
    files: ['src/**/*.ts'],
    ignores: ['src/cli.ts', 'src/geo/tools/**'],
    rules: {
      'no-restricted-imports': [
        'error',
        { patterns: [{ group: ['**/geo/tools/**'], message: 'offline GeoIP tooling' }] },
      ],
    },
  },
);
