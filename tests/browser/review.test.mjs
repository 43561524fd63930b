// Browser test of the review console in headless Chromium (driven by playwright-core): opens the
// page, filters the queue, accepts one record, rejects one, edits one call's arguments with an
// invalid then a valid value, checks the review log, checks that an observation holding
// <script> renders as inert text, saves a screenshot of the record view, and checks that a
// second tab deciding on a record already decided gets a conflict message.
//
// Usage: node review.test.mjs <console URL> <review log path> <screenshot path>
// (scripts/review_browser_test.sh builds the console, starts it on a fixture and runs this.)

import { readFileSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium } from 'playwright-core';

const [url, logPath, screenshot] = process.argv.slice(2);
if (!url || !logPath || !screenshot) {
  console.error('usage: node review.test.mjs <url> <review log> <screenshot.png>');
  process.exit(2);
}

function check(cond, what) {
  if (!cond) throw new Error('check failed: ' + what);
  console.log('ok -', what);
}

// Polls from Node (the page's CSP forbids the eval that page.waitForFunction needs).
async function until(what, fn) {
  for (let i = 0; i < 200; i++) {
    if (await fn()) return;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error('timed out waiting for ' + what);
}

function logLines() {
  let text = '';
  try {
    text = readFileSync(logPath, 'utf8');
  } catch (_) {
    return [];
  }
  return text.split('\n').filter((l) => l.trim()).map((l) => JSON.parse(l));
}

const profile = mkdtempSync(join(tmpdir(), 'agentune-review-chromium-'));
// A fresh profile folder: playwright passes it to Chromium as --user-data-dir.
const context = await chromium.launchPersistentContext(profile, {
  executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
  headless: true,
  viewport: { width: 1400, height: 1000 },
  args: [
    '--headless',
    '--no-sandbox',
    '--disable-gpu',
    '--disable-quic',
    '--no-first-run',
    '--disable-background-networking',
    '--disable-component-update',
    '--disable-sync',
  ],
});
let failed = false;
try {
  const page = context.pages()[0] || (await context.newPage());
  const shown = (id) =>
    until('record ' + id, async () => (await page.locator('#record h2').first().textContent().catch(() => '')) === id);
  const errors = [];
  page.on('pageerror', (e) => errors.push(String(e)));
  page.on('dialog', (d) => { errors.push('dialog: ' + d.message()); d.dismiss(); });
  await page.goto(url);
  await page.waitForSelector('#queue-list li');
  const total = await page.locator('#queue-list li').count();
  check(total >= 5, `the queue lists the records (${total})`);
  // The first pending record is opened (resume).
  await page.waitForSelector('#record h2');

  // Filter by scenario.
  await page.selectOption('#f-scenario', 'units');
  await until('the filtered queue', async () => (await page.locator('#queue-list li').count()) < total);
  const units = await page.locator('#queue-list li').count();
  check(units >= 3 && units < total, `the scenario filter narrows the queue (${units} of ${total})`);
  const ids = await page.locator('#queue-list li').evaluateAll((lis) => lis.map((l) => l.dataset.id));
  await shown(ids[0]);

  // Accept the first with `a`: the console moves on to the next.
  await page.keyboard.press('a');
  await shown(ids[1]);
  check(logLines().length === 1 && logLines()[0].action === 'accept' && logLines()[0].id === ids[0], 'a accepts and logs it');
  check(await page.locator(`#queue-list li[data-id="${ids[0]}"] .badge.accepted`).count() === 1, 'the queue shows it accepted');

  // Reject the second with `r`, a reason from the list.
  await page.keyboard.press('r');
  await page.waitForSelector('#reject-reason');
  await page.selectOption('#reject-reason', 'wrong_answer');
  await page.click('#reject-confirm');
  await shown(ids[2]);
  const rej = logLines()[1];
  check(rej && rej.action === 'reject' && rej.reason === 'wrong_answer' && rej.id === ids[1], 'r rejects with a reason and logs it');

  // Edit the third: an invalid value is refused at the field, a valid one is saved.
  await page.keyboard.press('e');
  const args = page.locator('#record textarea[data-edit="arguments"]').first();
  await args.waitFor();
  const original = JSON.parse(await args.inputValue());
  await args.fill(JSON.stringify({ ...original, value: 'ten' }, null, 2));
  await page.keyboard.press('Control+Enter');
  await page.waitForSelector('#message.error');
  const fieldError = await page.locator('#record .field-error').first().textContent();
  check(/schema|expected/.test(fieldError), `the invalid value is refused at the field (${fieldError.trim()})`);
  check(await page.locator('#record textarea.invalid').count() === 1, 'the field is marked invalid');
  check(logLines().length === 2, 'nothing is logged for the refused edit');
  await args.fill(JSON.stringify({ ...original, value: original.value + 5 }, null, 2));
  await page.click('#save');
  await page.waitForSelector('#message.ok');
  await page.waitForSelector('#record-state.edited');
  const ed = logLines()[2];
  check(ed && ed.action === 'edit' && ed.id === ids[2], 'the valid edit is logged');
  check(ed.diff.some((c) => c.path.endsWith('/arguments/value') && c.after === original.value + 5), 'the log holds the before/after diff');
  const args2 = await page.locator('#record pre.arguments').first().textContent();
  check(JSON.parse(args2).value === original.value + 5, 'the record view shows the new arguments');
  check(ed.notes.some((n) => n.includes('re-executed')), 'the observation was re-executed');

  // Markup in an observation is inert text.
  await page.selectOption('#f-scenario', '');
  await until('the whole queue', async () => (await page.locator('#queue-list li').count()) === total);
  await page.click('#queue-list li[data-id="review-xss"]');
  await shown('review-xss');
  const obs = await page.locator('#record pre.observation').first().textContent();
  check(obs.includes('<script>') && obs.includes('<img'), 'the observation shows its markup as text');
  const injected = await page.evaluate(() => ({
    flag: window.__xss === undefined,
    scripts: document.querySelectorAll('#record script').length,
    imgs: document.querySelectorAll('#record img').length,
  }));
  check(injected.flag && injected.scripts === 0 && injected.imgs === 0, 'no script ran and no element was created from record text');
  // Screenshot of the record view: a record whose call fails its tool's schema, the findings
  // shown next to the step they concern.
  await page.click('#queue-list li[data-id="review-bad-args"]');
  await shown('review-bad-args');
  check(await page.locator('#record .step .finding.fail').count() >= 1, 'a failed finding is shown next to its step');
  await page.screenshot({ path: screenshot, fullPage: false });
  console.log('screenshot written to', screenshot);
  // Two tabs on one record: the second tab's decision is a conflict, not an overwrite.
  const tab2 = await context.newPage();
  tab2.on('pageerror', (e) => errors.push(String(e)));
  await tab2.goto(url);
  await tab2.waitForSelector('#queue-list li');
  await tab2.click(`#queue-list li[data-id="${ids[3]}"]`);
  await until('tab 2 on ' + ids[3], async () => (await tab2.locator('#record h2').first().textContent()) === ids[3]);
  await page.click(`#queue-list li[data-id="${ids[3]}"]`);
  await shown(ids[3]);
  await page.keyboard.press('a');
  await until('the accept', async () => logLines().length === 4);
  await tab2.keyboard.press('r');
  await tab2.waitForSelector('#reject-reason');
  await tab2.click('#reject-confirm');
  await tab2.waitForSelector('#message.error');
  const conflict = await tab2.locator('#message').textContent();
  check(/Conflict/.test(conflict), 'the second tab gets a conflict message');
  check(logLines().length === 4 && logLines()[3].action === 'accept', 'the first decision stands');
  check(errors.length === 0, 'no page errors or dialogs: ' + errors.join('; '));
} catch (e) {
  failed = true;
  console.error(e);
} finally {
  await context.close();
  rmSync(profile, { recursive: true, force: true });
}
if (failed) process.exit(1);
console.log('review console browser test passed');
