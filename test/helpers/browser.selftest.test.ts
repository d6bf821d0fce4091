import { expect, it } from 'vitest';
import { launchBrowser } from './browser.js';

it('headless Chromium renders a page and reports console errors', async () => {
  const { browser, close } = await launchBrowser();
  try {
    const page = await browser.newPage();
    const errors: string[] = [];
    page.on('console', (m) => m.type() === 'error' && errors.push(m.text()));
    await page.setContent('<svg width="10" height="10"><rect width="10" height="10"/></svg><script>console.error("x")</script>');
    expect(await page.locator('svg rect').count()).toBe(1);
    expect(errors).toEqual(['x']);
  } finally {
    await close();
  }
});
