# Faults injected on a real kernel: for each, the expected outcome holds and the
# host ends restored (drivers, overrides, modules, console) after at most one
# recover once the fault is gone. Prints a table: fault, runs, restored, lost
# (must be 0), hung (must be 0). A run is hung when a gpu-hook call does not
# return within 30 s, or one with a 2 s step deadline takes more than 6 s.
# topology: single
# timeout: 900
. /lib.sh
set +e # every outcome is checked explicitly here
echo "hostpci0: 01:00,pcie=1" > /etc/pve/qemu-server/112.conf
mkdir -p /etc/gpu-hook /etc/modprobe.d
before=$(host_state)
table=""
total_lost=0 total_hung=0
record() { # name runs
	table="$table$(printf '%-36s %5d %8d %5d %5d' "$1" "$2" "$ok" "$lost" "$hung")
"
	total_lost=$((total_lost + lost)); total_hung=$((total_hung + hung))
	[ $((ok + lost + hung)) -eq "$2" ] || fail "$1: $((ok + lost + hung)) outcomes for $2 runs"
}
# gpu-hook with a bound. It exits 0, 1 or 2; anything else (busybox timeout's 143
# after 30 s, or a signal) counts as hung.
bounded() {
	timeout 30 gpu-hook "$@" >/tmp/last.log 2>&1; rc=$?
	[ $rc -le 2 ] || echo "gpu-hook $*: no answer in 30 s (exit $rc)" >>/tmp/last.log
	return $rc
}
now() { cut -d' ' -f1 /proc/uptime | tr -d .; } # centiseconds
# snd_hda_intel probes codecs asynchronously; QEMU's emulated codec fails that
# probe when the controller is reset again while it runs, so every run starts
# from a settled audio function, as a host does between VM starts.
audio_settled() {
	local n=0
	while [ $n -lt 200 ]; do
		[ -e /sys/bus/pci/devices/0000:01:00.1/sound ] && return 0
		[ "$(drv 0000:01:00.1)" = snd_hda_intel ] || return 0
		usleep 20000; n=$((n + 1))
	done
}
# One recover at most, then the verdict: restored (0), lost (1) or hung (2).
settle() {
	if [ "$(host_state)" != "$before" ]; then
		bounded recover; [ $? -gt 2 ] && return 2
	fi
	audio_settled
	[ "$(host_state)" = "$before" ] && return 0
	echo "LOST: $(host_state)"; echo "was:  $before"; cat /tmp/last.log; dmesg | tail -n 12
	return 1
}
tally() { case $1 in 0) ok=$((ok + 1)) ;; 1) lost=$((lost + 1)) ;; *) hung=$((hung + 1)) ;; esac; }
start_row() { ok=0 lost=0 hung=0; echo "== $1"; }
expect_log() { grep -q "$1" /tmp/last.log || { cat /tmp/last.log; fail "$2"; }; }
# Holds the GPU through VFIO as a QEMU does (vfio-hold, in the background as $hold)
# and waits until it has the device; "--hide" closes its group fd.
hold_card() {
	local n=0
	: > /tmp/hold.out
	vfio-hold "$(group 0000:01:00.0)" 0000:01:00.0 "$@" > /tmp/hold.out 2>&1 &
	hold=$!
	while ! grep -q holding /tmp/hold.out && [ $n -lt 100 ]; do usleep 50000; n=$((n + 1)); done
	grep -q holding /tmp/hold.out || { cat /tmp/hold.out; fail "vfio-hold could not open the device"; }
}
trap 'kill $hold 2>/dev/null' EXIT # a failure must not leave the card held: the guest could not power off

# vfio-pci unavailable (first: once loaded it stays): refused before anything changes.
start_row "vfio-pci unavailable"
ko=$(find /lib/modules -name 'vfio-pci.ko*' | head -n1)
mv "$ko" /tmp/vfio-pci.ko.away
bounded 111 pre-start && { cat /tmp/last.log; fail "pre-start succeeded without vfio-pci"; }
expect_log 'vfio-pci cannot be loaded' "no clear refusal"
[ "$(host_state)" = "$before" ] && ok=1 || lost=1
record "vfio-pci unavailable" 1
mv /tmp/vfio-pci.ko.away "$ko"

