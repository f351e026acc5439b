#!/usr/bin/env bash
# Alert delivery end to end against real peers on 127.0.0.1: webhook receivers that fail, hold
# and drop repeated keys, a real SMTP server with STARTTLS, Debian's Alertmanager, a SIGKILL and
# `outbox --flush`, escalation, acks, silences and the watchdog in `run`; the checks are in
# delivery_drive.py.
set -u
cd "$(dirname "$0")/../.."
export BLIKVELD_PSEUDONYM_KEY=${BLIKVELD_PSEUDONYM_KEY:-delivery-test-key-0123456789}
exec /usr/bin/python3 tests/integration/delivery_drive.py "${BLIKVELD:-bin/blikveld}"
