# Faults injected on a real kernel: for each, the expected outcome holds and the
# host ends restored (drivers, overrides, modules, console) after at most one
# recover once the fault is gone. Prints a table: fault, runs, restored, lost
# (must be 0), hung (must be 0). A run is hung when a gpu-hook call does not
# return within 30 s, or one with a 2 s step deadline takes more than 6 s.
# topology: single
# timeout: 900
[ -e /gpu-hook-test-guest ] || { echo "a tests/vm guest scenario: it writes the kernel's /sys; run it with tests/vm/run-scenario" >&2; exit 2; }
. /lib.sh
set +e # every outcome is checked explicitly here
echo "hostpci0: 01:00,pcie=1" > /etc/pve/qemu-server/112.conf
mkdir -p /etc/gpu-hook /etc/modprobe.d
before=$(host_state)
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
trap 'kill $hold $snd 2>/dev/null' EXIT # a failure must not leave the card held: the guest could not power off

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
opener_service /dev/nvidia0
bounded 111 pre-start && { cat /tmp/last.log; fail "pre-start succeeded although the card was opened"; }
expect_log 'cannot unload module nvidia: in use' "no clear error naming the module in use"
expect_log 'undone: the host is as it was before' "the rollback did not finish"
kill "$(cat /tmp/opener.pid)" 2>/dev/null; usleep 200000
settle; tally $?
record "holder opens after the plan" 1
opener_done

# A service that will not stop: systemctl hangs, the step times out, everything is undone.
start_row "service that will not stop"
mkdir -p /sys/fs/cgroup/system.slice/stuck.service
printf '#!/bin/sh\ncase " $* " in *" stop "*) exec sleep 1000 ;; esac\nexit 0\n' > /usr/bin/systemctl
chmod +x /usr/bin/systemctl
sleep 1000 &
svc=$!
echo $svc > /sys/fs/cgroup/system.slice/stuck.service/cgroup.procs
printf '[handoff]\nservices = stuck.service\nservice_timeout = 2s\n' > /etc/gpu-hook/111.ini
expect_timeout "the service did not stop" 111 pre-start
settle; r=$? # restore first either way, so later rows start from the host as it was
if [ $took -gt 600 ]; then hung=1; else tally $r; fi
record "service that will not stop" 1
rm -f /etc/gpu-hook/111.ini /usr/bin/systemctl
kill $svc; wait $svc 2>/dev/null

# remove() hangs on the way in: rmmod nvidia sticks in the GPU's remove(); the hook
# answers within its deadline, undoes what it can, and once remove() returns one
# recover restores the host.
start_row "remove() hangs on the way in"
printf '[handoff]\ntimeout = 2s\nmodule_timeout = 2s\n' > /etc/gpu-hook/111.ini
echo 8000 > /sys/module/nvidia/parameters/remove_delay_ms
expect_timeout "remove() hung" 111 pre-start
[ -e /run/gpu-hook/111.json ] || fail "no journal after a wedged step"
while [ -d /sys/module/nvidia ]; do usleep 200000; done # the stuck remove() returns, the unload ends
settle; r=$? # restore first either way, so later rows start from the host as it was
if [ $took -gt 600 ]; then hung=1; else tally $r; fi
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
expect_timeout "the GPU is held" 111 post-stop
grep -q '"wedged": *true' /run/gpu-hook/111.json || fail "the journal does not say wedged"
loaded nvidia_drm && fail "nvidia_drm was loaded while the GPU was still held"
kill $hold; wait $hold 2>/dev/null
i=0; while [ "$(drv 0000:01:00.0)" = vfio-pci ] && [ $i -lt 100 ]; do usleep 100000; i=$((i + 1)); done
settle; r=$? # restore first either way, so later rows start from the host as it was
if [ $took -gt 600 ]; then hung=1; else tally $r; fi
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

# A process holds the audio function's ALSA control node, as PipeWire does all
# the time: snd_hda_intel's remove() would wait in snd_card_free until it is
# closed, so pre-start refuses within 3 s, naming it, before anything changes.
start_row "ALSA holder"
audio_settled
card=$(ls -d /sys/bus/pci/devices/0000:01:00.1/sound/card* | head -n1)
node=/dev/snd/controlC${card##*/card}
sleep 1000 < "$node" &
snd=$!
usleep 200000
t0=$(now)
bounded 111 pre-start && { cat /tmp/last.log; fail "pre-start succeeded although $node is held"; }
t1=$(now)
expect_log "pid $snd" "the ALSA holder is not named"
expect_log "$node" "the refusal does not name $node"
[ "$(host_state)" = "$before" ] || { cat /tmp/last.log; fail "a refused pre-start changed the host"; }
kill $snd; wait $snd 2>/dev/null
settle; r=$?
if [ $((t1 - t0)) -gt 300 ]; then hung=1; else tally $r; fi
record "ALSA holder" 1

# nvidia_drm's load takes 12 s (GSP boot with modeset=1): module loads have
# their own deadline (module_timeout, 60 s by default), so post-stop waits for
# it and the host comes back whole.
start_row "slow nvidia_drm load"
echo "options nvidia_drm load_delay_ms=12000" > /etc/modprobe.d/gpu-hook-test.conf
bounded 111 pre-start || { cat /tmp/last.log; fail "pre-start failed"; }
t0=$(now)
bounded 111 post-stop || { cat /tmp/last.log; fail "post-stop failed with a 12 s nvidia_drm load"; }
t1=$(now)
[ $((t1 - t0)) -ge 1200 ] || fail "post-stop took $(((t1 - t0) * 10)) ms: nvidia_drm's slow load did not happen"
rm /etc/modprobe.d/gpu-hook-test.conf
settle; tally $?
record "slow nvidia_drm load" 1

matrix_verdict
echo "fault-matrix ok"