# /run/gpu-hook full: the journal cannot be written, refused before anything changes.
start_row "/run full"
mkdir -p /run/gpu-hook && chmod 700 /run/gpu-hook
mount -t tmpfs -o size=4k,mode=0700 tmpfs /run/gpu-hook
dd if=/dev/zero of=/run/gpu-hook/fill bs=4k count=1 2>/dev/null
bounded 111 pre-start && { cat /tmp/last.log; fail "pre-start succeeded with /run full"; }
expect_log 'journal cannot be written' "no clear refusal"
[ "$(host_state)" = "$before" ] && ok=1 || lost=1
record "/run full (no journal)" 1
umount /run/gpu-hook

# SIGKILL at 40 spread moments during pre-start, then during post-stop: each
# phase's own length is measured first (exec to exit), and the kills
# fall evenly from its start to 30% past its end.
t0=$(now); bounded 111 pre-start || { cat /tmp/last.log; fail "calibration pre-start failed"; }
t1=$(now); bounded 111 post-stop || { cat /tmp/last.log; fail "calibration post-stop failed"; }
t2=$(now)
len_pre=$(( (t1 - t0) * 10 )) len_post=$(( (t2 - t1) * 10 ))
echo "pre-start takes ${len_pre} ms, post-stop ${len_post} ms (exec to exit)"
for phase in pre-start post-stop; do
	start_row "SIGKILL during $phase"
	[ $phase = pre-start ] && len=$len_pre || len=$len_post
	mid=0 done_=0 none=0
	for i in $(seq 40); do
		audio_settled
		if [ $phase = post-stop ]; then
			bounded 111 pre-start || { cat /tmp/last.log; fail "setup pre-start failed"; }
			handed=$(host_state)
		fi
		gpu-hook 111 $phase >/dev/null 2>&1 &
		pid=$!
		usleep $(( (i - 1) * len * 1300 / 39 ))
		kill -9 $pid 2>/dev/null
		wait $pid 2>/dev/null
		# Where the kill landed: mid-way (a journal not complete, or the host
		# changed), after the end, or before the first step.
		if [ $phase = pre-start ] && grep -qs '"complete": *true' /run/gpu-hook/111.json; then
			done_=$((done_ + 1))
			bounded 111 post-stop # a handed-off card: post-stop gives it back
		elif [ $phase = post-stop ] && [ "$(host_state)" = "$handed" ]; then
			none=$((none + 1))
		elif [ $phase = post-stop ] && [ "$(host_state)" = "$before" ]; then
			done_=$((done_ + 1))
		elif [ $phase = pre-start ] && [ "$(host_state)" = "$before" ]; then
			none=$((none + 1))
		else
			mid=$((mid + 1))
		fi
		settle; tally $?
	done
	echo "kills during $phase: $mid mid-way, $done_ after the end, $none before the first step"
	record "SIGKILL during $phase" 40
done

# The nvidia module file missing at post-stop, then restored.
start_row "nvidia module missing at post-stop"
bounded 111 pre-start || fail "pre-start failed"
nv=$(find /lib/modules -name 'nvidia.ko*' | head -n1)
mv "$nv" /tmp/nvidia.ko.away
bounded 111 post-stop && { cat /tmp/last.log; fail "post-stop succeeded without the nvidia module"; }
expect_log 'cannot load module nvidia' "no clear error"
[ -e /run/gpu-hook/111.json ] || fail "the journal was dropped"
mv /tmp/nvidia.ko.away "$nv"
settle; tally $?
record "nvidia module missing at post-stop" 1

# A holder that opens /dev/nvidia0 after the plan was made: stopping a service
# the policy names (step 1) starts it, so nvidia's unload finds the card in use,
# fails, and everything done is undone.
start_row "holder opens after the plan"
mkdir -p /sys/fs/cgroup/system.slice/opener.service
printf '#!/bin/sh\ncase " $* " in *" stop "*) setsid sh -c "exec 3</dev/nvidia0; echo \\$\\$ > /tmp/opener.pid; exec sleep 5" & sleep 0.2 ;; esac\nexit 0\n' \
	> /usr/bin/systemctl
