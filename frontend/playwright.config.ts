// Browser tests of the dashboard (frontend/e2e/*.spec.ts) against a running pulse with real Redis.
// integration/browser_test.go starts a pulse and runs them (PULSE_E2E=1); by hand, against any pulse:
//
//   cd frontend && PULSE_URL=http://127.0.0.1:8080 npx playwright test
//
// Chromium is Debian's (/usr/bin/chromium, or PULSE_CHROMIUM): Playwright never downloads a
// browser here (PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 for installs; executablePath for runs).
//
// Projects: desktop (1440×900) runs every check; mobile (390×844) runs the layout and
// accessibility checks. On request only: smooth (PULSE_E2E_SMOOTH=1, frame times with twelve
// generators) and shots (PULSE_E2E_SHOTS_DIR=../docs, the README's screenshots).
//
// Env: PULSE_URL (required), PULSE_CHROMIUM, PULSE_E2E_PARTITIONS (partitions the pulse has,
// default 8), PULSE_SMOOTH_SECONDS (default 30).
import { defineConfig, type PlaywrightTestConfig } from '@playwright/test';

const baseURL = process.env.PULSE_URL;
if (!baseURL) {
  throw new Error('PULSE_URL is not set: the pulse to test, e.g. PULSE_URL=http://127.0.0.1:8080 npx playwright test');
}
process.env.PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD = '1';

const desktop = { width: 1440, height: 900 };
const mobile = { width: 390, height: 844 };
/** The README's images keep the size they always had. */
const readme = { width: 1360, height: 900 };

const projects: PlaywrightTestConfig['projects'] = [
  { name: 'desktop', use: { viewport: desktop }, testIgnore: ['smooth.spec.ts', 'shots.spec.ts'] },
  // The phone runs what depends on the layout: the pages, axe, search and who is watching.
  { name: 'mobile', use: { viewport: mobile }, testMatch: ['layout.spec.ts', 'a11y.spec.ts', 'search.spec.ts', 'watching.spec.ts'] },
];
if (process.env.PULSE_E2E_SMOOTH === '1') {
  projects.push({ name: 'smooth', use: { viewport: readme }, testMatch: 'smooth.spec.ts' });
}
if (process.env.PULSE_E2E_SHOTS_DIR) {
  projects.push({ name: 'shots', use: { viewport: readme }, testMatch: 'shots.spec.ts' });
}

export default defineConfig({
  testDir: './e2e',
  outputDir: './test-results',
  // Two cores shared with pulse, Redis and the Go tests: one browser at a time, tests in order.
  workers: 1,
  fullyParallel: false,
  // A failure is a bug to fix, never retried away.
  retries: 0,
  forbidOnly: !!process.env.CI,
  // Checks wait for conditions with generous bounds; a test is stopped only when something hangs.
  timeout: 120_000,
  expect: { timeout: 10_000 },
  reporter: [['list'], ['html', { open: 'never', outputFolder: 'playwright-report' }]],
  use: {
    baseURL,
    headless: true,
    trace: 'retain-on-failure',
    screenshot: 'only-on-failure',
    video: 'off',
    actionTimeout: 15_000,
    navigationTimeout: 30_000,
    launchOptions: {
      executablePath: process.env.PULSE_CHROMIUM || '/usr/bin/chromium',
      args: [
        '--no-sandbox',
        '--disable-gpu',
        '--disable-quic',
        '--no-first-run',
        '--disable-background-networking',
        '--disable-component-update',
        '--disable-sync',
      ],
    },
  },
  projects,
});
