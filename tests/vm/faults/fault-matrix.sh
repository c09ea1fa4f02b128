# Faults injected on a real kernel: for each, the expected outcome holds and the
# host ends restored (drivers, overrides, modules, console) after at most one
# recover. Prints a table: fault, runs, restored, lost (must be 0), hung (must be 0).
# topology: single
. /lib.sh
set +e # every outcome is checked explicitly here
echo "hostpci0: 01:00,pcie=1" > /etc/pve/qemu-server/112.conf
before=$(host_state)
table=""
total_lost=0 total_hung=0
record() { # name runs restored lost hung
	table="$table$(printf '%-34s %5d %8d %5d %5d' "$1" "$2" "$3" "$4" "$5")
"
	total_lost=$((total_lost + $4)); total_hung=$((total_hung + $5))
}
# Runs a command with a bound; 124 means it hung.
bounded() { timeout 30 "$@" >/tmp/last.log 2>&1; }
# One recover at most, then the verdict: restored (0), lost (1) or hung (2).
settle() {
	sleep 0.3 # an orphaned timeboxed write may still be finishing
	if [ "$(host_state)" != "$before" ]; then
		bounded gpu-hook recover; rc=$?
		[ $rc -eq 124 ] && return 2
	fi
	[ "$(host_state)" = "$before" ] && return 0
	echo "LOST: $(host_state)"; cat /tmp/last.log; dmesg | tail -n 12
	return 1
}
tally() { case $1 in 0) ok=$((ok + 1)) ;; 1) lost=$((lost + 1)) ;; *) hung=$((hung + 1)) ;; esac; }

# vfio-pci unavailable (first: once loaded it stays): refused before anything changes.
ko=$(find /lib/modules -name 'vfio-pci.ko*' | head -n1)
mv "$ko" /tmp/vfio-pci.ko.away
ok=0 lost=0 hung=0
bounded gpu-hook 111 pre-start && fail "pre-start succeeded without vfio-pci"
grep -q 'vfio-pci cannot be loaded' /tmp/last.log || { cat /tmp/last.log; fail "no clear refusal"; }
[ "$(host_state)" = "$before" ] && ok=1 || lost=1
record "vfio-pci unavailable" 1 $ok $lost 0
mv /tmp/vfio-pci.ko.away "$ko"

# /run/gpu-hook full: the journal cannot be written, refused before anything changes.
mkdir -p /run/gpu-hook && chmod 700 /run/gpu-hook
mount -t tmpfs -o size=4k,mode=0700 tmpfs /run/gpu-hook
dd if=/dev/zero of=/run/gpu-hook/fill bs=4k count=1 2>/dev/null
ok=0 lost=0
bounded gpu-hook 111 pre-start && fail "pre-start succeeded with /run full"
grep -q 'journal cannot be written' /tmp/last.log || { cat /tmp/last.log; fail "no clear refusal"; }
[ "$(host_state)" = "$before" ] && ok=1 || lost=1
record "/run full (no journal)" 1 $ok $lost 0
umount /run/gpu-hook

# SIGKILL at spread moments during pre-start, then during post-stop.
for phase in pre-start post-stop; do
	ok=0 lost=0 hung=0
	for i in $(seq 40); do
		echo "$phase kill $i"
		if [ $phase = post-stop ]; then bounded gpu-hook 111 pre-start || { cat /tmp/last.log; fail "setup pre-start failed"; }; fi
		gpu-hook 111 $phase >/dev/null 2>&1 &
		pid=$!
		usleep $(( (i * 7919) % 400000 ))
		kill -9 $pid 2>/dev/null
		wait $pid 2>/dev/null || true
		# a kill after pre-start completed leaves a handed-off card: post-stop gives it back
		[ $phase = pre-start ] && [ -e /run/gpu-hook/111.json ] && grep -q '"complete":true' /run/gpu-hook/111.json &&
			bounded gpu-hook 111 post-stop
		settle; tally $?
	done
	record "SIGKILL during $phase" 40 $ok $lost $hung
