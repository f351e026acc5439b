#!/usr/bin/python3
"""Writes the rule cases' recordings (tests/cases/*/recording.ndjson) from the scenarios below.

Each case is a folder with rules.yaml (one rule), recording.ndjson (Mastodon Status entities,
as the streaming API sends them) and expected (the alerts: "state rule at severity" per line).
The recordings are generated here so that what each one holds is readable as code; run this
script again after changing a scenario, and check the expected alerts by hand.
"""
import html
import zlib
import json
import os
import sys

T0 = 1781287200000  # 2026-06-12T18:00:00Z
MIN = 60000
HERE = os.path.dirname(os.path.abspath(__file__))


def iso(ms):
    import datetime
    d = datetime.datetime.fromtimestamp(ms / 1000, datetime.timezone.utc)
    return d.strftime('%Y-%m-%dT%H:%M:%S.') + '%03dZ' % (ms % 1000)


class Rec:
    def __init__(self):
        self.posts = []
        self.n = 0

    def post(self, t, author, text, lang='nl'):
        self.n += 1
        sid = str(110000000000000000 + self.n)
        self.posts.append((t, self.n, {
            'id': sid,
            'created_at': iso(t),
            'in_reply_to_id': None,
            'sensitive': False,
            'spoiler_text': '',
            'visibility': 'public',
            'language': lang,
            'uri': 'https://social.example/users/%s/statuses/%s' % (author, sid),
            'url': 'https://social.example/@%s/%s' % (author, sid),
            'content': '<p>%s</p>' % html.escape(text),
            'reblog': None,
            'account': {'id': str(900 + zlib.crc32(author.encode()) % 100000), 'username': author,
                        'acct': author, 'display_name': author,
                        'url': 'https://social.example/@%s' % author},
            'tags': [], 'mentions': [], 'media_attachments': [],
        }))

    def filler(self, until, every=MIN):
        t = T0
        k = 0
        while t <= until:
            self.post(t + 7000, 'wandelaar%d' % (k % 50), 'Mooi weer vandaag in het park')
            t += every
            k += 1

    def write(self, path):
        self.posts.sort(key=lambda p: (p[0], p[1]))
        with open(path, 'w') as f:
            for _, _, p in self.posts:
                f.write(json.dumps(p, ensure_ascii=False) + '\n')


RULE = """rules:
  - id: %(id)s
    title: "%(title)s"
    severity: warning
    recipients: [police]
    cooldown: %(cooldown)s
    match: {keyword: "%(kw)s"}
    detectors:
      - %(det)s
"""


def case(name, kw, det, fill, cooldown='30m'):
    d = os.path.join(HERE, name)
    os.makedirs(d, exist_ok=True)
    rid = name.replace('_', '-')
    with open(os.path.join(d, 'rules.yaml'), 'w') as f:
        f.write('# rule case %s: see tests/cases/make-cases.py\n' % name)
        f.write(RULE % {'id': rid, 'title': name, 'kw': kw, 'det': det, 'cooldown': cooldown})
    r = Rec()
    fill(r)
    r.write(os.path.join(d, 'recording.ndjson'))


def threshold_fires(r):
    for i in range(12):  # the 10th post (at +90s) makes 10 in 5 minutes
        r.post(T0 + i * 10000, 'buur%d' % i, 'Brand bij de haven, veel rook!')
    r.filler(T0 + 20 * MIN)


def threshold_silent(r):
    for i in range(9):
        r.post(T0 + i * 10000, 'buur%d' % i, 'Brand bij de haven, veel rook!')
    r.filler(T0 + 20 * MIN)


def unique_fires(r):
    for i in range(8):  # 8 distinct authors within 10 minutes
        r.post(T0 + i * 30000, 'inwoner%d' % i, 'Stroomstoring in de hele wijk')
    r.filler(T0 + 30 * MIN)


def unique_silent(r):
    for i in range(40):  # 40 posts, but only 3 authors
        r.post(T0 + i * 10000, 'spammer%d' % (i % 3), 'Stroomstoring in de hele wijk')
    r.filler(T0 + 30 * MIN)


