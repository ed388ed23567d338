// ESLint flat config: the recommended rules of JavaScript, TypeScript and React hooks (with the
// React Compiler's checks, which catch refs read during render and state set from effects).
import js from '@eslint/js';
import reactHooks from 'eslint-plugin-react-hooks';
import { defineConfig, globalIgnores } from 'eslint/config';
import globals from 'globals';
import tseslint from 'typescript-eslint';

export default defineConfig([
  globalIgnores(['dist', 'node_modules', 'e2e-shots', 'test-results', 'playwright-report']),
  js.configs.recommended,
  tseslint.configs.recommended,
  reactHooks.configs.flat.recommended,
  {
    languageOptions: {
      ecmaVersion: 2022,
      globals: globals.browser,
    },
  },
  {
    // Browser tests and build configuration run in Node.
    files: ['e2e/**', '*.config.{js,ts}'],
    languageOptions: { globals: globals.node },
  },
]);
