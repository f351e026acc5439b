/* app.js: the crisis team's console page (served from the blikveld binary, see
 * lib/console/assets.c). It loads /api/me, /api/alerts, /api/rules and /api/sources, then keeps
 * the screen current from the Server-Sent Events on /events, updating the DOM in place; it never
 * reloads itself. Everything that comes from posts (titles, excerpts, places, links) is attacker
 * controlled: it only ever goes in through textContent and setAttribute, never as markup.
 * The page runs under a strict CSP: no inline code, no inline styles, no eval. */
(function () {
    'use strict';

    /* ---- words: every string the page shows, in Dutch (default) and English ---- */

    const DICT = {
        nl: {
            html_lang: 'nl',
            locale: 'nl-NL',
            lang_other: 'English',
            lang_switch: 'Switch to English',
            drill: 'OEFENING',
            drill_banner: 'dit is een oefening, geen echte melding',
            drill_alert: 'Oefening: geen echte melding',
            st_connecting: 'verbinden\u2026',
            st_live: 'live',
            st_reconnecting: 'opnieuw verbinden\u2026',
            st_offline: 'geen verbinding, nieuwe poging\u2026',
            st_title_live: 'Live verbonden met blikveld',
            logout: 'Afmelden',
            alerts: 'Meldingen',
            rules: 'Regels',
            sources: 'Bronnen',
            no_alerts: 'Geen meldingen.',
            no_rules: 'Geen regels.',
            no_sources: 'Geen bronnen.',
            blind_note:
                'Een rustig scherm is geen bewijs dat er niets gebeurt: het gesprek kan gaande ' +
                'zijn waar blikveld niet kan kijken.',
            not_watched: 'Niet in beeld',
            not_watched_default:
                'persoonlijke Facebook-profielen en -evenementen, besloten groepen; Instagram, ' +
                'WhatsApp, Snapchat, TikTok (geen API voor publieke monitoring); ' +
                'Telegram-chats waar de bot niet in zit; wat privé is of verwijderd voordat ' +
                'het gezien werd',
            version: 'versie {v}',
            role_ack: 'mag bevestigen',
            role_read: 'alleen lezen',
            role_local: 'lokaal',
            sev_critical: 'KRITIEK',
            sev_warning: 'WAARSCHUWING',
            sev_info: 'INFO',
            state_firing: 'ALARM',
            state_resolved: 'OPGEHEVEN',
            health: 'SYSTEEM',
            restored: 'V\u00d3\u00d3R HERSTART',
            restored_note: 'Gemeld v\u00f3\u00f3r blikveld opnieuw startte: de status is die van toen, ' +
                'tot er een nieuwe komt.',
            health_note: 'Dit gaat over blikveld zelf, niet over berichten.',
            rule: 'regel',
            for_: 'voor',
            fired_resolved: 'alarm {from} \u2013 opgeheven {to}',
            ack: 'Bevestigen',
            acking: 'Bezig\u2026',
            acked_by: 'bevestigd door {by} om {t}',
            acked_by_only: 'bevestigd door {by}',
            ack_failed: 'Bevestigen mislukt: {e}',
            net_error: 'geen verbinding met de server',
            places: 'Plaatsen',
            which: 'welke?',
            samples: 'Voorbeelden',
            open_post: 'openen',
            post1: 'bericht',
            posts: 'berichten',
            author1: 'auteur',
            authors: 'auteurs',
            ev_threshold: '{n} {posts} in {w} (drempel {t})',
            ev_unique_authors: '{n} {authors} in {w} (drempel {t})',
            ev_spike:
                '{n} {posts} in {w}, {r}x het normale niveau ({b} per {w}; drempel {f}x, ' +
                'minimaal {m})',
            ev_growth: 'groei {r}x per {w} (nodig {f}x), vensters {ws}',
            ev_other: '{n} {posts} in {w}',
            not_met: 'niet gehaald',
            alerts_summary: '{f} actief \u00b7 {u} niet bevestigd',
            rules_summary: '{f} van {n} in alarm',
            rule_quiet: 'rustig',
            rule_firing: 'ALARM',
            rule_silenced: 'stil tot {t}',
            silence: 'Stil zetten\u2026',
            silence_lift: 'Stilte opheffen',
            silence_title: 'Regel stil zetten: {r}',
            silence_note: 'Nieuwe meldingen van deze regel gaan zolang naar niemand; ze blijven ' +
                'op dit scherm, en dit komt met uw naam en reden in het logboek.',
            silence_for: 'Hoe lang',
            silence_reason: 'Waarom',
            silence_do: 'Stil zetten',
            cancel: 'Annuleren',
            silence_failed: 'Niet gelukt: {e}',
            silence_ok: '{r} staat stil tot {t}.',
            silence_lifted: 'De stilte van {r} is opgeheven.',
            dur_30m: '30 minuten', dur_1h: '1 uur', dur_2h: '2 uur', dur_4h: '4 uur',
            dur_8h: '8 uur', dur_1d: '1 dag',
            matches: '{n} treffers sinds de start',
            v_threshold: 'berichten in {w}',
            v_unique_authors: 'auteurs in {w}',
            v_spike: 'berichten in {w}',
            v_growth: 'nieuwste venster ({w})',
            v_level: 'drempel {l}',
            v_level_none: 'basislijn nog niet warm',
            no_history: 'nog geen meetpunten',
            chart_label: '{title}: verloop over de laatste {h} uur',
            th_source: 'Bron',
            th_platform: 'Platform',
            th_state: 'Status',
            th_posts: 'Berichten',
            th_rate: 'Per min',
            th_last: 'Laatst',
            th_errors: 'Fouten',
            never: 'nog geen',
            src_streaming: 'ontvangt',
            src_connecting: 'verbinden',
            'src_backing off': 'opnieuw proberen',
            src_failed: 'mislukt',
            src_listening: 'luistert',
            src_replaying: 'speelt af',
            src_finished: 'klaar',
            alert_missing: 'Melding {id} staat niet (meer) in de lijst.',
            load_failed: 'Gegevens laden mislukt; nieuwe poging\u2026',
            reload_ok: 'Regels opnieuw geladen: {n} regels ({a} nieuw, {c} gewijzigd, {r} weg).',
            reload_failed: 'Regels herladen mislukt: {e}',
            what: {
                'personal Facebook profiles and events, private groups and chats':
                    'persoonlijke Facebookprofielen en -evenementen, besloten groepen en chats',
            },
            why: {
                'no API for public monitoring': 'geen API voor publieke monitoring',
                'not configured': 'niet ingesteld',
                'no API': 'geen API',
                'private': 'privé',
                'not public': 'niet openbaar',
                'the bot is not a member': 'de bot zit er niet in',
            },
        },
        en: {
            html_lang: 'en',
            locale: 'en-GB',
            lang_other: 'Nederlands',
            lang_switch: 'Schakel naar Nederlands',
            drill: 'DRILL',
            drill_banner: 'this is an exercise, not a real alert',
            drill_alert: 'Drill: not a real alert',
            st_connecting: 'connecting\u2026',
            st_live: 'live',
            st_reconnecting: 'reconnecting\u2026',
            st_offline: 'no connection, retrying\u2026',
            st_title_live: 'Live connection to blikveld',
            logout: 'Log out',
            alerts: 'Alerts',
            rules: 'Rules',
            sources: 'Sources',
            no_alerts: 'No alerts.',
            no_rules: 'No rules.',
            no_sources: 'No sources.',
            blind_note:
                'A quiet screen is not proof that nothing is happening: talk may be where ' +
                'blikveld cannot look.',
            not_watched: 'Not watched',
            not_watched_default:
                'personal Facebook profiles and events, private groups; Instagram, WhatsApp, ' +
                'Snapchat, TikTok (no API for public monitoring); Telegram chats the bot is ' +
                'not in; anything private or deleted before it was seen',
            version: 'version {v}',
            role_ack: 'can acknowledge',
            role_read: 'read only',
            role_local: 'local',
            sev_critical: 'CRITICAL',
            sev_warning: 'WARNING',
            sev_info: 'INFO',
            state_firing: 'FIRING',
            state_resolved: 'RESOLVED',
            health: 'SYSTEM',
            restored: 'BEFORE RESTART',
            restored_note: 'Sent before blikveld restarted: its state is the one it had then, ' +
                'until a new one comes.',
            health_note: 'This is about blikveld itself, not about posts.',
            rule: 'rule',
            for_: 'for',
            fired_resolved: 'fired {from} \u2013 resolved {to}',
            ack: 'Acknowledge',
            acking: 'Sending\u2026',
            acked_by: 'acknowledged by {by} at {t}',
            acked_by_only: 'acknowledged by {by}',
            ack_failed: 'Acknowledging failed: {e}',
            net_error: 'no connection to the server',
            places: 'Places',
            which: 'which?',
            samples: 'Sample posts',
            open_post: 'open',
            post1: 'post',
            posts: 'posts',
            author1: 'author',
            authors: 'authors',
            ev_threshold: '{n} {posts} in {w} (threshold {t})',
            ev_unique_authors: '{n} {authors} in {w} (threshold {t})',
            ev_spike:
                '{n} {posts} in {w}, {r}x the usual level ({b} per {w}; threshold {f}x, ' +
                'at least {m})',
            ev_growth: 'growth {r}x per {w} (needs {f}x), windows {ws}',
            ev_other: '{n} {posts} in {w}',
            not_met: 'not met',
            alerts_summary: '{f} firing \u00b7 {u} not acknowledged',
            rules_summary: '{f} of {n} firing',
            rule_quiet: 'quiet',
            rule_firing: 'FIRING',
            rule_silenced: 'silenced until {t}',
            silence: 'Silence\u2026',
            silence_lift: 'Lift silence',
            silence_title: 'Silence rule: {r}',
            silence_note: 'New alerts of this rule go to nobody meanwhile; they still show on ' +
                'this screen, and this goes into the audit log with your name and reason.',
            silence_for: 'For how long',
            silence_reason: 'Why',
            silence_do: 'Silence',
            cancel: 'Cancel',
            silence_failed: 'Failed: {e}',
            silence_ok: '{r} is silenced until {t}.',
            silence_lifted: 'The silence of {r} is lifted.',
            dur_30m: '30 minutes', dur_1h: '1 hour', dur_2h: '2 hours', dur_4h: '4 hours',
            dur_8h: '8 hours', dur_1d: '1 day',
            matches: '{n} matches since start',
            v_threshold: 'posts in {w}',
            v_unique_authors: 'authors in {w}',
            v_spike: 'posts in {w}',
            v_growth: 'newest window ({w})',
            v_level: 'threshold {l}',
            v_level_none: 'baseline not warm yet',
            no_history: 'no data points yet',
            chart_label: '{title}: the last {h} hours',
            th_source: 'Source',
            th_platform: 'Platform',
            th_state: 'State',
            th_posts: 'Posts',
            th_rate: 'Per min',
            th_last: 'Last',
            th_errors: 'Errors',
            never: 'none yet',
            src_streaming: 'streaming',
            src_connecting: 'connecting',
            'src_backing off': 'backing off',
            src_failed: 'failed',
            src_listening: 'listening',
            src_replaying: 'replaying',
            src_finished: 'finished',
            alert_missing: 'Alert {id} is not (or no longer) in the list.',
            load_failed: 'Loading failed; retrying\u2026',
            reload_ok: 'Rules reloaded: {n} rules ({a} added, {c} changed, {r} removed).',
            reload_failed: 'Reloading the rules failed: {e}',
            why: {},
        },
    };

    const TZ = 'Europe/Amsterdam';
    const MAX_ALERTS = 500;
    const SEVERITIES = ['critical', 'warning', 'info'];
    const SVGNS = 'http://www.w3.org/2000/svg';

    /* ---- state ---- */

    const S = {
        lang: 'nl',
        me: null,
        alerts: new Map(), /* id -> {a: ALERT, seq: arrival order} */
        seq: 0,
        rules: null, /* {step_ms, span_ms, now, list: [RULE with history]} */
        sources: null,
        loaded: {me: false, alerts: false, rules: false, sources: false},
        esOpen: false,
        es: null,
        hellos: 0,
        alertsBeforeHello: false,
        retryMs: 1000,
        leaving: false,
        target: null, /* the alert id of /alerts/{id} */
        targetDone: false,
        ackBusy: new Set(),
        ackErr: new Map(), /* id -> error text shown next to its button */
        silenceRule: null, /* the rule the silence dialog is for */
        silenceBusy: null, /* the rule whose silence request is under way */
        rulesLoading: false, /* /api/rules asked for after a "more" */
        noticeTimer: 0,
        fmt: null,
        langChosen: false, /* from localStorage or the switch: me.lang no longer applies */
        status: 'connecting',
        unacked: 0,
        targetMissingShown: false,
    };

    /* ---- small helpers ---- */

    function t(key, vars) {
        const d = DICT[S.lang] || DICT.nl;
        let s = Object.prototype.hasOwnProperty.call(d, key) ? d[key] : DICT.nl[key];
        if (typeof s !== 'string') {
            s = key;
        }
        if (vars) {
            s = s.replace(/\{(\w+)\}/g, (m, k) =>
                Object.prototype.hasOwnProperty.call(vars, k) ? String(vars[k]) : m);
        }
        return s;
    }

    function has(key) {
        return Object.prototype.hasOwnProperty.call(DICT[S.lang], key);
    }

    /* An element: attrs go through setAttribute, children are nodes or text (never markup). */
    function el(tag, attrs, ...kids) {
        const e = document.createElement(tag);
        setAttrs(e, attrs);
        for (const k of kids) {
            if (k === null || k === undefined || k === false) {
                continue;
            }
            e.appendChild(typeof k === 'object' ? k : document.createTextNode(String(k)));
        }
        return e;
    }

    function svg(tag, attrs) {
        const e = document.createElementNS(SVGNS, tag);
        setAttrs(e, attrs);
        return e;
    }

    function setAttrs(e, attrs) {
        if (!attrs) {
            return;
        }
        for (const k of Object.keys(attrs)) {
            const v = attrs[k];
            if (v === null || v === undefined || v === false) {
                continue;
            }
            e.setAttribute(k, v === true ? '' : String(v));
        }
    }

    function byId(id) {
        return document.getElementById(id);
    }

    function clear(node) {
        while (node.firstChild) {
            node.removeChild(node.firstChild);
        }
    }

    function isNum(v) {
        return typeof v === 'number' && Number.isFinite(v);
    }

    function str(v) {
        return typeof v === 'string' ? v : v === null || v === undefined ? '' : String(v);
    }

    /* "2026-06-12T21:41:07.000Z" or ms -> ms, NaN when neither */
    function toMs(v) {
        if (isNum(v)) {
            return v;
        }
        if (typeof v === 'string' && v !== '') {
            return Date.parse(v);
        }
        return NaN;
    }

    function makeFormats() {
        const loc = t('locale');
        const base = {timeZone: TZ, hourCycle: 'h23'};
        S.fmt = {
            hm: new Intl.DateTimeFormat(loc, {...base, hour: '2-digit', minute: '2-digit'}),
            day: new Intl.DateTimeFormat(loc, {
                timeZone: TZ, year: 'numeric', month: '2-digit', day: '2-digit',
            }),
            dhm: new Intl.DateTimeFormat(loc, {
                ...base, weekday: 'short', day: 'numeric', month: 'short', hour: '2-digit',
                minute: '2-digit',
            }),
            full: new Intl.DateTimeFormat(loc, {
                ...base, weekday: 'long', day: 'numeric', month: 'long', year: 'numeric',
                hour: '2-digit', minute: '2-digit', second: '2-digit', timeZoneName: 'short',
            }),
            hour: new Intl.DateTimeFormat('en-GB', {...base, hour: '2-digit'}),
            num: new Intl.NumberFormat(loc, {maximumFractionDigits: 2}),
            rate: new Intl.NumberFormat(loc, {minimumFractionDigits: 1, maximumFractionDigits: 1}),
        };
    }

    function fmtHM(ms) {
        return isNum(ms) && !Number.isNaN(ms) ? S.fmt.hm.format(ms) : '\u2013';
    }

    /* Time of day today (Amsterdam), else with the day. */
    function fmtWhen(ms) {
        if (!isNum(ms) || Number.isNaN(ms)) {
            return '\u2013';
        }
        if (S.fmt.day.format(ms) === S.fmt.day.format(Date.now())) {
            return S.fmt.hm.format(ms);
        }
        return S.fmt.dhm.format(ms);
    }

    function fmtFull(ms) {
        return isNum(ms) && !Number.isNaN(ms) ? S.fmt.full.format(ms) : '';
    }

    function fmtNum(v) {
        return isNum(v) ? S.fmt.num.format(v) : '\u2013';
    }

    /* "30m" -> "30 min", "1h" -> "1 uur" / "1 h", "1h30m" -> "1 uur 30 min" */
    function fmtWindow(w) {
        const s = str(w);
        const units = S.lang === 'nl'
            ? {ms: 'ms', s: 's', m: 'min', h: 'uur', d: 'd'}
            : {ms: 'ms', s: 's', m: 'min', h: 'h', d: 'd'};
        const parts = [];
        const re = /(\d+)(ms|s|m|h|d)/g;
        let m, used = 0;
        while ((m = re.exec(s)) !== null) {
            parts.push(m[1] + ' ' + units[m[2]]);
            used += m[0].length;
        }
        return parts.length && used === s.length ? parts.join(' ') : s;
    }

    function plural(n, one, many) {
        return n === 1 ? t(one) : t(many);
    }

    /* ---- talking to the server ---- */

    class Stop extends Error {}

    function goLogin() {
        if (!S.leaving) {
            S.leaving = true;
            if (S.es) {
                S.es.close();
            }
            window.location.assign('/login');
        }
        return new Stop('login');
    }

    async function getJSON(path) {
        const r = await fetch(path, {
            credentials: 'same-origin', cache: 'no-store', headers: {Accept: 'application/json'},
        });
        if (r.status === 401) {
            throw goLogin();
        }
        if (!r.ok) {
            throw new Error(path + ': HTTP ' + r.status);
        }
        return r.json();
    }

    function showNotice(text, kind, ms) {
        const n = byId('notice');
        clearTimeout(S.noticeTimer);
        n.textContent = text;
        n.className = 'notice notice-' + (kind || 'info');
        n.hidden = false;
        if (ms) {
            S.noticeTimer = setTimeout(() => {
                n.hidden = true;
            }, ms);
        }
    }

    function hideNotice() {
        clearTimeout(S.noticeTimer);
        byId('notice').hidden = true;
    }

    /* ---- loading ---- */

    async function loadMe() {
        S.me = await getJSON('/api/me');
        if (!S.langChosen && (S.me.lang === 'nl' || S.me.lang === 'en')) {
            S.lang = S.me.lang;
            makeFormats();
        }
        S.loaded.me = true;
        renderAll(); /* the language and the ack buttons may have changed */
    }

    async function loadAlerts() {
        const before = S.seq;
        const j = await getJSON('/api/alerts');
        const list = Array.isArray(j.alerts) ? j.alerts : [];
        /* the server's list is the truth: drop what it no longer holds, unless the stream
         * brought it while the list was on its way */
        const keep = new Set(list.map((a) => a && a.id));
        for (const [id, e] of S.alerts) {
            if (!keep.has(id) && e.seq <= before) {
                S.alerts.delete(id);
            }
        }
        mergeAlerts(list);
        if (!S.loaded.alerts && S.hellos === 0) {
            S.alertsBeforeHello = true;
        }
        S.loaded.alerts = true;
        renderAlerts();
        renderRules(); /* the charts shade the alerts' firing periods */
    }

    async function loadRules() {
        const j = await getJSON('/api/rules');
        S.rules = {
            step_ms: isNum(j.step_ms) && j.step_ms > 0 ? j.step_ms : 60000,
            span_ms: isNum(j.span_ms) && j.span_ms > 0 ? j.span_ms : 21600000,
            now: isNum(j.now) ? j.now : Date.now(),
            list: Array.isArray(j.rules) ? j.rules : [],
        };
        for (const r of S.rules.list) {
            if (!Array.isArray(r.history)) {
                r.history = [];
            }
        }
        S.loaded.rules = true;
        renderRules();
    }

    async function loadSources() {
        S.sources = await getJSON('/api/sources');
        S.loaded.sources = true;
        renderSources();
    }

    /* Runs a loader until it succeeds, retrying quietly with a notice. */
    async function keepTrying(fn) {
        let wait = 1000;
        for (;;) {
            try {
                await fn();
                return;
            } catch (e) {
                if (e instanceof Stop || S.leaving) {
                    return;
                }
                showNotice(t('load_failed'), 'warn');
                await new Promise((res) => setTimeout(res, wait));
                wait = Math.min(wait * 2, 15000);
            }
        }
    }

    function checkReady() {
        const l = S.loaded;
        if (document.body.dataset.ready === '1') {
            return;
        }
        if (l.me && l.alerts && l.rules && l.sources && S.esOpen) {
            if (byId('notice').classList.contains('notice-warn')) {
                hideNotice();
            }
            document.body.dataset.ready = '1';
            focusTarget();
        }
    }

    /* ---- the event stream ---- */

    function connect() {
        if (S.leaving) {
            return;
        }
        const es = new EventSource('/events');
        S.es = es;
        es.onopen = () => {
            S.esOpen = true;
            S.retryMs = 1000;
            setStatus('live');
            checkReady();
        };
        es.onerror = () => {
            if (S.leaving) {
                return;
            }
            if (es.readyState === EventSource.CLOSED) {
                /* the browser gave up (e.g. 401 or a non-stream answer): find out why, retry */
                setStatus('offline');
                es.close();
                const wait = S.retryMs;
                S.retryMs = Math.min(S.retryMs * 2, 30000);
                setTimeout(() => {
                    fetch('/api/me', {credentials: 'same-origin', cache: 'no-store'})
                        .then((r) => {
                            if (r.status === 401) {
                                goLogin();
                            } else {
                                connect();
                            }
                        }, () => connect());
                }, wait);
            } else {
                setStatus('reconnecting');
            }
        };
        on(es, 'hello', onHello);
        on(es, 'alert', (a) => {
            if (a && typeof a.id === 'string') {
                upsertAlert(a, true);
                renderAlerts();
                renderRule(a.rule);
            }
        });
        on(es, 'ack', onAck);
        on(es, 'rules', onRules);
        on(es, 'sources', (j) => {
            S.sources = j;
            S.loaded.sources = true;
            renderSources();
        });
        on(es, 'reload', onReload);
    }

    /* Parses an event's data; a broken event is dropped without noise. */
    function on(es, name, fn) {
        es.addEventListener(name, (ev) => {
            let j;
            try {
                j = JSON.parse(ev.data);
            } catch (e) {
                return;
            }
            fn(j);
        });
    }

    function onHello() {
        S.hellos++;
        setStatus('live');
        /* after a reconnect (or when the first load beat the stream) something may be missing */
        if (S.hellos > 1 || S.alertsBeforeHello) {
            S.alertsBeforeHello = false;
            keepTrying(loadAlerts);
            if (S.hellos > 1) {
                keepTrying(loadRules);
            }
        }
    }

    function onAck(j) {
        if (!j || typeof j.id !== 'string') {
            return;
        }
        const e = S.alerts.get(j.id);
        if (e) {
            e.a.ack = {by: j.by, at: j.at};
            S.ackErr.delete(j.id);
            renderAlerts();
        }
    }

    function onRules(j) {
        if (!S.rules || !j || !Array.isArray(j.rules)) {
            return;
        }
        const old = S.rules.list;
        const same = old.length === j.rules.length && old.every((r, i) => r.id === j.rules[i].id);
        if (!same) {
            keepTrying(loadRules);
            return;
        }
        if (isNum(j.now)) {
            S.rules.now = j.now;
        }
        if (isNum(j.step_ms) && j.step_ms > 0) {
            S.rules.step_ms = j.step_ms;
        }
        if (isNum(j.span_ms) && j.span_ms > 0) {
            S.rules.span_ms = j.span_ms;
        }
        let more = false;
        j.rules.forEach((nr, i) => {
            const r = old[i];
            for (const k of Object.keys(nr)) {
                if (k !== 'history' && k !== 'point' && k !== 'points' && k !== 'more') {
                    r[k] = nr[k];
                }
            }
            /* the points since the last event (a fast replay adds several), else the newest */
            const pts = Array.isArray(nr.points) ? nr.points : [nr.point];
            more = more || nr.more === true;
            for (const p of pts) {
                if (!Array.isArray(p) || !isNum(p[0])) {
                    continue;
                }
                const h = r.history;
                const last = h.length ? h[h.length - 1] : null;
                if (last && last[0] === p[0]) {
                    h[h.length - 1] = p;
                } else if (!last || last[0] < p[0]) {
                    h.push(p);
                }
                if (!isNum(j.now) && p[0] > S.rules.now) {
                    S.rules.now = p[0];
                }
            }
            /* keep what the chart shows, and a little more */
            const from = S.rules.now - S.rules.span_ms - S.rules.step_ms;
            let cut = 0;
            while (cut < r.history.length && r.history[cut][0] < from) {
                cut++;
            }
            if (cut) {
                r.history.splice(0, cut);
            }
        });
        renderRules();
        if (more && !S.rulesLoading) {
            /* more points came than one event carries: the whole history, once */
            S.rulesLoading = true;
            keepTrying(loadRules).finally(() => {
                S.rulesLoading = false;
            });
        }
    }

    function onReload(j) {
        if (j && j.ok) {
            showNotice(t('reload_ok', {
                n: fmtNum(j.rules), a: fmtNum(j.added), c: fmtNum(j.changed), r: fmtNum(j.removed),
            }), 'info', 15000);
            keepTrying(loadRules);
        } else if (j) {
            showNotice(t('reload_failed', {e: str(j.error)}), 'error');
        }
    }

    function setStatus(st) {
        const s = byId('status');
        S.status = st;
        s.dataset.state = st;
        s.className = 'status status-' + st;
        s.textContent = t('st_' + st);
        s.title = st === 'live' ? t('st_title_live') : '';
    }

    /* ---- alerts ---- */

    /* the order the server keeps: by when the episode fired (a resolved record keeps its
       place instead of jumping to the top), newest first */
    function atOf(a) {
        const v = toMs(a.state === 'resolved' && a.fired_at ? a.fired_at : a.at);
        return Number.isNaN(v) ? 0 : v;
    }

    function upsertAlert(a, fresh) {
        const old = S.alerts.get(a.id);
        if (old && !fresh && isOlder(a, old.a)) {
            return; /* the stream already brought a newer state */
        }
        if (old && a.ack == null && old.a.ack && old.a.state === a.state) {
            a.ack = old.a.ack; /* an ack seen on the stream stays */
        }
        S.alerts.set(a.id, {a: a, seq: old && !fresh ? old.seq : ++S.seq});
    }

    function isOlder(a, b) {
        const ta = atOf(a), tb = atOf(b);
        if (ta !== tb) {
            return ta < tb;
        }
        if (a.state !== b.state) {
            return a.state === 'firing';
        }
        return a.ack == null && b.ack != null;
    }

    /* The list from /api/alerts is newest first: number it so that arrival order agrees. */
    function mergeAlerts(list) {
        for (let i = list.length - 1; i >= 0; i--) {
            const a = list[i];
            if (a && typeof a.id === 'string') {
                upsertAlert(a, !S.alerts.has(a.id));
            }
        }
    }

    function sortedAlerts() {
        const v = Array.from(S.alerts.values());
        v.sort((x, y) => atOf(y.a) - atOf(x.a) || y.seq - x.seq);
        if (v.length > MAX_ALERTS) {
            for (const e of v.splice(MAX_ALERTS)) {
                S.alerts.delete(e.a.id);
            }
        }
        return v;
    }

    function sevOf(a) {
        return SEVERITIES.includes(a.severity) ? a.severity : 'info';
    }

    function canAck() {
        return S.me && S.me.role === 'ack';
    }

    function evidenceText(d) {
        const n = d.type === 'unique_authors' && isNum(d.unique_authors) ? d.unique_authors : d.count;
        const w = fmtWindow(d.window);
        let s;
        switch (d.type) {
        case 'threshold':
            s = t('ev_threshold', {
                n: fmtNum(n), posts: plural(n, 'post1', 'posts'), w: w, t: fmtNum(d.threshold),
            });
            break;
        case 'unique_authors':
            s = t('ev_unique_authors', {
                n: fmtNum(n), authors: plural(n, 'author1', 'authors'), w: w,
                t: fmtNum(d.threshold),
            });
            break;
        case 'spike':
            s = t('ev_spike', {
                n: fmtNum(n), posts: plural(n, 'post1', 'posts'), w: w, r: fmtNum(d.ratio),
                b: fmtNum(d.baseline), f: fmtNum(d.factor), m: fmtNum(d.min_count),
            });
            break;
        case 'growth': {
            const ws = Array.isArray(d.windows) ? d.windows.slice().reverse().map(fmtNum) : [];
            s = t('ev_growth', {
                r: fmtNum(d.ratio), w: w, f: fmtNum(d.factor), ws: ws.join(' '),
            });
            break;
        }
        default:
            s = t('ev_other', {n: fmtNum(n), posts: plural(n, 'post1', 'posts'), w: w});
        }
        if (d.holds === false) {
            s += ' (' + t('not_met') + ')';
        }
        return s;
    }

    function placeItem(p) {
        const li = el('li', {class: 'place'}, el('span', {class: 'place-name'}, str(p.name)));
        if (isNum(p.count)) {
            li.appendChild(el('span', {class: 'place-count'}, fmtNum(p.count) + '\u00d7'));
        }
        if (Array.isArray(p.ambiguous) && p.ambiguous.length) {
            li.appendChild(el('span', {class: 'place-where ambiguous'},
                t('which') + ' ' + p.ambiguous.map(str).join(' / ')));
        } else {
            const where = [p.municipality, p.province].filter((x) => typeof x === 'string' && x);
            if (where.length === 2 && where[0] === where[1]) {
                where.pop();
            }
            if (where.length) {
                li.appendChild(el('span', {class: 'place-where'}, where.join(', ')));
            }
        }
        return li;
    }

    function safeUrl(u) {
        return typeof u === 'string' && (u.startsWith('https://') || u.startsWith('http://'));
    }

    function sampleItem(s) {
        const at = toMs(s.at);
        const li = el('li', {class: 'sample'},
            el('span', {class: 'sample-meta'},
                el('span', {class: 'platform'}, str(s.platform)),
                el('time', {datetime: Number.isNaN(at) ? null : new Date(at).toISOString(),
                    title: fmtFull(at)}, fmtHM(at))),
            el('q', {class: 'excerpt'}, str(s.excerpt)));
        if (safeUrl(s.url)) {
            li.appendChild(el('a', {
                class: 'sample-link', href: s.url, rel: 'noopener noreferrer', target: '_blank',
                title: s.url,
            }, t('open_post') + ' \u2197'));
        }
        return li;
    }

    function alertElement(entry) {
        const a = entry.a;
        const sev = sevOf(a);
        const firing = a.state === 'firing';
        const cls = ['alert', 'sev-' + sev, firing ? 'state-firing' : 'state-resolved'];
        if (a.drill) {
            cls.push('drill');
        }
        if (a.ack) {
            cls.push('acked');
        }
        if (a.health) {
            cls.push('health');
        }
        if (S.target && S.target === a.id) {
            cls.push('highlight');
        }
        const at = atOf(a);
        const art = el('article', {
            class: cls.join(' '), 'data-id': a.id, 'data-rule': str(a.rule),
            'data-state': firing ? 'firing' : 'resolved', id: 'alert-' + a.id, tabindex: '-1',
        });

        const chips = el('div', {class: 'chips'},
            el('span', {class: 'chip chip-sev'}, t('sev_' + sev)),
            el('span', {class: 'chip chip-state'}, t(firing ? 'state_firing' : 'state_resolved')),
            a.drill ? el('span', {class: 'chip badge-drill', title: t('drill_alert')}, t('drill'))
                : null,
            a.health ? el('span', {class: 'chip chip-health'}, t('health')) : null,
            a.restored === true ?
                el('span', {class: 'chip chip-restored', title: t('restored_note')}, t('restored'))
                : null);
        const when = el('time', {
            class: 'when', datetime: at ? new Date(at).toISOString() : null, title: fmtFull(at),
        }, fmtWhen(at));
        art.appendChild(el('div', {class: 'alert-head'}, chips, when));
        art.appendChild(el('h3', {class: 'title'}, str(a.title) || str(a.rule)));

        const meta = [t('rule') + ' ' + str(a.rule)];
        if (Array.isArray(a.recipients) && a.recipients.length) {
            meta.push(t('for_') + ' ' + a.recipients.map(str).join(', '));
        }
        if (!firing) {
            meta.push(t('fired_resolved', {from: fmtWhen(toMs(a.fired_at)), to: fmtHM(toMs(a.at))}));
        }
        art.appendChild(el('p', {class: 'meta'}, meta.join(' \u00b7 ')));
        if (a.health) {
            art.appendChild(el('p', {class: 'health-note'}, t('health_note')));
        }

        if (Array.isArray(a.detectors) && a.detectors.length) {
            /* the server's words (those of the messages) when it sends them */
            const said = a.evidence_text && Array.isArray(a.evidence_text[S.lang]) ?
                a.evidence_text[S.lang] : [];
            const ul = el('ul', {class: 'evidence'});
            a.detectors.forEach((d, i) => {
                if (d && typeof d === 'object') {
                    ul.appendChild(el('li', {
                        class: d.holds === false ? 'not-met' : 'holds', 'data-type': str(d.type),
                    }, typeof said[i] === 'string' ? said[i] : evidenceText(d)));
                }
            });
            art.appendChild(ul);
        }
        if (Array.isArray(a.places) && a.places.length) {
            const ul = el('ul', {class: 'place-list'});
            for (const p of a.places) {
                if (p && typeof p === 'object') {
                    ul.appendChild(placeItem(p));
                }
            }
            art.appendChild(el('div', {class: 'places'},
                el('span', {class: 'label'}, t('places')), ul));
        }
        if (Array.isArray(a.samples) && a.samples.length) {
            const ul = el('ul', {class: 'samples', 'aria-label': t('samples')});
            for (const s of a.samples) {
                if (s && typeof s === 'object') {
                    ul.appendChild(sampleItem(s));
                }
            }
            art.appendChild(ul);
        }

        const row = el('div', {class: 'ack-row'});
        if (a.ack) {
            const ackAt = toMs(a.ack.at);
            const known = !Number.isNaN(ackAt) && ackAt > 0; /* acked before this process knew */
            row.appendChild(el('span', {class: 'acked-by', title: known ? fmtFull(ackAt) : ''},
                known ? t('acked_by', {by: str(a.ack.by), t: fmtHM(ackAt)})
                    : t('acked_by_only', {by: str(a.ack.by)})));
        } else if (canAck()) {
            const busy = S.ackBusy.has(a.id);
            row.appendChild(el('button', {class: 'ack btn', type: 'button', disabled: busy},
                busy ? t('acking') : t('ack')));
            const err = S.ackErr.get(a.id);
            if (err) {
                row.appendChild(el('span', {class: 'ack-error', role: 'alert'},
                    t('ack_failed', {e: err})));
            }
        }
        if (row.firstChild) {
            art.appendChild(row);
        }
        return art;
    }

    /* Rebuilds changed articles and puts them in order without touching the others. */
    function renderAlerts() {
        const box = byId('alerts');
        const list = sortedAlerts();
        const have = new Map();
        for (const c of Array.from(box.children)) {
            have.set(c.dataset.id, c);
        }
        const keep = new Set();
        const today = S.fmt.day.format(Date.now());
        list.forEach((entry, i) => {
            const a = entry.a;
            const sig = JSON.stringify([a, S.lang, canAck(), S.ackBusy.has(a.id),
                S.ackErr.get(a.id) || '', S.target === a.id, today]);
            let node = have.get(a.id);
            if (!node || node.__sig !== sig) {
                const fresh = alertElement(entry);
                fresh.__sig = sig;
                if (node) {
                    box.replaceChild(fresh, node);
                }
                node = fresh;
            }
            keep.add(a.id);
            const at = box.children[i];
            if (at !== node) {
                box.insertBefore(node, at || null);
            }
        });
        for (const [id, node] of have) {
            if (!keep.has(id) && node.parentNode === box) {
                box.removeChild(node);
            }
        }
        byId('alerts-empty').hidden = list.length > 0;

        let f = 0, u = 0;
        for (const e of list) {
            if (e.a.state === 'firing') {
                f++;
                if (!e.a.ack) {
                    u++;
                }
            }
        }
        byId('alerts-summary').textContent = t('alerts_summary', {f: f, u: u});
        byId('alerts-summary').classList.toggle('hot', u > 0);
        S.unacked = u;
        renderTitle();
        if (document.body.dataset.ready === '1') {
            focusTarget();
        }
    }

    async function ackAlert(id) {
        if (S.ackBusy.has(id)) {
            return;
        }
        S.ackBusy.add(id);
        S.ackErr.delete(id);
        renderAlerts();
        let err = null;
        try {
            const r = await fetch('/api/alerts/' + encodeURIComponent(id) + '/ack', {
                method: 'POST', credentials: 'same-origin', cache: 'no-store',
                headers: {'Content-Type': 'application/json', Accept: 'application/json'},
                body: '{}',
            });
            if (r.status === 401) {
                goLogin();
                return;
            }
            let j = null;
            try {
                j = await r.json();
            } catch (e) {
                j = null;
            }
            if (r.ok) {
                const e = S.alerts.get(id);
                if (e) {
                    e.a.ack = {
                        by: j && j.by != null ? j.by : S.me && S.me.name,
                        at: j && isNum(j.at) ? j.at : Date.now(),
                    };
                }
            } else {
                err = j && typeof j.error === 'string' && j.error ? j.error : 'HTTP ' + r.status;
            }
        } catch (e) {
            err = t('net_error');
        } finally {
            S.ackBusy.delete(id);
        }
        if (err) {
            S.ackErr.set(id, err);
        }
        renderAlerts();
    }

    function focusTarget() {
        if (!S.target || S.targetDone) {
            return;
        }
        const node = document.querySelector('#alerts article[data-id="' + CSS.escape(S.target) +
            '"]');
        if (node) {
            S.targetDone = true;
            hideNotice();
            node.scrollIntoView({block: 'center'});
            node.focus({preventScroll: true});
        } else if (document.body.dataset.ready === '1' && !S.targetMissingShown) {
            S.targetMissingShown = true;
            showNotice(t('alert_missing', {id: S.target}), 'info');
        }
    }

    /* ---- rules and their charts ---- */

    function ruleFiringBands(ruleId, now) {
        const bands = [];
        for (const {a} of S.alerts.values()) {
            if (a.rule !== ruleId) {
                continue;
            }
            if (a.state === 'firing') {
                bands.push([atOf(a), now]);
            } else {
                const f = toMs(a.fired_at);
                if (!Number.isNaN(f)) {
                    bands.push([f, atOf(a)]);
                }
            }
        }
        return bands;
    }

    function niceCeil(v) {
        if (!(v > 0)) {
            return 1;
        }
        const p = Math.pow(10, Math.floor(Math.log10(v)));
        for (const m of [1, 2, 2.5, 5, 10]) {
            if (m * p >= v) {
                return m * p;
            }
        }
        return 10 * p;
    }

    /* Hour ticks on Amsterdam's clock (its offsets are whole hours, so UTC hours line up). */
    function timeTicks(t0, t1) {
        const span = t1 - t0;
        const H = 3600000;
        let every = span <= 2 * H ? 0.5 : span <= 8 * H ? 1 : span <= 24 * H ? 3 : 6;
        const out = [];
        if (every < 1) {
            for (let x = Math.ceil(t0 / (H / 2)) * (H / 2); x <= t1; x += H / 2) {
                out.push(x);
            }
            return out;
        }
        for (let x = Math.ceil(t0 / H) * H; x <= t1; x += H) {
            const h = parseInt(S.fmt.hour.format(x), 10);
            if (h % every === 0) {
                out.push(x);
            }
        }
        return out;
    }

    function pointHolds(p) {
        if (typeof p[3] === 'boolean') {
            return p[3];
        }
        return isNum(p[1]) && isNum(p[2]) && p[1] >= p[2];
    }

    function chart(rule) {
        const W = 640, H = 124, L = 52, R = 10, T = 8, B = 22;
        const pw = W - L - R, ph = H - T - B;
        const now = S.rules.now;
        const t1 = now, t0 = now - S.rules.span_ms;
        const hist = rule.history.filter((p) => Array.isArray(p) && isNum(p[0]) && p[0] >= t0 -
            S.rules.step_ms);
        let top = 0;
        for (const p of hist) {
            if (isNum(p[1])) {
                top = Math.max(top, p[1]);
            }
            if (isNum(p[2])) {
                top = Math.max(top, p[2]);
            }
        }
        top = niceCeil(top * 1.1);
        const X = (tm) => L + Math.max(0, Math.min(1, (tm - t0) / (t1 - t0))) * pw;
        const Y = (v) => T + ph - Math.max(0, Math.min(1, v / top)) * ph;
        const f1 = (v) => v.toFixed(1);

        const hours = Math.round(S.rules.span_ms / 3600000);
        const g = svg('svg', {
            class: 'chart', viewBox: '0 0 ' + W + ' ' + H, role: 'img',
            'aria-label': t('chart_label', {title: str(rule.title) || str(rule.id), h: hours}),
        });
        g.appendChild(svg('rect', {class: 'plot', x: L, y: T, width: pw, height: ph}));

        for (const [a, b] of ruleFiringBands(rule.id, now)) {
            if (b < t0 || a > t1) {
                continue;
            }
            const x0 = X(a), x1 = X(b);
            g.appendChild(svg('rect', {
                class: 'band-firing', x: f1(x0), y: T, width: f1(Math.max(2, x1 - x0)), height: ph,
            }));
        }

        for (const v of [0, top / 2, top]) {
            const y = f1(Y(v));
            g.appendChild(svg('line', {class: v ? 'grid' : 'axis', x1: L, x2: L + pw, y1: y, y2: y}));
            const lab = svg('text', {class: 'ylab', x: L - 6, y: f1(Y(v) + 4), 'text-anchor': 'end'});
            lab.textContent = fmtNum(v);
            g.appendChild(lab);
        }
        for (const x of timeTicks(t0, t1)) {
            const px = X(x);
            g.appendChild(svg('line', {class: 'tick', x1: f1(px), x2: f1(px), y1: T, y2: T + ph}));
            if (px < L + 14 || px > L + pw - 14) {
                continue;
            }
            const lab = svg('text', {class: 'xlab', x: f1(px), y: H - 6, 'text-anchor': 'middle'});
            lab.textContent = fmtHM(x);
            g.appendChild(lab);
        }

        /* level: dashed, broken where there is none; value: solid, broken at gaps in the data */
        const gap = 3 * S.rules.step_ms;
        let lvl = '', val = '', hot = '';
        let prev = null, prevHot = false;
        for (const p of hist) {
            const brk = !prev || p[0] - prev[0] > gap;
            const x = f1(X(p[0]));
            if (isNum(p[2])) {
                lvl += (brk || !isNum(prev[2]) ? 'M' : 'L') + x + ' ' + f1(Y(p[2]));
            }
            if (isNum(p[1])) {
                const seg = brk || !isNum(prev[1]);
                const y = f1(Y(p[1]));
                val += (seg ? 'M' : 'L') + x + ' ' + y;
                const h = pointHolds(p);
                if (h) {
                    /* a lone holding point still shows, as a dot (round line cap) */
                    hot += !seg && prevHot ? 'L' + x + ' ' + y : 'M' + x + ' ' + y + 'l0 0';
                }
                prevHot = h;
            } else {
                prevHot = false;
            }
            prev = p;
        }
        if (lvl) {
            g.appendChild(svg('path', {class: 'level', d: lvl, 'stroke-dasharray': '7 5'}));
        }
        if (val) {
            g.appendChild(svg('path', {class: 'value', d: val}));
        }
        if (hot) {
            g.appendChild(svg('path', {class: 'value-hot', d: hot}));
        }
        const last = hist.length ? hist[hist.length - 1] : null;
        if (last && isNum(last[1])) {
            g.appendChild(svg('circle', {
                class: rule.firing ? 'now-dot hot' : 'now-dot', cx: f1(X(last[0])),
                cy: f1(Y(last[1])), r: 4,
            }));
        }
        if (!hist.length) {
            const lab = svg('text', {
                class: 'nodata', x: L + pw / 2, y: T + ph / 2, 'text-anchor': 'middle',
            });
            lab.textContent = t('no_history');
            g.appendChild(lab);
        }
        return g;
    }

    function ruleElement(rule) {
        const sev = SEVERITIES.includes(rule.severity) ? rule.severity : 'info';
        const silenced = isNum(rule.silenced_until) && rule.silenced_until > Date.now();
        const cls = ['rule', 'sev-' + sev, rule.firing ? 'firing' : 'quiet'];
        if (silenced) {
            cls.push('silenced');
        }
        const sec = el('section', {class: cls.join(' '), 'data-rule': str(rule.id)});

        const d = Array.isArray(rule.detectors) && rule.detectors.length ? rule.detectors[0] : null;
        const valueBox = el('div', {class: 'value'});
        const sub = [];
        if (d) {
            const unitKey = 'v_' + str(d.type);
            valueBox.appendChild(el('span', {class: 'num'}, fmtNum(d.value)));
            valueBox.appendChild(el('span', {class: 'sep'}, ' / '));
            valueBox.appendChild(el('span', {class: 'lvl'},
                isNum(d.level) ? fmtNum(d.level) : '\u2013'));
            sub.push(has(unitKey) ? t(unitKey, {w: fmtWindow(d.window)}) : fmtWindow(d.window));
            sub.push(isNum(d.level) ? t('v_level', {l: fmtNum(d.level)}) : t('v_level_none'));
        }
        if (isNum(rule.matches)) {
            sub.push(t('matches', {n: fmtNum(rule.matches)}));
        }
        const chips = el('span', {class: 'chips'},
            el('span', {class: 'chip chip-sev'}, t('sev_' + sev)),
            el('span', {class: 'chip chip-rstate'}, rule.firing ? t('rule_firing')
                : t('rule_quiet')),
            silenced ? el('span', {class: 'chip chip-silenced'},
                t('rule_silenced', {t: fmtWhen(rule.silenced_until)})) : null);
        sec.appendChild(el('div', {class: 'rule-head'},
            el('h3', {class: 'title'}, str(rule.title) || str(rule.id)), valueBox));
        sec.appendChild(el('div', {class: 'rule-sub'}, chips,
            el('span', {class: 'rule-id'}, str(rule.id)),
            el('span', {class: 'unit'}, sub.join(' \u00b7 '))));
        sec.appendChild(chart(rule));
        if (canAck()) {
            const busy = S.silenceBusy === rule.id;
            sec.appendChild(el('div', {class: 'rule-actions'},
                el('button', {
                    class: (silenced ? 'lift' : 'silence') + ' btn btn-quiet', type: 'button',
                    disabled: busy,
                }, silenced ? t('silence_lift') : t('silence'))));
        }
        return sec;
    }

    /* ---- silences ---- */

    const DURATIONS = ['30m', '1h', '2h', '4h', '8h', '1d'];

    function ruleById(id) {
        return S.rules ? S.rules.list.find((x) => x.id === id) : null;
    }

    function openSilence(id) {
        const r = ruleById(id);
        if (!r) {
            return;
        }
        S.silenceRule = id;
        byId('silence-title').textContent = t('silence_title', {r: str(r.title) || str(r.id)});
        const sel = byId('silence-for');
        const keep = sel.value || '2h';
        clear(sel);
        for (const d of DURATIONS) {
            sel.appendChild(el('option', {value: d}, t('dur_' + d)));
        }
        sel.value = keep;
        byId('silence-reason').value = '';
        byId('silence-error').hidden = true;
        byId('silence-submit').disabled = false;
        byId('silence-dialog').showModal();
        byId('silence-reason').focus();
    }

    /* POST /api/rules/ID/silence; the answer's `until` shows at once (the feed follows). */
    async function postSilence(id, body) {
        S.silenceBusy = id;
        renderRule(id);
        let err = null, j = null;
        try {
            const r = await fetch('/api/rules/' + encodeURIComponent(id) + '/silence', {
                method: 'POST', credentials: 'same-origin', cache: 'no-store',
                headers: {'Content-Type': 'application/json', Accept: 'application/json'},
                body: JSON.stringify(body),
            });
            if (r.status === 401) {
                goLogin();
                return null;
            }
            try {
                j = await r.json();
            } catch (e) {
                j = null;
            }
            if (!r.ok) {
                err = j && typeof j.error === 'string' && j.error ? j.error : 'HTTP ' + r.status;
            }
        } catch (e) {
            err = t('net_error');
        } finally {
            S.silenceBusy = null;
        }
        const rule = ruleById(id);
        if (!err && rule && j && isNum(j.until)) {
            rule.silenced_until = j.until;
        }
        renderRule(id);
        return err;
    }

    async function submitSilence(ev) {
        ev.preventDefault();
        const id = S.silenceRule;
        const reason = byId('silence-reason').value.trim();
        if (!id || !reason) {
            byId('silence-reason').focus();
            return;
        }
        byId('silence-submit').disabled = true;
        const err = await postSilence(id, {for: byId('silence-for').value, reason: reason});
        byId('silence-submit').disabled = false;
        if (err) {
            const e = byId('silence-error');
            e.textContent = t('silence_failed', {e: err});
            e.hidden = false;
            return;
        }
        byId('silence-dialog').close();
        const r = ruleById(id);
        showNotice(t('silence_ok', {
            r: r ? str(r.title) || id : id, t: fmtWhen(r ? r.silenced_until : 0),
        }), 'info', 8000);
    }

    async function liftSilence(id) {
        const err = await postSilence(id, {lift: true});
        const r = ruleById(id);
        const name = r ? str(r.title) || id : id;
        showNotice(err ? t('silence_failed', {e: err}) : t('silence_lifted', {r: name}),
            err ? 'error' : 'info', 8000);
    }

    function renderRule(id) {
        if (!S.rules) {
            return;
        }
        const r = S.rules.list.find((x) => x.id === id);
        const box = byId('rules');
        const old = box.querySelector('section.rule[data-rule="' + CSS.escape(str(id)) + '"]');
        if (r && old) {
            box.replaceChild(ruleElement(r), old);
        }
    }

    function renderRules() {
        if (!S.rules) {
            return;
        }
        const box = byId('rules');
        const frag = document.createDocumentFragment();
        let f = 0;
        for (const r of S.rules.list) {
            if (r && typeof r === 'object') {
                frag.appendChild(ruleElement(r));
                if (r.firing) {
                    f++;
                }
            }
        }
        if (!S.rules.list.length) {
            frag.appendChild(el('p', {class: 'empty'}, t('no_rules')));
        }
        box.replaceChildren(frag); /* one step: the panel keeps its scroll position */
        byId('rules-summary').textContent = t('rules_summary', {f: f, n: S.rules.list.length});
        byId('rules-summary').classList.toggle('hot', f > 0);
    }

    /* ---- sources ---- */

    function sourceStateClass(st) {
        if (st === 'streaming' || st === 'listening' || st === 'replaying' || st === 'finished') {
            return 'ok';
        }
        if (st === 'failed') {
            return 'bad';
        }
        return 'warn';
    }

    function renderSources() {
        const box = byId('sources');
        const j = S.sources || {};
        const list = Array.isArray(j.sources) ? j.sources : [];
        const table = el('table', {class: 'sources'});
        table.appendChild(el('thead', null, el('tr', null,
            el('th', {scope: 'col'}, t('th_source')),
            el('th', {scope: 'col'}, t('th_platform')),
            el('th', {scope: 'col'}, t('th_state')),
            el('th', {scope: 'col', class: 'n'}, t('th_posts')),
            el('th', {scope: 'col', class: 'n'}, t('th_rate')),
            el('th', {scope: 'col', class: 'n'}, t('th_last')),
            el('th', {scope: 'col', class: 'n'}, t('th_errors')))));
        const tb = el('tbody');
        for (const s of list) {
            if (!s || typeof s !== 'object') {
                continue;
            }
            const st = str(s.state);
            const key = 'src_' + st;
            const errs = el('td', {class: 'n errors'}, fmtNum(isNum(s.errors) ? s.errors : 0));
            if (s.last_error) {
                errs.setAttribute('title', str(s.last_error));
            }
            tb.appendChild(el('tr', {
                class: 'source src-' + sourceStateClass(st), 'data-source': str(s.name),
                'data-state': st,
            },
            el('td', {class: 'name'}, str(s.name)),
            el('td', {class: 'platform'}, str(s.platform)),
            el('td', {class: 'state'}, el('span', {class: 'dot'}),
                has(key) ? t(key) : st),
            el('td', {class: 'n posts'}, fmtNum(s.posts)),
            el('td', {class: 'n rate'}, isNum(s.rate) ? S.fmt.rate.format(s.rate) : '\u2013'),
            el('td', {class: 'n last'}, isNum(s.last_post) ? fmtWhen(s.last_post) : t('never')),
            errs));
            if (s.last_error && sourceStateClass(st) !== 'ok') {
                tb.appendChild(el('tr', {class: 'source-error'},
                    el('td', {colspan: '7'}, str(s.last_error))));
            }
        }
        table.appendChild(tb);
        box.replaceChildren(list.length ? table : el('p', {class: 'empty'}, t('no_sources')));
        renderNotWatched();
    }

    function renderNotWatched() {
        const nw = S.sources && Array.isArray(S.sources.not_watched) ? S.sources.not_watched : [];
        const why = DICT[S.lang].why || {};
        const parts = [];
        for (const x of nw) {
            if (x && typeof x === 'object' && x.what) {
                const w = str(x.why);
                const said = why[w] || (has('src_' + w) ? t('src_' + w) : w);
                const what = (DICT[S.lang].what || {})[str(x.what)] || str(x.what);
                parts.push(what + (w ? ' (' + said + ')' : ''));
            }
        }
        const p = byId('not-watched');
        clear(p);
        p.appendChild(el('strong', {class: 'label'}, t('not_watched') + ':'));
        p.appendChild(document.createTextNode(' ' +
            (parts.length ? parts.join('; ') : t('not_watched_default'))));
    }

    /* ---- header, language ---- */

    function renderStatic() {
        document.documentElement.lang = t('html_lang');
        for (const n of document.querySelectorAll('[data-i18n]')) {
            n.textContent = t(n.dataset.i18n);
        }
        const b = byId('lang');
        b.textContent = t('lang_other');
        b.setAttribute('lang', S.lang === 'nl' ? 'en' : 'nl');
        b.setAttribute('title', t('lang_switch'));
        b.dataset.lang = S.lang;
        setStatus(S.status);
        renderNotWatched();
    }

    function renderHeader() {
        const me = S.me || {};
        byId('event-name').textContent = str(me.event) || '\u2026';
        byId('drill-badge').hidden = !me.drill;
        document.body.classList.toggle('is-drill', !!me.drill);
        const who = byId('whoami');
        clear(who);
        if (S.me) {
            const role = me.role === 'ack' ? t('role_ack') : me.role === 'read' ? t('role_read')
                : str(me.role);
            who.appendChild(el('span', {class: 'who-name'}, str(me.name)));
            who.appendChild(document.createTextNode(' '));
            who.appendChild(el('span', {class: 'who-role'}, role));
            who.dataset.role = str(me.role);
        }
        byId('logout').hidden = !me.auth;
        byId('version').textContent = me.version ? t('version', {v: str(me.version)}) : '';
        renderTitle();
    }

    function renderTitle() {
        const me = S.me || {};
        let s = 'blikveld';
        if (me.event) {
            s = str(me.event) + ' \u2013 blikveld';
        }
        if (me.drill) {
            s = t('drill') + ' \u00b7 ' + s;
        }
        if (S.unacked) {
            s = '(' + S.unacked + ') ' + s;
        }
        document.title = s;
    }

    function renderAll() {
        renderStatic();
        renderHeader();
        renderAlerts();
        renderRules();
        if (S.sources) {
            renderSources();
        }
    }

    function setLang(lang) {
        S.lang = lang;
        S.langChosen = true;
        try {
            window.localStorage.setItem('blikveld.lang', lang);
        } catch (e) {
            /* storage may be off: the choice then lasts this page */
        }
        makeFormats();
        renderAll();
    }

    /* ---- start ---- */

    function start() {
        let stored = null;
        try {
            stored = window.localStorage.getItem('blikveld.lang');
        } catch (e) {
            stored = null;
        }
        if (stored === 'nl' || stored === 'en') {
            S.lang = stored;
            S.langChosen = true;
        }
        makeFormats();
        const m = /^\/alerts\/([0-9A-Za-z_-]{1,128})\/?$/.exec(window.location.pathname);
        S.target = m ? m[1] : null;

        renderStatic();
        byId('lang').addEventListener('click', () => setLang(S.lang === 'nl' ? 'en' : 'nl'));
        byId('notice').addEventListener('click', hideNotice);
        byId('alerts').addEventListener('click', (ev) => {
            const b = ev.target.closest('button.ack');
            const art = b && b.closest('article.alert');
            if (art && !b.disabled) {
                ackAlert(art.dataset.id);
            }
        });
        byId('rules').addEventListener('click', (ev) => {
            const b = ev.target.closest('button.silence, button.lift');
            const sec = b && b.closest('section.rule');
            if (sec && !b.disabled) {
                if (b.classList.contains('lift')) {
                    liftSilence(sec.dataset.rule);
                } else {
                    openSilence(sec.dataset.rule);
                }
            }
        });
        byId('silence-form').addEventListener('submit', submitSilence);
        byId('silence-cancel').addEventListener('click', () => byId('silence-dialog').close());
        /* the clock on the "today or another day" choice and silences moves on */
        setInterval(() => {
            if (document.body.dataset.ready === '1') {
                renderAlerts();
            }
        }, 60000);

        connect();
        const step = (fn) => keepTrying(fn).then(checkReady);
        step(loadMe);
        step(loadAlerts);
        step(loadRules);
        step(loadSources);
    }

    if (document.readyState === 'loading') {
        document.addEventListener('DOMContentLoaded', start);
    } else {
        start();
    }
})();
