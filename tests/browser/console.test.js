#!/usr/bin/env node
/* console.test.js: the console's page in a real headless browser (Debian's /usr/bin/chromium
 * driven by playwright-core), against the real blikveld: a `replay --console` drill fed through
 * a FIFO. tests/integration/console_browser.sh starts blikveld, holds the FIFO open and runs this
 * with the environment below; the FIFO lets this test send the second part of the recording while
 * the page is open, so the new alert arrives over the live feed at a known moment.
 *
 * Checks: log in (no session -> /login, a wrong token shows the error, the right one logs in,
 * the cookie is HttpOnly + SameSite=Strict and hidden from document.cookie); the page loads with
 * no console errors or warnings, no page errors and no failed requests; the drill's alert is
 * there with its evidence, places, samples and the OEFENING badge, a chart per rule, the sources
 * and the not-watched line; a new alert arrives on top while a marker set at load survives (no
 * reload); Acknowledge records the ack (the page, the API, the audit API and the audit file,
 * and another page sees it live); the read role has no button and gets 403; a rule is silenced
 * through the page's dialog and lifted again (the page, the API and the audit file); English is
 * chosen and remembered. Screenshots go to $BV_SHOTS.
 *
 * Prints "PASS browser: NAME" or "FAIL browser: NAME: WHY" per check; exits 1 when one failed,
 * 3 when the watchdog (60 s) stopped it.
 *
 * Environment: BV_URL (http://127.0.0.1:PORT), BV_FEED (the FIFO the replay reads), BV_PART1,
 * BV_PART2 (the recording's two parts), BV_STATE (the replay's state dir), BV_EVENT (the event's
 * name), BV_TOKEN_ACK and BV_TOKEN_READ (the tokens of politie-oc and kabinet), BV_SHOTS (where
 * screenshots go), BV_CHROMIUM (default /usr/bin/chromium). */
'use strict';

const fs = require('fs');
const path = require('path');
const crypto = require('crypto');

const NAME = 'browser';
const WATCHDOG_MS = 60000;
const WAIT_MS = 10000; /* any single wait on the page */

let failures = 0;
function pass(what) {
    console.log(`PASS ${NAME}: ${what}`);
}
function fail(what, why) {
    failures++;
    console.log(`FAIL ${NAME}: ${what}: ${String(why).replace(/\s+/g, ' ').slice(0, 600)}`);
}
function check(what, ok, why) {
    if (ok) {
        pass(what);
    } else {
        fail(what, why === undefined ? 'not so' : why);
    }
    return !!ok;
}

const watchdog = setTimeout(() => {
    console.log(`FAIL ${NAME}: watchdog: the test did not end within ${WATCHDOG_MS / 1000} s`);
    process.exit(3); /* playwright's chromium goes with its pipe */
}, WATCHDOG_MS);

function env(name) {
    const v = process.env[name];
    if (!v) {
        console.log(`FAIL ${NAME}: setup: ${name} is not set (run tests/integration/console_browser.sh)`);
        process.exit(1);
    }
    return v;
}

const BASE = env('BV_URL').replace(/\/$/, '');
const FEED = env('BV_FEED');
const PART1 = env('BV_PART1');
const PART2 = env('BV_PART2');
const STATE = env('BV_STATE');
const EVENT = env('BV_EVENT');
const TOKEN_ACK = env('BV_TOKEN_ACK');
const TOKEN_READ = env('BV_TOKEN_READ');
const SHOTS = env('BV_SHOTS');
const CHROMIUM = process.env.BV_CHROMIUM || '/usr/bin/chromium';

let chromium;
try {
    ({chromium} = require('playwright-core'));
} catch (e) {
    console.log(`FAIL ${NAME}: setup: playwright-core is not installed in tests/browser ` +
        `(run make deps): ${e.message}`);
    process.exit(1);
}

/* ---- talking to blikveld from node (not through the page) ---- */

async function api(method, p, token, body) {
    const headers = {Accept: 'application/json'};
    if (token) {
        headers.Authorization = 'Bearer ' + token;
    }
    if (body !== undefined) {
        headers['Content-Type'] = 'application/json';
    }
    const r = await fetch(BASE + p, {method, headers, body, redirect: 'manual'});
    const text = await r.text();
    let json = null;
    try {
        json = JSON.parse(text);
    } catch (e) {
        json = null;
    }
    return {status: r.status, json, text, headers: r.headers};
}