def spike_fires(r):
    for m in range(70):  # a baseline of one post a minute
        r.post(T0 + m * MIN + 1000, 'melder%d' % (m % 20), 'Gaslucht in de straat')
    for i in range(20):  # then twenty in one minute
        r.post(T0 + 70 * MIN + 2000 + i * 2500, 'melder%d' % (30 + i), 'Gaslucht in de straat')
    r.filler(T0 + 100 * MIN)


def spike_silent(r):
    for i in range(30):  # a burst before any baseline exists: silent
        r.post(T0 + i * 1000, 'melder%d' % i, 'Gaslucht in de straat')
    for m in range(1, 90):  # then a steady three a minute: no spike
        for k in range(3):
            r.post(T0 + m * MIN + k * 15000, 'melder%d' % ((m * 3 + k) % 40), 'Gaslucht in de straat')
    r.filler(T0 + 100 * MIN)


def growth_fires(r):
    # per 10-minute window: 5, 10, 20, 40 posts
    n = 0
    for w, count in enumerate([5, 10, 20, 40]):
        for i in range(count):
            r.post(T0 + w * 10 * MIN + int(i * (10 * MIN - 1000) / count) + 500,
                   'gast%d' % n, 'Feest bij het meer vanavond')
            n += 1
    r.filler(T0 + 60 * MIN)


def growth_spammer(r):
    # per 10-minute window 5, 10, 20, 40 posts, from ever more authors, plus one account whose
    # own posts double too: measured in authors, it grows
    n = 0
    for w, count in enumerate([5, 10, 20, 40]):
        for i in range(count):
            r.post(T0 + w * 10 * MIN + int(i * (10 * MIN - 1000) / count) + 700,
                   'gast%d' % n, 'Feest bij het meer vanavond')
            n += 1
    r.filler(T0 + 60 * MIN)


def growth_one_author(r):
    # one account doubling its own posting: measured in authors, no growth
    for w, count in enumerate([5, 10, 20, 40]):
        for i in range(count):
            r.post(T0 + w * 10 * MIN + int(i * (10 * MIN - 1000) / count) + 500,
                   'spammer', 'Feest bij het meer vanavond')
    r.filler(T0 + 60 * MIN)


def growth_silent(r):
    n = 0
    for w in range(6):  # a steady 30 per window: busy, not growing
        for i in range(30):
            r.post(T0 + w * 10 * MIN + i * 19000 + 500, 'gast%d' % (n % 200), 'Feest bij het meer vanavond')
            n += 1
    r.filler(T0 + 70 * MIN)


def cooldown(r):
    def burst(start, tag):
        for i in range(12):
            r.post(start + i * 5000, 'kijker%s%d' % (tag, i), 'Brand bij de haven')
    burst(T0, 'a')                # fires, resolves after the window
    burst(T0 + 15 * MIN, 'b')     # within the 30m cooldown of the first firing: held back
    burst(T0 + 45 * MIN, 'c')     # after it: a new episode with a new id
    r.filler(T0 + 70 * MIN)


THRESH = '{type: threshold, window: 5m, bucket: 1m, count: 10}'
case('threshold_fires', 'brand', THRESH, threshold_fires)
case('threshold_silent', 'brand', THRESH, threshold_silent)
UNIQ = '{type: unique_authors, window: 10m, bucket: 1m, count: 8}'
case('unique_authors_fires', 'stroomstoring', UNIQ, unique_fires)
case('unique_authors_silent', 'stroomstoring', UNIQ, unique_silent)
SPIKE = '{type: spike, window: 5m, bucket: 1m, factor: 3, min_count: 10, baseline: 60m}'
case('spike_fires', 'gaslucht', SPIKE, spike_fires)
case('spike_silent', 'gaslucht', SPIKE, spike_silent)
GROWTH = '{type: growth, window: 10m, bucket: 1m, doubling: 10m, periods: 3, min_count: 10}'
case('growth_fires', 'feest', GROWTH, growth_fires)
case('growth_silent', 'feest', GROWTH, growth_silent)
GROWTH_A = ('{type: growth, measure: authors, window: 10m, bucket: 1m, doubling: 10m, periods: 3, '
            'min_count: 10}')
case('growth_authors_fires', 'feest', GROWTH_A, growth_spammer)
case('growth_authors_silent', 'feest', GROWTH_A, growth_one_author)
case('cooldown', 'brand', THRESH, cooldown)
