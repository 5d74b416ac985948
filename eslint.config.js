// Lint and format check in one tool: ESLint with typescript-eslint (correctness) and
// @stylistic (formatting). `npm run lint` checks, `npm run format` applies fixes.
import stylistic from '@stylistic/eslint-plugin';
import tseslint from 'typescript-eslint';

export default tseslint.config(
  { ignores: ['dist/', 'node_modules/', 'audit-output/', 'test-artifacts/'] },
  ...tseslint.configs.recommended,
  stylistic.configs.customize({
    indent: 2,
    quotes: 'single',
    semi: true,
    braceStyle: '1tbs',
    arrowParens: true,
    commaDangle: 'always-multiline',
    quoteProps: 'as-needed',
  }),
  {
    rules: {
      '@stylistic/max-len': [
        'error',
        { code: 160, ignoreStrings: true, ignoreTemplateLiterals: true, ignoreRegExpLiterals: true, ignoreUrls: true },
      ],
      '@stylistic/operator-linebreak': ['error', 'before'],
      '@stylistic/multiline-ternary': 'off',
      '@stylistic/indent': ['error', 2, { offsetTernaryExpressions: true, SwitchCase: 1 }],
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_', destructuredArrayIgnorePattern: '^_' }],
    },
  },
);