/* Polls fn until it returns something truthy or the deadline passes. */
async function until(fn, ms) {
    const end = Date.now() + ms;
    for (;;) {
        const v = await fn();
        if (v || Date.now() > end) {
            return v;
        }
        await new Promise((res) => setTimeout(res, 50));
    }
}

/* The replay reads the FIFO; the shell driver holds it open for writing, so this never blocks. */
function feed(file) {
    fs.appendFileSync(FEED, fs.readFileSync(file));
}

/* ---- what the pages say: every console error and warning, page error and failed request ---- */

const problems = [];
const watchers = new Map(); /* page -> {quiet} */
function watch(page, label) {
    const w = {quiet: false};
    watchers.set(page, w);
    page.on('console', (m) => {
        if (m.type() === 'error' || m.type() === 'warning') {
            problems.push(`${label}: console ${m.type()}: ${m.text()} @ ${m.location().url}`);
        }
    });
    page.on('pageerror', (e) => problems.push(`${label}: page error: ${e.message}`));
    page.on('requestfailed', (r) => {
        /* leaving a page on purpose (a form sent, reload, log out, close: see away()) aborts
         * what it still had on the way (its open feed, a late favicon): only then, only that */
        if (w.quiet && r.failure().errorText === 'net::ERR_ABORTED') {
            return;
        }
        problems.push(`${label}: request failed: ${r.method()} ${r.url()} ${r.failure().errorText}`);
    });
    page.on('response', (r) => {
        if (r.status() >= 400) {
            problems.push(`${label}: HTTP ${r.status()} for ${r.request().method()} ${r.url()}`);
        }
    });
    return w;
}

/* Leaves the page's document on purpose: fn navigates, and returns once the next one loaded
 * (so the aborts of the old one have been seen). */
async function away(page, fn) {
    const w = watchers.get(page) || {};
    w.quiet = true;
    try {
        return await fn();
    } finally {
        w.quiet = false;
    }
}

/* A check whose body may throw (a wait that timed out): the throw is its failure. */
async function step(what, fn) {
    try {
        const r = await fn();
        if (r === false) {
            return false;
        }
        if (typeof r === 'string') {
            return check(what, false, r);
        }
        pass(what);
        return true;
    } catch (e) {
        fail(what, e.message.split('\n')[0]);
        return false;
    }
}

async function shot(page, file, full) {
    const p = path.join(SHOTS, file);
    await page.screenshot({path: p, fullPage: !!full});
    return p;
}

/* Logs in through the form on /login; true when the browser landed on /. */
async function formLogin(page, token) {
    if (!page.url().startsWith(BASE + '/login') || !await page.$('#token')) {
        await away(page, () => page.goto(BASE + '/login'));
    }
    await page.fill('#token', token, {timeout: WAIT_MS});
    await submit(page);
    return page.url() === BASE + '/';
}

/* Submits the login form and waits for where it leads (the redirects do not commit). */
async function submit(page) {
    await away(page, async () => {
        await Promise.all([page.waitForEvent('framenavigated', {timeout: WAIT_MS}),
            page.click('#submit')]);
        await page.waitForLoadState('load', {timeout: WAIT_MS});
    });
}

/* When the form does not log in (a bug, reported by its own check), the rest of the test goes on
 * with a session from node's POST /login (no Origin): the server's own Set-Cookie, its flags as
 * sent, put in the browser's jar. */
async function sessionFromNode(ctx, page, token) {
    const r = await fetch(BASE + '/login', {
        method: 'POST', redirect: 'manual',
        headers: {'Content-Type': 'application/x-www-form-urlencoded'},
        body: 'token=' + encodeURIComponent(token),
    });
    const sc = r.headers.get('set-cookie') || '';
    const m = /^bv_session=([^;]*)/.exec(sc);
    if (r.status !== 303 || !m) {
        throw new Error(`node's POST /login: HTTP ${r.status}, Set-Cookie ${sc}`);
    }
    await ctx.addCookies([{
        name: 'bv_session', value: m[1], url: BASE, httpOnly: /;\s*HttpOnly/i.test(sc),
        sameSite: /;\s*SameSite=Strict/i.test(sc) ? 'Strict' : 'Lax',
    }]);
    await away(page, () => page.goto(BASE + '/'));
}