chmod +x /usr/bin/systemctl
sleep 1000 &
svc=$!
echo $svc > /sys/fs/cgroup/system.slice/opener.service/cgroup.procs
printf '[handoff]\nservices = opener.service\n' > /etc/gpu-hook/111.ini
bounded 111 pre-start && { cat /tmp/last.log; fail "pre-start succeeded although the card was opened"; }
expect_log 'cannot unload module nvidia: in use' "no clear error naming the module in use"
expect_log 'undone: the host is as it was before' "the rollback did not finish"
kill "$(cat /tmp/opener.pid)" 2>/dev/null; usleep 200000
settle; tally $?
record "holder opens after the plan" 1
rm -f /etc/gpu-hook/111.ini /usr/bin/systemctl /tmp/opener.pid
kill $svc; wait $svc 2>/dev/null

# A service that will not stop: systemctl hangs, the step times out, everything is undone.
start_row "service that will not stop"
mkdir -p /sys/fs/cgroup/system.slice/stuck.service
printf '#!/bin/sh\ncase " $* " in *" stop "*) exec sleep 1000 ;; esac\nexit 0\n' > /usr/bin/systemctl
chmod +x /usr/bin/systemctl
sleep 1000 &
svc=$!
echo $svc > /sys/fs/cgroup/system.slice/stuck.service/cgroup.procs
printf '[handoff]\nservices = stuck.service\nservice_timeout = 2s\n' > /etc/gpu-hook/111.ini
t0=$(now)
bounded 111 pre-start && { cat /tmp/last.log; fail "pre-start succeeded although the service did not stop"; }
t1=$(now)
expect_log 'no answer within 2000 ms' "no timeout reported"
settle; r=$? # restore first either way, so later rows start from the host as it was
if [ $((t1 - t0)) -gt 600 ]; then hung=1; else tally $r; fi
record "service that will not stop" 1
rm -f /etc/gpu-hook/111.ini /usr/bin/systemctl
kill $svc; wait $svc 2>/dev/null

# remove() hangs on the way in: rmmod nvidia sticks in the GPU's remove(); the hook
# answers within its deadline, undoes what it can, and once remove() returns one
# recover restores the host.
start_row "remove() hangs on the way in"
printf '[handoff]\ntimeout = 2s\nmodule_timeout = 2s\n' > /etc/gpu-hook/111.ini
echo 8000 > /sys/module/nvidia/parameters/remove_delay_ms
t0=$(now)
bounded 111 pre-start && { cat /tmp/last.log; fail "pre-start succeeded although remove() hung"; }
t1=$(now)
cat /tmp/last.log
expect_log 'no answer within 2000 ms' "no timeout reported"
[ -e /run/gpu-hook/111.json ] || fail "no journal after a wedged step"
while [ -d /sys/module/nvidia ]; do usleep 200000; done # the stuck remove() returns, the unload ends
settle; r=$? # restore first either way, so later rows start from the host as it was
if [ $((t1 - t0)) -gt 600 ]; then hung=1; else tally $r; fi
record "remove() hangs on the way in" 1
rm -f /etc/gpu-hook/111.ini

# A QEMU that has not exited still holds the card's VFIO group at post-stop:
# refused at once, naming it, nothing changed; once it is gone post-stop works.
start_row "VFIO group still open at post-stop"
bounded 111 pre-start || { cat /tmp/last.log; fail "pre-start failed"; }
handed=$(host_state)
hold_card
t0=$(now)
bounded 111 post-stop && { cat /tmp/last.log; fail "post-stop succeeded although QEMU holds the card"; }
t1=$(now)
expect_log "pid $hold (vfio-hold.*still holds the card through VFIO" "the holder is not named"
[ "$(host_state)" = "$handed" ] || { cat /tmp/last.log; fail "a refused post-stop changed the host"; }
kill $hold; wait $hold 2>/dev/null
bounded 111 post-stop || { cat /tmp/last.log; fail "post-stop failed once the holder was gone"; }
settle; r=$? # restore first either way, so later rows start from the host as it was
if [ $((t1 - t0)) -gt 600 ]; then hung=1; else tally $r; fi
record "VFIO group still open at post-stop" 1

