import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import sharp from 'sharp';
import { afterAll, beforeAll, expect, it } from 'vitest';
import type { FastifyInstance } from 'fastify';
import { createServer } from '../../src/serve/index.js';
import { launchBrowser } from '../helpers/browser.js';
import { corpusInput, digitsPackage, qualityPackage, tempDir } from './helpers.js';

let app: FastifyInstance;
let url: string;
const root = tempDir('serve-page');
export const SCREENSHOT = path.join(os.tmpdir(), 'modelship-serve-page.png');

beforeAll(async () => {
  const repo = path.join(root, 'repo');
  digitsPackage(repo);
  qualityPackage(repo);
  app = createServer({ targets: [repo], logLevel: false });
  url = await app.listen({ port: 0, host: '127.0.0.1' });
});
afterAll(() => app?.close());

it('shows the models, predicts from the feature form and an uploaded image, with live figures, using no external assets', async () => {
  const { browser, close } = await launchBrowser();
  try {
    const page = await browser.newPage({ viewport: { width: 1000, height: 1100 } });
    const errors: string[] = [];
    const external: string[] = [];
    page.on('console', (m) => m.type() === 'error' && errors.push(m.text()));
    page.on('pageerror', (e) => errors.push(e.message));
    page.on('response', (r) => r.status() >= 400 && errors.push(`${r.status()} ${r.url()}`));
    page.on('request', (r) => !r.url().startsWith(url) && !r.url().startsWith('data:') && external.push(r.url()));
    await page.goto(url);
    await page.locator('.model[data-name="digits"]').waitFor();
    expect(await page.locator('.model h2').allTextContents()).toEqual([expect.stringContaining('digits'), expect.stringContaining('quality')]);
    expect(await page.locator('.model[data-name="digits"] table').textContent()).toContain('[-1, 1, 8, 8]');

    const quality = page.locator('.model[data-name="quality"]');
    await quality.locator('input[name="edge_density"]').fill('0.4');
    await quality.locator('button').click();
    await quality.locator('.result pre').waitFor();
    expect(await quality.locator('.result pre').textContent()).toMatch(/"ssim": 0\.\d+/);

    const pixels = Uint8Array.from((corpusInput('digits_cnn').data as Float32Array).subarray(0, 64), (v) => Math.round(v * 255));
    const png = await sharp(pixels, { raw: { width: 8, height: 8, channels: 1 } }).resize(64, 64, { kernel: 'nearest' }).png().toBuffer();
    const digits = page.locator('.model[data-name="digits"]');
    await digits.locator('input[type=file]').setInputFiles({ name: 'digit.png', mimeType: 'image/png', buffer: png });
    await digits.locator('button').click();
    await digits.locator('.result .prediction').waitFor();
    expect(await digits.locator('.result .prediction').textContent()).toMatch(/prediction: digit \d/);
    expect(await digits.locator('.result .row').count()).toBe(3);

    // Live figures come from the statistics endpoint, refreshed every 2 s.
    await quality.locator('.f-req', { hasText: /^1$/ }).waitFor({ timeout: 5000 });
    expect(await page.locator('#health').textContent()).toBe('ready');
    await page.screenshot({ path: SCREENSHOT, fullPage: true });
    expect(fs.statSync(SCREENSHOT).size).toBeGreaterThan(10_000);

    await page.goto(`${url}/docs`);
    await page.locator('.swagger-ui .opblock').first().waitFor();
    expect(await page.locator('.opblock-summary-path').allTextContents()).toEqual(expect.arrayContaining(['/v2/models/{name}/infer']));
    expect(errors).toEqual([]);
    expect(external).toEqual([]);
  } finally {
    await close();
  }
});
