# A process holding /dev/nvidia0 refuses the handoff, named by pid, and nothing changes.
# topology: single
[ -e /gpu-hook-test-guest ] || { echo "a tests/vm guest scenario: it writes the kernel's /sys; run it with tests/vm/run-scenario" >&2; exit 2; }
. /lib.sh
sleep 1000 < /dev/nvidia0 &
pid=$!
sleep 0.2
before=$(host_state)
if gpu-hook 111 pre-start --dry-run > /tmp/out 2>&1; then fail "dry run accepted a holder"; fi
cat /tmp/out
grep -q "held by pid $pid (sleep" /tmp/out || fail "the holder is not named"
if gpu-hook 111 pre-start > /tmp/out 2>&1; then fail "pre-start accepted a holder"; fi
cat /tmp/out
grep -q "refusing: held by pid $pid" /tmp/out || fail "pre-start did not name the holder"
[ "$(host_state)" = "$before" ] || fail "the refusal changed the host"
[ ! -e /run/gpu-hook/111.json ] || fail "a refusal left a journal"
kill $pid
wait $pid 2>/dev/null || true
# A process that mapped /dev/nvidia0 and closed the fd still holds the GPU (the
# mapping keeps the file and the usage count): named from /proc/<pid>/maps.
map-hold /dev/nvidia0 > /tmp/map.out 2>&1 &
pid=$!
i=0; while ! grep -q mapped /tmp/map.out && [ $i -lt 50 ]; do usleep 100000; i=$((i + 1)); done
if gpu-hook 111 pre-start > /tmp/out 2>&1; then fail "pre-start accepted a mapping holder"; fi
cat /tmp/out
grep -q "refusing: held by pid $pid" /tmp/out || fail "pre-start did not name the mapping holder"
[ "$(host_state)" = "$before" ] || fail "the refusal changed the host"
kill $pid
echo "holder ok"