# remove() hangs on the way back: a process still holds the GPU through VFIO (as a
# QEMU that has not exited does) behind a closed group fd, so vfio-pci's remove()
# blocks in the kernel until it lets go.
start_row "remove() hangs on the way back"
bounded 111 pre-start || { cat /tmp/last.log; fail "pre-start failed"; }
hold_card --hide
printf '[handoff]\ntimeout = 2s\n' > /etc/gpu-hook/111.ini
t0=$(now)
bounded 111 post-stop && { cat /tmp/last.log; fail "post-stop succeeded although the GPU is held"; }
t1=$(now)
cat /tmp/last.log
expect_log 'no answer within 2000 ms' "no timeout reported"
grep -q '"wedged": *true' /run/gpu-hook/111.json || fail "the journal does not say wedged"
loaded nvidia_drm && fail "nvidia_drm was loaded while the GPU was still held"
kill $hold; wait $hold 2>/dev/null
i=0; while [ "$(drv 0000:01:00.0)" = vfio-pci ] && [ $i -lt 100 ]; do usleep 100000; i=$((i + 1)); done
settle; r=$? # restore first either way, so later rows start from the host as it was
if [ $((t1 - t0)) -gt 600 ]; then hung=1; else tally $r; fi
record "remove() hangs on the way back" 1
rm -f /etc/gpu-hook/111.ini

# probe() fails on the way back: the modules stacked on nvidia wait, the journal
# keeps the rest, and one recover restores the host once the driver probes again.
start_row "probe() fails on the way back"
bounded 111 pre-start || fail "pre-start failed"
echo "options nvidia fail_probe=1" > /etc/modprobe.d/gpu-hook-test.conf
bounded 111 post-stop && { cat /tmp/last.log; fail "post-stop succeeded although probe fails"; }
expect_log 'cannot bind 0000:01:00.0 to nvidia' "no clear error"
rm /etc/modprobe.d/gpu-hook-test.conf
echo 0 > /sys/module/nvidia/parameters/fail_probe
settle; tally $?
record "probe() fails on the way back" 1

# Eight concurrent pre-starts, four for each of two VMs that share one GPU: one
# run hands the card over; the other three of its VM find it handed off (a phase
# run twice is harmless); all four of the other VM are refused, naming the owner.
start_row "8 concurrent pre-starts"
pids=""
for i in 1 2 3 4 5 6 7 8; do
	vm=$((111 + i % 2))
	timeout 30 gpu-hook $vm pre-start >/tmp/c$i.log 2>&1 &
	pids="$pids $!"
done
n=0
for p in $pids; do
	n=$((n + 1)); wait $p; rc=$?
	[ $rc -gt 2 ] && hung=$((hung + 1))
	echo "$((111 + n % 2)) $rc" >>/tmp/c.rc
done
owner=$(ls /run/gpu-hook/ | sed -n 's/^\([0-9]*\)\.json$/\1/p')
[ "$(echo "$owner" | wc -w)" -eq 1 ] || { cat /tmp/c*.log; fail "journals: $owner"; }
other=$((111 + 112 - owner))
[ "$(grep -l 'functions on vfio-pci (' /tmp/c?.log | wc -l)" -eq 1 ] || { cat /tmp/c?.log; fail "not exactly one run handed the card over"; }
[ "$(grep -c "^$owner 0$" /tmp/c.rc)" -eq 4 ] || { cat /tmp/c.rc /tmp/c?.log; fail "a pre-start of VM $owner failed"; }
[ "$(grep -c "^$other 1$" /tmp/c.rc)" -eq 4 ] || { cat /tmp/c.rc /tmp/c?.log; fail "VM $other was not refused 4 times"; }
[ "$(grep -l "is handed to VM $owner" /tmp/c?.log | wc -l)" -eq 4 ] || { cat /tmp/c?.log; fail "a refusal does not name VM $owner"; }
grep -q '"complete": *true' "/run/gpu-hook/$owner.json" || fail "the winner's journal is not complete"
bounded "$owner" post-stop || { cat /tmp/last.log; fail "post-stop of the winner failed"; }
settle; r=$?
case $r in 0) ok=$((8 - hung)) ;; 1) lost=$((8 - hung)) ;; *) hung=8 ;; esac
record "8 concurrent pre-starts, 2 VMs" 8

printf '%-36s %5s %8s %5s %5s\n' fault runs restored lost hung
printf '%s' "$table"
[ $total_lost -eq 0 ] || fail "$total_lost runs lost the host"
[ $total_hung -eq 0 ] || fail "$total_hung runs hung"
echo "fault-matrix ok"
