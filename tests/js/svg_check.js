// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
// Opens a pyrograph flame graph SVG in Debian's chromium through
// puppeteer-core and does what a user does: search, click to zoom, reset,
// hover. Prints one JSON object with what it saw.
//   node tests/js/svg_check.js FILE.svg SEARCH CLICK_NAME
const path = require('path');
const puppeteer = require('puppeteer-core');

async function main() {
  const [file, term, clickName] = process.argv.slice(2);
  const out = { errors: [] };
  const browser = await puppeteer.launch({
    executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
    headless: true,
    args: ['--no-sandbox', '--disable-gpu', '--no-first-run'],
  });
  try {
    const page = await browser.newPage();
    page.on('console', (m) => { if (m.type() === 'error') out.errors.push(m.text()); });
    page.on('pageerror', (e) => out.errors.push(String(e)));
    await page.setViewport({ width: 1280, height: 900 });
    await page.goto('file://' + path.resolve(file), { waitUntil: 'load' });

    // Search: the page's own search(), as the Search button calls it.
    await page.evaluate((t) => search(t), term);
    Object.assign(out, await page.evaluate(() => {
      const m = document.getElementById('matched');
      return { matches: document.querySelectorAll('rect[data-match="1"]').length,
               matched_text: m ? m.textContent.trim() : '' };
    }));

    // Every frame: its label and fill, for the colour checks.
    out.frames = await page.evaluate(() => Array.from(document.querySelectorAll('g.f')).map((g) => ({
      title: (g.querySelector('title') || {}).textContent || '',
      fill: g.querySelector('rect').getAttribute('fill'),
      width: parseFloat(g.querySelector('rect').getAttribute('width')),
    })));

    // Click the first frame whose title contains clickName.
    const hit = await page.evaluate((name) => {
      let full = 0, hit = null;
      for (const g of document.querySelectorAll('g.f')) {
        const r = g.querySelector('rect');
        full = Math.max(full, parseFloat(r.getAttribute('width')));
        const t = g.querySelector('title');
        if (!hit && t && t.textContent.indexOf(name) >= 0) hit = g;
      }
      if (!hit) return null;
      window.__clicked = hit;
      const r = hit.querySelector('rect');
      r.scrollIntoView({ block: 'center', inline: 'center' });
      const b = r.getBoundingClientRect();
      return { x: b.left + b.width / 2, y: b.top + b.height / 2,
               width: parseFloat(r.getAttribute('width')), full };
    }, clickName);
    if (!hit) {
      out.errors.push('driver: no frame titled ' + clickName);
    } else {
      await page.mouse.move(hit.x, hit.y);
      out.details = await page.evaluate(() => (document.getElementById('details') || {}).textContent || '');
      await page.mouse.click(hit.x, hit.y);
      await new Promise((r) => setTimeout(r, 200));
      const after = await page.evaluate(() => parseFloat(window.__clicked.querySelector('rect').getAttribute('width')));
      out.width_before = hit.width;
      out.width_full = hit.full;
      out.zoomed = Math.abs(after - hit.full) < 0.5;
      // Reset zoom: the page's unzoom button.
      await page.evaluate(() => { const b = document.getElementById('unzoom'); if (b) b.dispatchEvent(new MouseEvent('click', { bubbles: true })); });
      await new Promise((r) => setTimeout(r, 200));
      const reset = await page.evaluate(() => parseFloat(window.__clicked.querySelector('rect').getAttribute('width')));
      out.reset = Math.abs(reset - hit.width) < 0.5;
    }
  } finally {
    await browser.close();
  }
  console.log(JSON.stringify(out));
}

main().catch((e) => { console.log(JSON.stringify({ errors: ['driver: ' + e.stack] })); process.exit(1); });
