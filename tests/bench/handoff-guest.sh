# The handoff benchmark inside the real-kernel guest (see tests/vm/tools/handoff-bench.c):
# gpu-hook against the floor and a seed-style shell script, alternating runs.
# topology: single
# timeout: 1200
. /lib.sh
runs=$(cat /etc/bench-runs 2>/dev/null || echo 10)
handoff-bench "$runs" /usr/bin/seed-style.sh
echo "JSON $(cat /tmp/bench.json)"
