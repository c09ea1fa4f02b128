# The handoff benchmark inside the real-kernel guest (see tests/vm/tools/handoff-bench.c):
# gpu-hook against the floor and a seed-style shell script (shell=- leaves it
# out), alternating runs.
# topology: single
# timeout: 1200
[ -e /gpu-hook-test-guest ] || { echo "a tests/vm guest scenario: it writes the kernel's /sys; run it with tests/vm/run-scenario" >&2; exit 2; }
. /lib.sh
runs=10
shell=/usr/bin/seed-style.sh
other=
# shellcheck disable=SC2086 # $other is empty or one path
handoff-bench "$runs" "$shell" $other
echo "JSON $(cat /tmp/bench.json)"