const text = (page, sel) => page.textContent(sel, {timeout: WAIT_MS});

async function main() {
    fs.mkdirSync(SHOTS, {recursive: true});
    const shots = [];

    /* the first part of the recording: the first alert, before any page is open */
    feed(PART1);
    const first = await until(async () => {
        const r = await api('GET', '/api/alerts', TOKEN_ACK);
        return r.status === 200 && r.json.alerts.find((a) => a.rule === 'oproep-onrust');
    }, WAIT_MS);
    if (!check('the replay gives the first alert (oproep-onrust)', first,
        'not in /api/alerts within 10 s')) {
        return;
    }
    const probe = await api('GET', '/api/me');
    check('the API without a token answers 401 (asked from node, not the page)',
        probe.status === 401, `HTTP ${probe.status}`);

    const browser = await chromium.launch({
        executablePath: CHROMIUM,
        headless: true,
        args: ['--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage',
            '--disable-background-networking', '--log-level=3',
            /* nothing leaves the machine: every name but 127.0.0.1 fails to resolve */
            '--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1'],
    });
    try {
        await run(browser, first, shots);
    } finally {
        await browser.close();
    }
    const missing = shots.filter((p) => !(fs.existsSync(p) && fs.statSync(p).size > 1000));
    check(`screenshots kept in ${SHOTS} (${shots.map((p) => path.basename(p)).join(', ')})`,
        shots.length >= 6 && missing.length === 0, 'missing or empty: ' + missing.join(', '));
}

