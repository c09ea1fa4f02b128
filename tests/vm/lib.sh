# Helpers for scenarios, sourced as /lib.sh inside the guest (busybox sh).
fail() { echo "FAIL: $*"; exit 1; }
drv() { d=$(readlink "/sys/bus/pci/devices/$1/driver" 2>/dev/null) && echo "${d##*/}" || echo none; }
expect_drv() { [ "$(drv "$1")" = "$2" ] || fail "$1 is on $(drv "$1"), expected $2"; }
group() { g=$(readlink "/sys/bus/pci/devices/$1/iommu_group"); echo "${g##*/}"; }
override() { cat "/sys/bus/pci/devices/$1/driver_override"; }
loaded() { [ -d "/sys/module/$1" ] && [ -e "/sys/module/$1/initstate" ]; }
fbcon_bound() {
	for v in /sys/class/vtconsole/vtcon*; do
		grep -q 'frame buffer' "$v/name" && cat "$v/bind" && return 0
	done
	echo none
}
# The host as a line, to compare before and after: a journal left behind counts too.
host_state() {
	for a in /sys/bus/pci/devices/0000:0[12]:00.*; do
		a=${a##*/}
		printf '%s=%s(%s) ' "$a" "$(drv "$a")" "$(override "$a")"
	done
	for m in nvidia nvidia_modeset nvidia_drm nvidia_uvm; do loaded $m && printf '%s ' $m; done
	printf 'fbcon=%s fb=%s journals=%s\n' "$(fbcon_bound)" "$(cut -d' ' -f2 /proc/fb | tr '\n' ,)" \
		"$(ls /run/gpu-hook 2>/dev/null | grep '\.json$' | tr '\n' ,)"
}
# A picture of the guest's screen, taken by the host through QEMU's monitor
# (tests/vm/screens); it is kept under build/vm-screens/<scenario>/NAME.png.
screendump() { echo "GH-SCREENDUMP $1"; sleep 3; }
# After the run the host checks picture NAME: "text" (console text drawn) or "flat".
screencheck() { echo "GH-SCREENCHECK $1 $2"; }
# Starts the guest's nvidia-persistenced stand-in (tools/systemctl.sh becomes
# /usr/bin/systemctl): it holds every /dev/nvidiaN. Later starts, gpu-hook's
# own at post-stop included, take START_DELAY seconds (default 0).
persistenced() { # [START_DELAY]
	echo "${1:-0}" > /etc/nvidia-persistenced.delay
	ln -sf systemctl.sh /usr/bin/systemctl
	d=$(cat /etc/nvidia-persistenced.delay)
	echo 0 > /etc/nvidia-persistenced.delay
	systemctl start nvidia-persistenced.service || fail "the nvidia-persistenced stand-in did not start"
	echo "$d" > /etc/nvidia-persistenced.delay
}
# The pid of the nvidia-persistenced stand-in, or nothing.
persistenced_pid() { cat /sys/fs/cgroup/system.slice/nvidia-persistenced.service/cgroup.procs 2>/dev/null; }
# The state letter of a task (R, S, D, Z...), empty when it is gone.
task_state() { sed -n 's/^State:[[:space:]]*\([A-Z]\).*/\1/p' "/proc/$1/status" 2>/dev/null; }
# Uptime in centiseconds.
now() { cut -d' ' -f1 /proc/uptime | tr -d .; }
# Runs CMD with a bound of SECS seconds, output to /tmp/within.out, and returns
# its status, or 124 when it has not exited by then: it is left running (a task
# stuck in the kernel outlives SIGKILL, and waiting for it would hang the
# scenario, as busybox's timeout does). WITHIN_MS is the time it took.
within() { # SECS CMD...
	local lim=$(($1 * 100)) p st t0 t
	shift
	t0=$(now)
	"$@" > /tmp/within.out 2>&1 &
	p=$!
	while :; do
		st=$(task_state $p)
		t=$(($(now) - t0))
		[ -z "$st" ] || [ "$st" = Z ] || [ $t -ge $lim ] && break
		usleep 50000
	done
	WITHIN_MS=$((t * 10))
	if [ -n "$st" ] && [ "$st" != Z ]; then
		echo "within: '$*' did not answer in $((lim / 100)) s (state $st, wchan $(cat /proc/$p/wchan 2>/dev/null))" >> /tmp/within.out
		kill -9 $p 2>/dev/null
		return 124
	fi
	wait $p
}
# The PCI address of the device fb0 belongs to ("none" without one).
fb0_device() { d=$(readlink /sys/class/graphics/fb0/device 2>/dev/null) && echo "${d##*/}" || echo none; }
# How many times nvidia_drm brought a GPU up ("Loading driver" in the kernel log).
drm_loads() { dmesg | grep -c '\[nvidia-drm\] \[GPU ID 0x[0-9a-f]*\] Loading driver' || true; }

# The fault matrices (scenarios/fault-matrix*.sh): rows of runs, each ending
# restored, lost or hung, against the host as it was ($before).
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
# snd_hda_intel probes codecs asynchronously; QEMU's emulated codec fails that
# probe when the controller is reset again while it runs, so every run starts
# from a settled audio function, as a host does between VM starts.
audio_settled() {
	local n a
	for a in /sys/bus/pci/devices/0000:0[12]:00.1; do
		a=${a##*/} n=0
		while [ $n -lt 200 ]; do
			[ -e "/sys/bus/pci/devices/$a/sound" ] && break
			[ "$(drv "$a")" = snd_hda_intel ] || break
			usleep 20000; n=$((n + 1))
		done
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
# The table of rows, and the verdict: no run may lose the host or hang.
matrix_verdict() {
	printf '%-36s %5s %8s %5s %5s\n' fault runs restored lost hung
	printf '%s' "$table"
	[ $total_lost -eq 0 ] || fail "$total_lost runs lost the host"
	[ $total_hung -eq 0 ] || fail "$total_hung runs hung"
}
# A policy service whose stop opens NODE (a holder that appears after gpu-hook
# made its plan, as a monitoring agent restarted at that moment does): a unit
# opener.service with a process in its cgroup ($svc), and a systemctl that, on
# "stop", starts a setsid process holding NODE (pid in /tmp/opener.pid).
# VM 111's policy names it, with a 2 s step deadline.
opener_service() { # NODE
	echo "$1" > /tmp/opener.node
	rm -f /tmp/opener.pid
	mkdir -p /sys/fs/cgroup/system.slice/opener.service /etc/gpu-hook
	cat > /usr/bin/systemctl <<'SH'
#!/bin/sh
case " $* " in *" stop "*)
	setsid sh -c 'exec 3<"$(cat /tmp/opener.node)"; echo $$ > /tmp/opener.pid; exec sleep 1000' </dev/null >/dev/null 2>&1 &
	usleep 200000 ;;
esac
exit 0
SH
	chmod +x /usr/bin/systemctl
	sleep 1000 &
	svc=$!
	echo $svc > /sys/fs/cgroup/system.slice/opener.service/cgroup.procs
	printf '[handoff]\nservices = opener.service\ntimeout = 2s\n' > /etc/gpu-hook/111.ini
}
# Ends what opener_service started.
opener_done() {
	[ -s /tmp/opener.pid ] && kill "$(cat /tmp/opener.pid)" 2>/dev/null || true # gone already when a scenario ended it
	kill $svc 2>/dev/null
	rm -f /usr/bin/systemctl /etc/gpu-hook/111.ini /tmp/opener.pid
}
# The /dev/nvidiaN of the GPU at ADDR.
nvidia_node() { echo "/dev/nvidia$(sed -n 's/^Device Minor:[[:space:]]*//p' "/proc/driver/nvidia/gpus/$1/information")"; }
# gpu-hook ARGS with a bound of SECS (within): prints its output and how it
# ended; its status is left in $rc (124: no answer).
hook() { # SECS ARGS...
	local lim=$1
	shift
	rc=0
	within "$lim" gpu-hook "$@" || rc=$?
	cat /tmp/within.out
	echo "gpu-hook $*: exit $rc in $WITHIN_MS ms"
}
# Card 1 (01:00) handed over on a two-GPU host: both its functions on vfio-pci, card 2 still on its drivers.
expect_card1_handed() {
	expect_drv 0000:01:00.0 vfio-pci
	expect_drv 0000:01:00.1 vfio-pci
	expect_drv 0000:02:00.0 nvidia
	expect_drv 0000:02:00.1 snd_hda_intel
}
# gpu-hook ARGS (bounded) must fail on its 2 s step deadline; $took is how long
# it took, in centiseconds.
expect_timeout() { # WHY ARGS...
	local why=$1 t0
	shift
	t0=$(now)
	bounded "$@" && { cat /tmp/last.log; fail "gpu-hook $* succeeded although $why"; }
	took=$(($(now) - t0))
	cat /tmp/last.log
	expect_log 'no answer within 2000 ms' "no timeout reported"
}
# gpu-hook ARGS (bound SECS, see hook) must succeed and leave the host as $before.
expect_restores() { # SECS ARGS...
	local lim=$1
	shift
	hook "$lim" "$@"
	[ $rc -eq 0 ] || fail "gpu-hook $*: exit $rc"
	after=$(host_state)
	echo "after:  $after"
	[ "$after" = "$before" ] || fail "host not restored; before: $before"
}

# Issue 16 (scenarios/isolate*.sh, systemd guest). A VM's QEMU as qemu-server
# starts it (PVE::QemuServer's systemd-run --scope --slice qemu --unit VMID),
# with VCPUS threads named "CPU i/KVM" (tools/fake-kvm.c) and any further
# QEMU arguments ("-device vfio-pci,host=ADDR" opens ADDR through VFIO with
# an MSI enabled); prints its pid once its pid file is written.
qemu_standin() { # VMID VCPUS [ARGS...]
	local id=$1 n=$2
	shift 2
	rm -f /run/qemu-server/$id.pid
	systemd-run --quiet --scope --slice=qemu --unit="$id" /usr/bin/fake-kvm -id "$id" \
		-pidfile /var/run/qemu-server/$id.pid -smp "$n,sockets=1,cores=$n,maxcpus=$n" "$@" </dev/null >/tmp/qemu-$id.log 2>&1 &
	for i in $(seq 100); do [ -s /run/qemu-server/$id.pid ] && break; sleep 0.05; done
	[ -s /run/qemu-server/$id.pid ] || fail "the QEMU stand-in of VM $id did not start: $(cat /tmp/qemu-$id.log)"
	cat /run/qemu-server/$id.pid
}
# The host's own work isolation must move: a service in system.slice (pid in
# $iso_sys) and a login session's scope in user.slice/user-0.slice ($iso_sess).
host_work() {
	systemd-run --quiet --unit=gh-sys.service /bin/sleep 100000
	systemd-run --quiet --scope --slice=user-0.slice --unit=session-1.scope /bin/sleep 100000 </dev/null >/dev/null 2>&1 &
	iso_sess=$!
	for i in $(seq 50); do [ "$(systemctl is-active session-1.scope)" = active ] && break; sleep 0.1; done
	iso_sys=$(systemctl show -p MainPID --value gh-sys.service)
}
# VM 111's QEMU with its card's two functions, as qemu-server passes hostpci0: 01:00.
qemu_111() {
	qemu_standin 111 2 -device vfio-pci,host=0000:01:00.0,id=hostpci0.0,bus=ich9-pcie-port-1,addr=0x0.0,multifunction=on \
		-device vfio-pci,host=0000:01:00.1,id=hostpci0.1,bus=ich9-pcie-port-1,addr=0x0.1
}
# VM 111 (2 vCPUs pinned to CPUs 2-3, isolated, the host keeping 2 CPUs) and
# VM 112 (a QEMU in qemu.slice/112.scope, pid $q112, not isolated, its vCPU
# threads $v0 $v1, with "pinned" on CPUs 0 and 1) on a
# 4-CPU guest, with the host's work running; iso_snap snapshots it all.
iso_setup() { # [pinned]
	[ "$(cat /sys/devices/system/cpu/online)" = 0-3 ] || fail "the guest has CPUs $(cat /sys/devices/system/cpu/online), not 0-3 (# smp: 4)"
	printf 'cores: 2\n' >>/etc/pve/qemu-server/111.conf
	printf 'cores: 2\n' >/etc/pve/qemu-server/112.conf
	printf '[pinning]\nvcpus = 2-3\n[isolation]\nhousekeeping_min = 2\n' >/etc/gpu-hook/111.ini
	host_work
	q112=$(qemu_standin 112 2) || fail "$q112"
	v0=$(vcpu_tid "$q112" 0) v1=$(vcpu_tid "$q112" 1)
	# "pinned": VM 112's own post-start pinned its vCPUs to CPUs 0 and 1 (not isolated: shared with the host).
	[ "${1:-}" != pinned ] || { taskset -p -c 0 "$v0" >/dev/null && taskset -p -c 1 "$v1" >/dev/null; } ||
		fail "cannot pin VM 112's vCPUs"
}
iso_snap() { iso_snapshot gh-sys="$iso_sys" session="$iso_sess" qemu-112="$q112" qemu-112-vcpu0="$v0" qemu-112-vcpu1="$v1"; }
# The thread of QEMU PID that runs vCPU N.
vcpu_tid() { grep -l "^CPU $2/KVM\$" /proc/$1/task/*/comm | cut -d/ -f5; }
cg_file() { cat "/sys/fs/cgroup/$1/$2" 2>/dev/null || echo -; }
cpus_allowed() { sed -n 's/^Cpus_allowed_list:[[:space:]]*//p' "/proc/$1/status"; }
# Every IRQ: "N affinity=LIST effective=LIST NAMES" (smp_affinity_list,
# effective_affinity_list, its handlers' names).
irq_table() {
	local i
	for i in /proc/irq/[0-9]*; do
		printf '%s affinity=%s effective=%s %s\n' "${i##*/}" "$(cat "$i/smp_affinity_list")" \
			"$(cat "$i/effective_affinity_list" 2>/dev/null)" "$(ls "$i" | grep -v '^\(smp\|eff\|node\|aff\|spur\)' | tr '\n' ' ')"
	done | sort -n
}
# Everything isolation may touch, one line each, to compare before and after:
# units (AllowedCPUs=, cpuset.cpus, cpuset.cpus.effective; "-" when the
# cpuset controller is off there), the tasks NAME=PID given, the writeback
# workqueue's cpumask, every IRQ's affinity (and the default for new ones)
# and the state files in /run/gpu-hook. Not the effective affinity: that is
# the kernel's pick inside the mask, and a restored mask may get another
# (seen on 6.1: an IRQ not yet started reports the whole mask after a write,
# a started one may land on another CPU of it).
iso_snapshot() { # NAME=PID...
	local u t i
	for u in system.slice user.slice user.slice/user-0.slice init.scope qemu.slice qemu.slice/112.scope; do
		printf 'unit %s AllowedCPUs=%s cpus=%s effective=%s\n' "$u" "$(systemctl show -p AllowedCPUs --value "${u##*/}")" \
			"$(cg_file "$u" cpuset.cpus)" "$(cg_file "$u" cpuset.cpus.effective)"
	done
	for t in init=1 "$@"; do printf 'task %s allowed=%s\n' "${t%%=*}" "$(cpus_allowed "${t#*=}")"; done
	printf 'writeback %s\nirq default %s\n' "$(cat /sys/bus/workqueue/devices/writeback/cpumask)" \
		"$(cat /proc/irq/default_smp_affinity)"
	irq_table | sed 's/^/irq /; s/ effective=[^ ]*//'
	printf 'state %s\n' "$(ls /run/gpu-hook 2>/dev/null | grep -v '^lock$' | tr '\n' ' ')"
}
