# Issue 16, a crash mid-isolation on the real kernel (systemd 252, 4 CPUs):
# post-start of VM 111 (pinning, then [isolation]) runs to its end once,
# then is SIGKILLed at 40 and 90% of that length; each time QEMU ends, and
# one `gpu-hook recover` (what an administrator runs) gives back the card
# and every CPU: the
# snapshot of isolate.sh (units, tasks, writeback mask, IRQs, state files)
# and host_state equal the ones before. Needs isolation's state file written
# before any change (lib/isolate.h) and recover finishing it. VM 112's
# vCPUs are not pinned here (isolate.sh checks what narrowing does to pins).
# os: debian
# smp: 4
# topology: single
# timeout: 420
[ -e /gpu-hook-test-guest ] || { echo "a tests/vm guest scenario: it writes the kernel's /sys; run it with tests/vm/run-scenario" >&2; exit 2; }
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
	applied="system.slice AllowedCPUs='$(systemctl show -p AllowedCPUs --value system.slice)' writeback=$(cat /sys/bus/workqueue/devices/writeback/cpumask) irq-default=$(cat /proc/irq/default_smp_affinity)"
	systemctl stop 111.scope
	rm -f /run/qemu-server/111.pid
}
# The first round runs to its end (its length spreads the kills), then one
# kill at 40% and one at 90% of it; each time QEMU ends and one recover must
# bring everything back.
mid=0
for pct in 100 40 90; do
	if [ $pct = 100 ]; then round none; length=$took; ms=$length; else ms=$((length * pct / 100)); round $ms; fi
	echo "== post-start ${ms} ms ($pct%): $applied, state: $(ls /run/gpu-hook | grep -v '^lock$' | tr '\n' ' ')"
	[ $pct = 100 ] || [ ! -e /run/gpu-hook/isolation.json ] || mid=$((mid + 1))
	gpu-hook recover >/tmp/out 2>&1 || { cat /tmp/out; fail "recover failed after post-start ran $ms ms"; }
	iso_snap >/tmp/snap.after
	diff /tmp/snap.before /tmp/snap.after || { cat /tmp/out; fail "recover after post-start ran $ms ms left the host changed (diff: < before, > after)"; }
	[ "$(host_state)" = "$before" ] || fail "host after recover: $(host_state), before: $before"
done
# Kills that all landed before isolation began would prove nothing.
[ $mid -gt 0 ] || fail "no kill left an isolation state behind: nothing was recovered from a crash"
echo "isolate-crash ok: $mid of 2 kills left isolation for recover"
