/** Headless Chromium is shared with `npm run docs:screenshot`: scripts/lib/chromium.ts. */
export * from '../../scripts/lib/chromium.js';
