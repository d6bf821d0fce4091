import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { describe, expect, it } from 'vitest';
import { Tensor, bench, loadModel, renderReport, validate, writeReport, type Model } from '../../src/index.js';
import { launchBrowser } from '../helpers/browser.js';

const CORPUS = path.resolve(__dirname, '../../../shared/corpus');
const digits = path.join(CORPUS, 'digits_cnn/model.onnx');

/** digits_cnn with its last layer's weights rounded to 1/8: a cheap stand-in for a lossy candidate. */
function coarse(): Model {
  const m = loadModel(digits);
  for (const [name, t] of m.graph.initializers) {
    if (t.dtype === 'float32' && t.dims.length === 2) m.graph.initializers.set(name, Tensor.from('float32', t.dims, (t.data as Float32Array).map((v) => Math.round(v * 8) / 8), name));
  }
  return m;
}

describe('HTML report', () => {
  it('is self-contained, renders every chart in headless Chromium without console errors, and screenshots', async () => {
    const candidate = coarse();
    const result = await bench([digits, { name: 'digits coarse', model: candidate }], { batches: [1, 4], threads: [1, 2], iterations: 8, warmup: 1, concurrency: 2, stressDurationS: 0.3 });
    const validation = await validate(digits, candidate, { data: [path.join(CORPUS, 'digits_cnn')], labels: path.join(CORPUS, 'digits_cnn/labels.json') });
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'modelship-report-'));
    const file = path.join(dir, 'report.html');
    writeReport(file, { bench: result, validations: [{ label: 'digits coarse', sizeBytes: result.models[1]!.sizeBytes, result: validation }] });
    const html = fs.readFileSync(file, 'utf8');
    expect(html).toBe(renderReport({ bench: result, validations: [{ label: 'digits coarse', sizeBytes: result.models[1]!.sizeBytes, result: validation }] }));
    expect(html).not.toMatch(/\b(src|href)=|<script|@import|url\(/i);

    const { browser, close } = await launchBrowser();
    try {
      const page = await browser.newPage({ viewport: { width: 1220, height: 900 } });
      const errors: string[] = [];
      const fetched: string[] = [];
      page.on('console', (m) => m.type() === 'error' && errors.push(m.text()));
      page.on('pageerror', (e) => errors.push(e.message));
      page.on('request', (r) => r.url() !== `file://${file}` && fetched.push(r.url()));
      await page.goto(`file://${file}`);
      expect(errors).toEqual([]);
      expect(fetched).toEqual([]);
      const titles = await page.locator('svg.chart > text.title').allTextContents();
      for (const want of [
        'latency ratio of digits coarse vs digits_cnn (< 1 is faster), 95% CI',
        'latency distribution · batch 1, 1 thread',
        'latency percentiles · batch 4, 2 threads',
        'throughput by batch size · 1 thread',
        'throughput by intra-op threads · batch 4',
        'process RSS during measurement',
        'throughput by serving mode',
        'model size',
        'task accuracy (397 labels)',
        'top-1 agreement with the reference',
      ]) {
        expect(titles).toContain(want);
      }
      // Every chart drew something: a non-empty path, a bar with width, or a dot.
      const drawn = await page.$$eval('svg.chart', (svgs) =>
        svgs.map((svg) => {
          const box = svg.getBoundingClientRect();
          const marks = [...svg.querySelectorAll('path.series, rect.bar, circle')].filter((el) => {
            const r = el.getBoundingClientRect();
            return (el.getAttribute('d') ?? 'x').length > 0 && (r.width > 0 || r.height > 0);
          });
          return { title: svg.querySelector('text.title')?.textContent, width: box.width, height: box.height, marks: marks.length };
        }),
      );
      expect(drawn.length).toBeGreaterThanOrEqual(titles.length);
      for (const d of drawn) {
        expect(d.width, d.title ?? '').toBeGreaterThan(100);
        expect(d.marks, d.title ?? '').toBeGreaterThan(0);
      }
      expect(await page.locator('table').first().locator('tbody tr').count()).toBe(8); // 4 configurations × 2 models
      const shot = path.join(dir, 'report.png');
      await page.screenshot({ path: shot, fullPage: true });
      expect(fs.statSync(shot).size).toBeGreaterThan(50_000);
    } finally {
      await close();
    }
  });
});
