#!/usr/bin/env bash
# Alert delivery with Redis (the outbox in Redis Streams, acks, silences and the audit log in
# Redis lists): two `blikveld run` processes of one event on a private redis-server, the claim
# (one process sends each alert), a SIGKILL mid-delivery and the takeover by the other process
# once the lease expires, ack and silence from other machines' state dirs, `audit`, `outbox
# --flush`, and no author or secret in Redis; the checks are in delivery_redis_drive.py.
set -u
cd "$(dirname "$0")/../.."
export BLIKVELD_PSEUDONYM_KEY=${BLIKVELD_PSEUDONYM_KEY:-delivery-redis-test-key-0123456789}
exec /usr/bin/python3 tests/integration/delivery_redis_drive.py "${BLIKVELD:-bin/blikveld}"