done

# The nvidia module file missing at post-stop, then restored.
ok=0 lost=0 hung=0
bounded gpu-hook 111 pre-start || fail "pre-start failed"
nv=$(find /lib/modules -name 'nvidia.ko*' | head -n1)
mv "$nv" /tmp/nvidia.ko.away
bounded gpu-hook 111 post-stop && fail "post-stop succeeded without the nvidia module"
grep -q 'cannot load module nvidia' /tmp/last.log || { cat /tmp/last.log; fail "no clear error"; }
[ -e /run/gpu-hook/111.json ] || fail "the journal was dropped"
mv /tmp/nvidia.ko.away "$nv"
settle; tally $?
record "nvidia module missing at post-stop" 1 $ok $lost $hung

# A holder that opens /dev/nvidia0 after the plan was made: the unload fails, all is undone.
ok=0 lost=0 hung=0
( usleep 1000; exec 3</dev/nvidia0; sleep 5 ) &
holder=$!
bounded gpu-hook 111 pre-start && echo "(the holder came too late to matter)"
kill $holder 2>/dev/null; wait $holder 2>/dev/null || true
[ -e /run/gpu-hook/111.json ] && bounded gpu-hook 111 post-stop
settle; tally $?
record "holder opens after the plan" 1 $ok $lost $hung

# A service that will not stop: systemctl hangs, the step times out, everything is undone.
mkdir -p /usr/bin /sys/fs/cgroup/system.slice/stuck.service
printf '#!/bin/sh\n[ "$1" = stop ] && exec sleep 1000\nexit 0\n' > /usr/bin/systemctl
chmod +x /usr/bin/systemctl
sleep 1000 &
svc=$!
echo $svc > /sys/fs/cgroup/system.slice/stuck.service/cgroup.procs
mkdir -p /etc/gpu-hook
printf '[handoff]\nservices = stuck.service\ntimeout = 2s\n' > /etc/gpu-hook/111.ini
ok=0 lost=0 hung=0
t0=$(cut -d. -f1 /proc/uptime)
bounded gpu-hook 111 pre-start && fail "pre-start succeeded although the service did not stop"
t1=$(cut -d. -f1 /proc/uptime)
grep -q 'no answer within 2000 ms' /tmp/last.log || { cat /tmp/last.log; fail "no timeout reported"; }
[ $((t1 - t0)) -le 6 ] || hung=1
settle; tally $?
record "service that will not stop" 1 $ok $lost $hung
rm -f /etc/gpu-hook/111.ini /usr/bin/systemctl
kill $svc; wait $svc 2>/dev/null || true

# Eight concurrent pre-starts of two VMs sharing one GPU: exactly one wins, its journal is intact.
ok=0 lost=0 hung=0
pids=""
for i in 1 2 3 4 5 6 7 8; do
	vm=$((111 + i % 2))
	gpu-hook $vm pre-start >/tmp/c$i.log 2>&1 &
	pids="$pids $!"
done
wins=0
for p in $pids; do wait $p && wins=$((wins + 1)); done
[ $wins -eq 1 ] || { cat /tmp/c*.log; fail "$wins of 8 concurrent pre-starts succeeded"; }
owner=$(ls /run/gpu-hook/ | sed -n 's/^\([0-9]*\)\.json$/\1/p')
[ "$(echo "$owner" | wc -w)" -eq 1 ] || fail "journals: $owner"
grep -q '"complete":true' "/run/gpu-hook/$owner.json" || fail "the winner's journal is not complete"
bounded gpu-hook "$owner" post-stop || fail "post-stop of the winner failed"
settle; tally $?
record "8 concurrent pre-starts, 2 VMs" 8 $ok $lost $hung

printf '%-34s %5s %8s %5s %5s\n' fault runs restored lost hung
printf '%s' "$table"
[ $total_lost -eq 0 ] || fail "$total_lost runs lost the host"
[ $total_hung -eq 0 ] || fail "$total_hung runs hung"
echo "fault-matrix ok"
