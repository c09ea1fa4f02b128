# remove() hangs past the timeout: the hook answers within deadline + 2 s with
# exit 1, no stuck child keeps its output open, the journal says wedged; while
# remove() is stuck (it holds the card's device lock, which a read of
# driver_override takes) status, check, recover, post-stop and pre-start each
# answer within a few seconds and name the card wedged, changing nothing; once
# remove() returns one recover restores the host.
# topology: dual
[ -e /gpu-hook-test-guest ] || { echo "a tests/vm guest scenario: it writes the kernel's /sys; run it with tests/vm/run-scenario" >&2; exit 2; }
. /lib.sh
mkdir -p /etc/gpu-hook
printf '[handoff]\ntimeout = 2s\n' > /etc/gpu-hook/111.ini
before=$(host_state)
echo 40000 > /sys/module/nvidia/parameters/remove_delay_ms
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
# Each command while remove() is stuck: its exit code, its output, at most 6 s.
wedged_run() {
	want=$1; shift
	a=$(cut -d. -f1 /proc/uptime)
	rc=0
	"$@" > /tmp/w.out 2>&1 || rc=$?
	b=$(cut -d. -f1 /proc/uptime)
	echo "--- $* (rc $rc, $((b - a)) s)"; cat /tmp/w.out
	[ $((b - a)) -le 6 ] || fail "'$*' took $((b - a)) s while the card is wedged"
	[ $rc = "$want" ] || fail "'$*' exited $rc, expected $want"
	grep -q 'wedged' /tmp/w.out || fail "'$*' does not name the card wedged"
}
journal=$(cat /run/gpu-hook/111.json)
wedged_run 0 gpu-hook status
grep -q 'wedged: remove() stuck in the kernel' /tmp/w.out || fail "status does not say why"
wedged_run 0 gpu-hook status 111 --json
grep -q '"wedged":true\|"wedged": true' /tmp/w.out || fail "status --json does not say wedged"
wedged_run 1 gpu-hook check 111
wedged_run 1 gpu-hook recover 111
wedged_run 1 gpu-hook 111 post-stop
wedged_run 1 gpu-hook 111 pre-start
[ "$(cat /run/gpu-hook/111.json)" = "$journal" ] || fail "a refused command changed the journal"
echo 0 > /sys/module/nvidia/parameters/remove_delay_ms
# The stuck remove() sleeps 40 s from the unbind.
now_s=$(cut -d. -f1 /proc/uptime)
[ $((t0 + 42 - now_s)) -gt 0 ] && sleep $((t0 + 42 - now_s))
gpu-hook recover 111 || fail "recover failed"
after=$(host_state)
echo "after: $after"
[ "$after" = "$before" ] || fail "host not restored: before $before"
echo "timeout ok"
