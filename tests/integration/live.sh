#!/usr/bin/env bash
# `blikveld run` end to end against local fake platforms that speak each platform's real wire
# format (tests/integration/fake_platforms.py); the checks are in live_drive.py.
set -u
cd "$(dirname "$0")/../.."
export BLIKVELD_PSEUDONYM_KEY=${BLIKVELD_PSEUDONYM_KEY:-live-test-key-0123456789}
exec /usr/bin/python3 tests/integration/live_drive.py "${BLIKVELD:-bin/blikveld}"
