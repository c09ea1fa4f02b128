# remove() hangs past the timeout: the hook answers within deadline + 2 s with
# exit 1, no stuck child keeps its output open, the journal says wedged, and
# once remove() returns one recover restores the host.
# topology: dual
. /lib.sh
mkdir -p /etc/gpu-hook
printf '[handoff]\ntimeout = 2s\n' > /etc/gpu-hook/111.ini
before=$(host_state)
echo 12000 > /sys/module/nvidia/parameters/remove_delay_ms
t0=$(cut -d. -f1 /proc/uptime)
# The pipe closes only when every writer is gone: a stuck child holding it would keep cat waiting.
# busybox sh has no pipefail: the hook's status goes through a file.
{ rc=0; gpu-hook 111 pre-start 2>&1 || rc=$?; echo $rc > /tmp/rc; } | cat > /tmp/out
rc_line=$(grep -c 'no answer within 2000 ms' /tmp/out)
t1=$(cut -d. -f1 /proc/uptime)
cat /tmp/out
[ "$(cat /tmp/rc)" = 1 ] || fail "pre-start exited $(cat /tmp/rc), not 1"
[ "$rc_line" -ge 1 ] || fail "no timeout reported"
[ $((t1 - t0)) -le 5 ] || fail "the hook took $((t1 - t0)) s (deadline 2 s + 2 s + rounding)"
grep -q 'wedged' /tmp/out || fail "the device is not reported wedged"
grep -q '"wedged":true\|"wedged": true' /run/gpu-hook/111.json || fail "the journal does not say wedged"
echo 0 > /sys/module/nvidia/parameters/remove_delay_ms
sleep 12
gpu-hook recover 111 || fail "recover failed"
after=$(host_state)
echo "after: $after"
[ "$after" = "$before" ] || fail "host not restored: before $before"
echo "timeout ok"
