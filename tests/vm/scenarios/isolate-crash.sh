# Issue 16, a crash mid-isolation on the real kernel (systemd 252, 4 CPUs):
# post-start of VM 111 (pinning, then [isolation]) is SIGKILLed at 35, 70
# and 95% of its measured length; QEMU ends, and one `gpu-hook recover`
# (what an administrator runs) gives back the card and every CPU: the
# snapshot of isolate.sh (units, tasks, writeback mask, IRQs, state files)
# and host_state equal the ones before. Needs isolation's state file written
# before any change (lib/isolate.h) and recover finishing it. VM 112's
# vCPUs are not pinned here (isolate.sh checks what narrowing does to pins).
# os: debian
# smp: 4
# topology: single
# timeout: 420
. /lib.sh
iso_setup
before=$(host_state)
iso_snap >/tmp/snap.before
# One round: pre-start, QEMU, post-start killed after MS ms (none: let it end), QEMU stops.
round() { # MS
	gpu-hook 111 pre-start >/tmp/out 2>&1 || { cat /tmp/out; fail "pre-start failed"; }
	q111=$(qemu_111) || fail "$q111"
	t0=$(now)
	gpu-hook 111 post-start >/tmp/out 2>&1 &
	p=$!
	if [ "$1" = none ]; then wait $p || { cat /tmp/out; fail "post-start failed"; }; else
		sleep "$(($1 / 1000)).$(printf '%03d' $(($1 % 1000)))"
		kill -9 $p 2>/dev/null || true
		wait $p 2>/dev/null || true
	fi
	took=$(($(now) - t0))0
	applied="system.slice AllowedCPUs='$(systemctl show -p AllowedCPUs --value system.slice)' writeback=$(cat /sys/bus/workqueue/devices/writeback/cpumask)"
	systemctl stop 111.scope
	rm -f /run/qemu-server/111.pid
}
round none
length=$took
echo "post-start (pinning and isolation) takes $length ms uninterrupted"
gpu-hook 111 post-stop >/tmp/out 2>&1 || { cat /tmp/out; fail "post-stop failed"; }
iso_snap >/tmp/snap.after
diff /tmp/snap.before /tmp/snap.after || fail "a whole round did not read as before"

mid=0
for pct in 35 70 95; do
	ms=$((length * pct / 100))
	round $ms
	echo "== killed at ${ms} ms ($pct%): $applied, state: $(ls /run/gpu-hook | grep -v '^lock$' | tr '\n' ' ')"
	[ ! -e /run/gpu-hook/isolation.json ] || mid=$((mid + 1))
	gpu-hook recover >/tmp/out 2>&1 || { cat /tmp/out; fail "recover failed after a kill at $ms ms"; }
	iso_snap >/tmp/snap.after
	diff /tmp/snap.before /tmp/snap.after || { cat /tmp/out; fail "recover after a kill at $ms ms left the host changed (diff: < before, > after)"; }
	[ "$(host_state)" = "$before" ] || fail "host after recover: $(host_state), before: $before"
done
# Kills that all landed before isolation began would prove nothing.
[ $mid -gt 0 ] || fail "no kill left an isolation state behind: nothing was recovered from a crash"
echo "isolate-crash ok: $mid of 3 kills left isolation for recover"
