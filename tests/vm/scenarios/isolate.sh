# Issue 16 on a real kernel with systemd 252 as PID 1 and 4 CPUs: VM 111
# (2 vCPUs pinned to CPUs 2-3, [isolation]) goes through pre-start, a QEMU
# stand-in in qemu.slice/111.scope, post-start and post-stop, while VM 112's
# QEMU runs in qemu.slice/112.scope, a service in system.slice and a login
# session in user.slice. While 111 runs: AllowedCPUs= and
# cpuset.cpus.effective of system.slice, user.slice and init.scope, their
# processes' allowed CPUs and the writeback workqueue's cpumask are the
# housekeeping CPUs 0-1, 111's vCPU threads sit on 2 and 3, VM 112's scope
# is narrowed to 0-1 and its vCPUs pinned inside keep their CPUs, every IRQ
# the kernel lets us move (and the default for new ones) is on 0-1 with an
# effective affinity there, and the card's own MSIs (fake-kvm enables them
# through VFIO as QEMU does) on 2-3. After post-stop
# the whole snapshot (every unit, process, the writeback mask, every IRQ's
# smp_affinity_list and the default) reads as before, and no isolation state is left.
# Needs gpu-hook's [isolation] (systemctl set-property --runtime, writeback).
# os: debian
# smp: 4
# topology: single
[ -e /gpu-hook-test-guest ] || { echo "a tests/vm guest scenario: it writes the kernel's /sys; run it with tests/vm/run-scenario" >&2; exit 2; }
. /lib.sh
hk=0-1 vm=2-3
iso_setup pinned
# A failed check while VM 111 runs is reported at the end, so the way back is seen too.
problems=
problem() { echo "FAIL: $*"; problems="$problems
  $*"; }
before=$(host_state)
iso_snap >/tmp/snap.before
echo "== before"; grep -v '^irq' /tmp/snap.before
[ -d /sys/devices/system/cpu/cpu0/cpufreq ] || echo "no cpufreq in this guest (TCG): the governor is tested on fixtures only"

echo "== pre-start, QEMU, post-start"
gpu-hook 111 pre-start >/tmp/out 2>&1 || { cat /tmp/out; fail "pre-start failed"; }
q111=$(qemu_111) || fail "$q111"
t0=$(now)
gpu-hook 111 post-start >/tmp/out 2>&1 || { cat /tmp/out; fail "post-start failed"; }
echo "post-start took $(($(now) - t0))0 ms"
cat /tmp/out
iso_snap >/tmp/snap.during
echo "== during"; grep -v '^irq' /tmp/snap.during; irq_table
gpu-hook status >/tmp/status 2>&1 || { cat /tmp/status; fail "status failed"; }
grep isolation /tmp/status
# Checked at the end, so the round trip is seen too.
! grep error /tmp/status || problem "status reports an error while VM 111 is isolated"
for u in system.slice user.slice init.scope; do
	grep -q "^unit $u AllowedCPUs=$hk cpus=$hk effective=$hk\$" /tmp/snap.during || problem "$u is not on $hk: $(grep "^unit $u " /tmp/snap.during)"
done
for t in init gh-sys session; do
	grep -q "^task $t allowed=$hk\$" /tmp/snap.during || problem "$(grep "^task $t " /tmp/snap.during): not $hk"
done
grep -q '^writeback 3$' /tmp/snap.during || problem "writeback cpumask is $(cat /sys/bus/workqueue/devices/writeback/cpumask), not 3 (CPUs $hk)"
for n in 0 1; do
	tid=$(vcpu_tid "$q111" $n)
	[ "$(cpus_allowed "$tid")" = $((n + 2)) ] || problem "vCPU $n (thread $tid) is on CPUs $(cpus_allowed "$tid"), not $((n + 2))"
done
grep -q '^unit qemu.slice AllowedCPUs= cpus=-* effective=[0-]*3$' /tmp/snap.during || problem "the VMs' slice lost CPUs: $(grep '^unit qemu.slice ' /tmp/snap.during)"
[ -s /run/gpu-hook/isolation.json ] || problem "no isolation state while VM 111 runs"
# The other VM's scope is narrowed to the housekeeping CPUs; its pinned vCPUs keep their CPUs.
grep -q "^unit qemu.slice/112.scope AllowedCPUs=$hk cpus=$hk effective=$hk\$" /tmp/snap.during || problem "VM 112's scope is not on $hk: $(grep '^unit qemu.slice/112.scope' /tmp/snap.during)"
grep -q "^task qemu-112 allowed=$hk\$" /tmp/snap.during || problem "VM 112's QEMU is not on $hk: $(grep '^task qemu-112 ' /tmp/snap.during)"
for n in 0 1; do
	grep -q "^task qemu-112-vcpu$n allowed=$n\$" /tmp/snap.during || problem "VM 112's vCPU $n lost its pin: $(grep "^task qemu-112-vcpu$n " /tmp/snap.during)"
done
# IRQs: the default and every IRQ the kernel lets us move on the housekeeping
# CPUs; a kernel-managed one (virtio-blk's per-CPU queues) keeps its CPU.
grep -q '^irq default 3$' /tmp/snap.during || problem "default_smp_affinity is $(cat /proc/irq/default_smp_affinity), not 3"
moved=0 kept= vfio=0
while read -r n aff eff rest; do
	case $rest in vfio-msi*0000:01:00.*)
		vfio=$((vfio + 1))
		[ "$aff" = "affinity=$vm" ] || problem "VM 111's own IRQ $n ($rest) is on ${aff#*=}, not its CPUs $vm"
		case ${eff#*=} in 2 | 3 | 2-3) ;; *) problem "VM 111's own IRQ $n ($rest): effective affinity ${eff#*=}, not within $vm" ;; esac
		continue ;;
	esac
	was=$(grep "^irq $n " /tmp/snap.before | cut -d' ' -f3)
	# smp_affinity_list is what we set; effective_affinity_list is where the kernel put it.
	if [ "$aff" = "$was" ]; then
		kept="$kept $n(${aff#*=})"
		# Left alone: only right when the kernel refuses the move too.
		[ "${aff#*=}" = $hk ] || ! echo $hk 2>/dev/null >/proc/irq/$n/smp_affinity_list ||
			{ echo "${aff#*=}" >/proc/irq/$n/smp_affinity_list; problem "IRQ $n ($rest) could move but stayed on ${aff#*=}"; }
		continue
	fi
	moved=$((moved + 1))
	[ "$aff" = "affinity=$hk" ] || problem "IRQ $n ($rest) moved to ${aff#*=}, not $hk"
	case ${eff#*=} in 0 | 1 | 0-1) ;; *) problem "IRQ $n ($rest): effective affinity ${eff#*=}, not within $hk" ;; esac
done <<EOF2
$(irq_table)
EOF2
echo "IRQs moved to $hk: $moved; VM 111's own on $vm: $vfio; left:$kept"
[ $moved -gt 0 ] || problem "no IRQ was moved"
[ $vfio -eq 2 ] || problem "$vfio vfio-msi IRQs of VM 111, not 2 (its two functions)"

echo "== QEMU 111 ends, post-stop"
systemctl stop 111.scope
rm -f /run/qemu-server/111.pid
gpu-hook 111 post-stop >/tmp/out 2>&1 || { cat /tmp/out; fail "post-stop failed"; }
grep isolation /tmp/out || true
iso_snap >/tmp/snap.after
echo "== after"; grep -v '^irq' /tmp/snap.after
diff /tmp/snap.before /tmp/snap.after || problem "the host does not read as before (diff above: < before, > after)"
[ "$(host_state)" = "$before" ] || problem "host after: $(host_state), before: $before"
[ -z "$problems" ] || fail "checks failed:$problems"
echo "isolate ok: $(grep -c '^irq' /tmp/snap.after) IRQs, $(grep -c '^unit' /tmp/snap.after) units compared"