async function run(browser, first, shots) {
    /* ---- log in ---- */
    const ctx = await browser.newContext({viewport: {width: 1440, height: 900}, locale: 'nl-NL'});
    const page = await ctx.newPage();
    watch(page, 'ack page');

    await step('a visit without a session lands on /login', async () => {
        const r = await page.goto(BASE + '/');
        const chain = [];
        for (let q = r.request().redirectedFrom(); q; q = q.redirectedFrom()) {
            chain.push(q.url());
        }
        if (page.url() !== BASE + '/login') {
            return 'landed on ' + page.url();
        }
        if (!chain.includes(BASE + '/')) {
            return 'not redirected from /: ' + JSON.stringify(chain);
        }
        return (await page.isHidden('#login-error')) || 'the error text shows at once';
    });
    shots.push(await shot(page, 'login.png'));

    /* a failing login step reports the errors it caused itself (not again below) */
    await step('a wrong token shows the error on /login?failed=1', async () => {
        const n0 = problems.length;
        await page.fill('#token', 'not-the-right-token-at-all');
        await submit(page);
        if (page.url() !== BASE + '/login?failed=1') {
            return `landed on ${page.url()}: ${(await page.textContent('body')).slice(0, 200)} ` +
                JSON.stringify(problems.splice(n0));
        }
        await page.waitForSelector('#login-error:visible', {timeout: WAIT_MS});
        const c = await ctx.cookies();
        return !c.some((k) => k.name === 'bv_session') || 'a cookie was set: ' + JSON.stringify(c);
    });
    shots.push(await shot(page, 'login-failed.png'));

    let mainResp = null;
    page.on('response', (r) => {
        if (r.url() === BASE + '/' && r.request().method() === 'GET' && r.status() === 200) {
            mainResp = r;
        }
    });
    check('the login page had no console error or warning, page error or failed request',
        problems.length === 0, JSON.stringify(problems));
    problems.length = 0; /* from here on: the console's page */
    const formOk = await step('the ack token (politie-oc) logs in through the form', async () => {
        const n0 = problems.length;
        const ok = await formLogin(page, TOKEN_ACK);
        return ok || `still on ${page.url()} after submitting the right token: ` +
            JSON.stringify(problems.splice(n0)) + ' (the rest goes on with a session from ' +
            'node\'s POST /login)';
    });
    if (!formOk) {
        await sessionFromNode(ctx, page, TOKEN_ACK);
    }
    if (!await step('the page gets ready (me, alerts, rules, sources, feed)', async () => {
        await page.waitForURL(BASE + '/', {timeout: WAIT_MS});
        await page.waitForSelector('body[data-ready="1"]', {timeout: WAIT_MS});
    })) {
        return;
    }

    await step('the session cookie is HttpOnly + SameSite=Strict and not in document.cookie',
        async () => {
            const c = (await ctx.cookies()).filter((k) => k.name === 'bv_session');
            if (c.length !== 1) {
                return 'cookies: ' + JSON.stringify(await ctx.cookies());
            }
            if (!c[0].httpOnly || c[0].sameSite !== 'Strict' || c[0].path !== '/') {
                return JSON.stringify(c[0]);
            }
            const dc = await page.evaluate(() => document.cookie);
            return !dc.includes('bv_session') || 'document.cookie: ' + dc;
        });

    await step('the page is served with the CSP (no inline script) and no-referrer', async () => {
        const h = await mainResp.allHeaders();
        const csp = h['content-security-policy'] || '';
        return (/script-src 'self'/.test(csp) && /default-src 'none'/.test(csp) &&
            !/unsafe-inline/.test(csp) && h['referrer-policy'] === 'no-referrer') ||
            JSON.stringify(h);
    });

    await step('me: event, drill banner, politie-oc with role ack, status live', async () => {
        const ev = await text(page, '#event-name');
        const who = await text(page, '#whoami');
        const st = await page.getAttribute('#status', 'data-state');
        const banner = await page.isVisible('#drill-badge');
        const word = await text(page, '#drill-badge .drill-word');
        return (ev === EVENT && banner && word === 'OEFENING' && who.includes('politie-oc') &&
            who.includes('mag bevestigen') && st === 'live') ||
            JSON.stringify({ev, who, st, banner, word});
    });

    /* the drill's alert */
    const firstSel = `#alerts article[data-id="${first.id}"]`;
    await step('the replay\'s alert is there: critical, firing, a drill, not acked', async () => {
        const cls = await page.getAttribute(firstSel, 'class', {timeout: WAIT_MS});
        const want = ['alert', 'sev-critical', 'state-firing', 'drill'];
        return (want.every((c) => cls.split(' ').includes(c)) && !/\backed\b/.test(cls) &&
            await page.getAttribute(firstSel, 'data-rule') === 'oproep-onrust') || cls;
    });
    await step('its title, OEFENING badge, evidence and places', async () => {
        const title = await text(page, firstSel + ' .title');
        const badge = await text(page, firstSel + ' .badge-drill');
        const ev = await page.$$eval(firstSel + ' .evidence li', (l) => l.map((x) => x.textContent));
        const places = await text(page, firstSel + ' .places');
        const d = first.detectors[0];
        /* the words of the messages (render.c), sent by the server with the alert */
        const want = `${d.unique_authors} verschillende accounts in 10m (drempel ${d.threshold})`;
        const sent = first.evidence_text && first.evidence_text.nl && first.evidence_text.nl[0];
        return (title === first.title && badge === 'OEFENING' && ev.length === 1 &&
            sent === want && ev[0] === want && places.includes('Utrecht')) ||
            JSON.stringify({title, badge, ev, want, sent, places});
    });
    await step('its sample posts: excerpts and safe links', async () => {
        const s = await page.$$eval(firstSel + ' .samples li', (l) => l.map((x) => ({
            q: x.querySelector('.excerpt').textContent,
            href: x.querySelector('a') && x.querySelector('a').getAttribute('href'),
            rel: x.querySelector('a') && x.querySelector('a').rel,
            target: x.querySelector('a') && x.querySelector('a').target,
        })));
        return (s.length === first.samples.length && s.length > 0 &&
            s.every((x, i) => x.q === first.samples[i].excerpt && x.href === first.samples[i].url &&
                x.rel === 'noopener noreferrer' && x.target === '_blank') &&
            s.some((x) => /rellen/i.test(x.q))) || JSON.stringify(s);
    });
    await step('a chart per rule, in rule-set order, each with a value line', async () => {
        const r = await page.$$eval('#rules section.rule', (l) => l.map((s) => ({
            id: s.dataset.rule, svg: !!s.querySelector('svg.chart'),
            value: (s.querySelector('svg.chart path.value') || {getAttribute: () => ''})
                .getAttribute('d'),
        })));
        return (r.map((x) => x.id).join() === 'oproep-onrust,drukte-station' &&
            r.every((x) => x.svg && /^M[\d.]+ [\d.]+/.test(x.value || ''))) || JSON.stringify(r);
    });
    await step('the sources table: the recording, replaying', async () => {
        const rows = await page.$$eval('#sources tr.source', (l) => l.map((x) => ({
            name: x.dataset.source, state: x.dataset.state,
            platform: x.querySelector('.platform').textContent,
        })));
        return (rows.length === 1 && rows[0].name === 'replay' && rows[0].platform === 'file' &&
            rows[0].state === 'replaying') || JSON.stringify(rows);
    });
    await step('the not-watched line', async () => {
        const nw = await text(page, '#not-watched');
        return (nw.startsWith('Niet in beeld:') && nw.includes('TikTok')) || nw;
    });
    await page.evaluate(() => window.scrollTo(0, 0));
    shots.push(await shot(page, 'after-login.png', true));
    check('the page loaded with no console error or warning, page error or failed request',
        problems.length === 0, JSON.stringify(problems));

    /* ---- a new alert arrives while the page is open: no reload ---- */
    const marker = crypto.randomBytes(12).toString('hex');
    await page.evaluate((m) => {
        window.__marker = m;
    }, marker);
    feed(PART2);
    let second = null;
    await step('a new alert (drukte-station) arrives over the feed, on top', async () => {
        await page.waitForSelector('#alerts > article:first-child[data-rule="drukte-station"]',
            {timeout: WAIT_MS});
        const ids = await page.$$eval('#alerts > article', (l) => l.map((x) => x.dataset.id));
        const r = await api('GET', '/api/alerts', TOKEN_ACK);
        second = r.json.alerts.find((a) => a.rule === 'drukte-station');
        const cls = await page.getAttribute('#alerts > article:first-child', 'class');
        return (second && ids.length === 2 && ids[0] === second.id && ids[1] === first.id &&
            /sev-warning/.test(cls) && /\bdrill\b/.test(cls)) || JSON.stringify({ids, cls});
    });
    await step('the marker set at load survived: no reload, one navigation', async () => {
        const m = await page.evaluate(() => window.__marker);
        const nav = await page.evaluate(() => performance.getEntriesByType('navigation').length);
        return (m === marker && nav === 1) || JSON.stringify({m, marker, nav});
    });
    await step('the rule\'s chart shows it firing (rules feed event)', async () => {
        await page.waitForSelector('#rules section.rule.firing[data-rule="drukte-station"]',
            {timeout: WAIT_MS});
        const ev = await page.$$eval('#alerts > article:first-child .evidence li',
            (l) => l.map((x) => x.textContent));
        return (ev.length === 1 && /^\d+ berichten in 10m \(drempel 5\)$/.test(ev[0])) ||
            JSON.stringify(ev);
    });
    await step('the rule\'s shown count is its newest evaluation, as in its chart', async () => {
        /* every post is in: the 10-minute window at the newest event time holds all six station
         * posts (threshold 5); a final evaluation of an older bucket must not replace that */
        const posts = [PART1, PART2].map((f) => fs.readFileSync(f, 'utf8').split('\n')
            .filter(Boolean).length).reduce((a, b) => a + b);
        let d = null, hist = null, seen = 0;
        await until(async () => {
            const src = await api('GET', '/api/sources', TOKEN_ACK);
            const r = await api('GET', '/api/rules', TOKEN_ACK);
            seen = src.json.sources[0].posts;
            const rule = r.json.rules.find((x) => x.id === 'drukte-station');
            d = rule.detectors[0];
            hist = rule.history[rule.history.length - 1];
            return seen === posts && d.holds && d.value >= d.level;
        }, 2000);
        if (!(seen === posts && d.holds && d.value >= d.level)) {
            return `after all ${seen} posts /api/rules says ${JSON.stringify(d)} while the rule ` +
                `fires and its newest chart point is ${JSON.stringify(hist)}`;
        }
        const sel = '#rules section.rule[data-rule="drukte-station"] .value .num';
        await page.waitForFunction(([q, v]) => document.querySelector(q).textContent === v,
            [sel, String(d.value)], {timeout: WAIT_MS});
    });
    shots.push(await shot(page, 'new-alert.png'));
    if (!second) {
        return;
    }

    /* ---- the read role, in a context of its own, watching ---- */
    const ctxR = await browser.newContext({viewport: {width: 1280, height: 800}});
    const pageR = await ctxR.newPage();
    watch(pageR, 'read page');
    let readVia = '';
    const readOk = await step('the read token (kabinet) logs in: role read, no Acknowledge button',
        async () => {
            const n0 = problems.length;
            if (!await formLogin(pageR, TOKEN_READ)) {
                /* the form's failure is reported above; its errors are that failure's */
                readVia = ' [session from node\'s POST /login: the form did not log in: ' +
                    JSON.stringify(problems.splice(n0)) + ']';
                await sessionFromNode(ctxR, pageR, TOKEN_READ);
            }
            await pageR.waitForSelector('body[data-ready="1"]', {timeout: WAIT_MS});
            await pageR.waitForSelector(`#alerts article[data-id="${second.id}"]`,
                {timeout: WAIT_MS});
            const who = await text(pageR, '#whoami');
            const buttons = await pageR.$$eval('button.ack', (l) => l.length);
            return (who.includes('kabinet') && who.includes('alleen lezen') && buttons === 0) ||
                JSON.stringify({who, buttons}) + readVia;
        });
    if (readOk) {
        await step('the read role\'s POST ack answers 403 (its session, and its bearer token)',
            async () => {
                const r1 = await ctxR.request.post(`${BASE}/api/alerts/${second.id}/ack`, {
                    headers: {'Content-Type': 'application/json'}, data: '{}',
                    failOnStatusCode: false,
                });
                const r2 = await api('POST', `/api/alerts/${second.id}/ack`, TOKEN_READ, '{}');
                return (r1.status() === 403 && r2.status === 403) ||
                    JSON.stringify({session: r1.status(), bearer: r2.status, body: r2.text});
            });
    }

    /* ---- Acknowledge ---- */
    const secondSel = `#alerts article[data-id="${second.id}"]`;
    let ackResp = null;
    const acked = await step('Acknowledge: the button turns into "bevestigd door politie-oc om HH:MM"',
        async () => {
            [ackResp] = await Promise.all([
                page.waitForResponse((r) => r.request().method() === 'POST' &&
                    r.url() === `${BASE}/api/alerts/${second.id}/ack`, {timeout: WAIT_MS}),
                page.click(secondSel + ' button.ack', {timeout: WAIT_MS})]);
            await page.waitForSelector(secondSel + '.acked .acked-by', {timeout: WAIT_MS});
            const t = await text(page, secondSel + ' .acked-by');
            const buttons = await page.$$eval(secondSel + ' button.ack', (l) => l.length);
            return (/^bevestigd door politie-oc om \d\d:\d\d$/.test(t) && buttons === 0) ||
                JSON.stringify({t, buttons});
        });
    shots.push(await shot(page, 'after-ack.png'));
    if (acked) {
        await step('the page\'s POST ack answered 200 {by: politie-oc, already: false}', async () => {
            const j = await ackResp.json();
            return (ackResp.status() === 200 && j.id === second.id && j.by === 'politie-oc' &&
                j.already === false && Number.isFinite(j.at)) ||
                `HTTP ${ackResp.status()} ${JSON.stringify(j)}`;
        });
        await step('the API shows the ack: ack.by politie-oc', async () => {
            const r = await api('GET', '/api/alerts', TOKEN_ACK);
            const a = r.json && r.json.alerts.find((x) => x.id === second.id);
            const other = r.json && r.json.alerts.find((x) => x.id === first.id);
            return (a && a.ack && a.ack.by === 'politie-oc' && Number.isFinite(a.ack.at) &&
                other && other.ack === null) || r.text.slice(0, 400);
        });
        await step('the audit API has one ack record by politie-oc for that id', async () => {
            const r = await api('GET', '/api/audit?event=' + encodeURIComponent(EVENT), TOKEN_ACK);
            const recs = (r.json && r.json.records || []).filter((x) => x.what === 'ack');
            return (r.status === 200 && r.json.event === EVENT && recs.length === 1 &&
                recs[0].id === second.id && recs[0].by === 'politie-oc' &&
                recs[0].rule === 'drukte-station') || `HTTP ${r.status} ${r.text.slice(0, 400)}`;
        });
        await step(`the audit file audit/${EVENT}.jsonl has it`, async () => {
            const f = path.join(STATE, 'audit', EVENT + '.jsonl');
            const lines = fs.existsSync(f) ? fs.readFileSync(f, 'utf8').split('\n').filter(Boolean)
                : [];
            const recs = lines.map((l) => JSON.parse(l)).filter((x) => x.what === 'ack');
            return (recs.length === 1 && recs[0].id === second.id && recs[0].by === 'politie-oc') ||
                `${f}: ${JSON.stringify(lines)}`;
        });
        await step('a second ack of it answers already, and is not recorded again', async () => {
            const r = await api('POST', `/api/alerts/${second.id}/ack`, TOKEN_ACK, '{}');
            const a = await api('GET', '/api/audit?event=' + encodeURIComponent(EVENT), TOKEN_ACK);
            const n = (a.json && a.json.records || []).filter((x) => x.what === 'ack').length;
            return (r.status === 200 && r.json.already === true && r.json.by === 'politie-oc' &&
                n === 1) || JSON.stringify({status: r.status, body: r.text, n});
        });
        if (readOk) {
            await step('the read page sees the ack live (ack feed event), without reloading',
                async () => {
                    await pageR.waitForSelector(secondSel + '.acked .acked-by', {timeout: WAIT_MS});
                    const t = await text(pageR, secondSel + ' .acked-by');
                    const nav = await pageR.evaluate(() =>
                        performance.getEntriesByType('navigation').length);
                    return (t.startsWith('bevestigd door politie-oc') && nav === 1) ||
                        JSON.stringify({t, nav});
                });
        }
    }
    await step('after all that the marker is still there (no reload)', async () => {
        const m = await page.evaluate(() => window.__marker);
        const nav = await page.evaluate(() => performance.getEntriesByType('navigation').length);
        return (m === marker && nav === 1) || JSON.stringify({m, nav});
    });
    if (readOk) {
        shots.push(await shot(pageR, 'read-role.png'));
    }

    /* ---- Silence a rule from the page, then lift it ---- */
    const ruleSel = 'section.rule[data-rule="drukte-station"]';
    let silResp = null;
    const silenced = await step('Silence: "Stil zetten\u2026" opens the dialog; 4 uur and a reason ' +
        'silence the rule ("stil tot ..."), the dialog closes', async () => {
        await page.click(ruleSel + ' button.silence', {timeout: WAIT_MS});
        await page.waitForSelector('#silence-dialog[open]', {timeout: WAIT_MS});
        const title = await text(page, '#silence-title');
        await page.selectOption('#silence-for', '4h');
        await page.fill('#silence-reason', 'Oefening: de drukte bij het station is gepland');
        [silResp] = await Promise.all([
            page.waitForResponse((r) => r.request().method() === 'POST' &&
                r.url() === `${BASE}/api/rules/drukte-station/silence`, {timeout: WAIT_MS}),
            page.click('#silence-submit')]);
        await page.waitForSelector(ruleSel + ' .chip-silenced', {timeout: WAIT_MS});
        const chip = await text(page, ruleSel + ' .chip-silenced');
        const open = await page.$eval('#silence-dialog', (d) => d.open);
        const lift = await page.$$eval(ruleSel + ' button.lift', (l) => l.length);
        return (title === 'Regel stil zetten: Gevaarlijke drukte op het station' &&
            /^stil tot .*\d\d:\d\d$/.test(chip) && !open && lift === 1) ||
            JSON.stringify({title, chip, open, lift});
    });
    shots.push(await shot(page, 'silenced.png'));
    if (silenced) {
        let until = 0;
        await step('the page\'s POST answered 200 {rule, by politie-oc, until 4 h on}', async () => {
            const j = await silResp.json();
            until = j.until;
            return (silResp.status() === 200 && j.rule === 'drukte-station' &&
                j.by === 'politie-oc' && j.until - j.at === 4 * 3600000) ||
                `HTTP ${silResp.status()} ${JSON.stringify(j)}`;
        });
        await step('the API shows it (silenced_until), and the audit file has it with the reason',
            async () => {
                const r = await api('GET', '/api/rules', TOKEN_READ);
                const rule = r.json && r.json.rules.find((x) => x.id === 'drukte-station');
                const f = path.join(STATE, 'audit', EVENT + '.jsonl');
                const recs = (fs.existsSync(f) ? fs.readFileSync(f, 'utf8').split('\n') : [])
                    .filter(Boolean).map((l) => JSON.parse(l)).filter((x) => x.what === 'silence');
                return (rule && rule.silenced_until === until && recs.length === 1 &&
                    recs[0].rule === 'drukte-station' && recs[0].by === 'politie-oc' &&
                    recs[0].reason === 'Oefening: de drukte bij het station is gepland') ||
                    JSON.stringify({rule: rule && rule.silenced_until, until, recs});
            });
        if (readOk) {
            await step('the read page has no silence button, and its POST silence answers 403',
                async () => {
                    const n = await pageR.$$eval('section.rule button.silence, section.rule ' +
                        'button.lift', (l) => l.length);
                    const r = await api('POST', '/api/rules/drukte-station/silence', TOKEN_READ,
                        '{"lift":true}');
                    return (n === 0 && r.status === 403) || JSON.stringify({n, status: r.status});
                });
        }
        await step('"Stilte opheffen" lifts it: the chip goes, the audit file has what=unsilence',
            async () => {
                await page.click(ruleSel + ' button.lift', {timeout: WAIT_MS});
                await page.waitForSelector(ruleSel + ' button.silence', {timeout: WAIT_MS});
                const chips = await page.$$eval(ruleSel + ' .chip-silenced', (l) => l.length);
                const f = path.join(STATE, 'audit', EVENT + '.jsonl');
                const recs = fs.readFileSync(f, 'utf8').split('\n').filter(Boolean)
                    .map((l) => JSON.parse(l)).filter((x) => x.what === 'unsilence');
                return (chips === 0 && recs.length === 1 && recs[0].by === 'politie-oc') ||
                    JSON.stringify({chips, recs});
            });
    }

    /* ---- English, in a page of its own (the marker page must not reload) ---- */
    const pageE = await ctx.newPage();
    watch(pageE, 'english page');
    await step('English: the switch changes the texts (button Acknowledge, DRILL)', async () => {
        await pageE.goto(BASE + '/');
        await pageE.waitForSelector('body[data-ready="1"]', {timeout: WAIT_MS});
        await pageE.click('#lang');
        const s = {
            lang: await pageE.evaluate(() => document.documentElement.lang),
            button: await text(pageE, firstSel + ' button.ack'),
            acked: await text(pageE, secondSel + ' .acked-by'),
            badge: await text(pageE, firstSel + ' .badge-drill'),
            nw: await text(pageE, '#not-watched'),
            h: await text(pageE, '#h-alerts'),
            switch: await text(pageE, '#lang'),
        };
        return (s.lang === 'en' && s.button === 'Acknowledge' &&
            s.acked.startsWith('acknowledged by politie-oc at') && s.badge === 'DRILL' &&
            s.nw.startsWith('Not watched:') && s.h === 'Alerts' && s.switch === 'Nederlands') ||
            JSON.stringify(s);
    });
    shots.push(await shot(pageE, 'english.png'));
    await step('English is remembered by a new page load', async () => {
        await away(pageE, () => pageE.reload());
        await pageE.waitForSelector('body[data-ready="1"]', {timeout: WAIT_MS});
        const lang = await pageE.evaluate(() => document.documentElement.lang);
        const button = await text(pageE, firstSel + ' button.ack');
        return (lang === 'en' && button === 'Acknowledge') || JSON.stringify({lang, button});
    });
    await step('the marker page kept Dutch and its marker', async () => {
        const lang = await page.evaluate(() => document.documentElement.lang);
        const m = await page.evaluate(() => window.__marker);
        return (lang === 'nl' && m === marker) || JSON.stringify({lang, m});
    });

    /* ---- log out (the read context) ---- */
    if (readOk) {
        await step('log out: back to /login, and / needs a login again', async () => {
            await away(pageR, async () => {
                await Promise.all([pageR.waitForURL(BASE + '/login', {timeout: WAIT_MS}),
                    pageR.click('#logout button')]);
                await pageR.waitForLoadState('load', {timeout: WAIT_MS});
                await pageR.goto(BASE + '/');
            });
            const c = (await ctxR.cookies()).filter((k) => k.name === 'bv_session');
            return (pageR.url() === BASE + '/login' && c.length === 0) ||
                JSON.stringify({url: pageR.url(), c});
        });
    }

    check('no console error or warning, page error or failed request on any page',
        problems.length === 0, JSON.stringify(problems));
    for (const w of watchers.values()) {
        w.quiet = true; /* closing */
    }
    await ctxR.close();
    await ctx.close();
}

main().then(() => {
    clearTimeout(watchdog);
    process.exit(failures ? 1 : 0);
}, (e) => {
    clearTimeout(watchdog);
    fail('the test itself', e.stack || e);
    process.exit(1);
});
