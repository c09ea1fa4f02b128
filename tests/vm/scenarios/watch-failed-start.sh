# Proxmox's lifecycle, on the real kernel: a start that fails after pre-start
# runs no post-stop (qemu-server vm_start_nolock dies after
# cleanup_pci_devices). pre-start under the VM's config lock (a flock, held
# here as vm_start holds it) leaves a watcher; when the lock is released with
# no QEMU running, the watcher gives card and console back. Then a start that
# does come up (a QEMU stand-in with the right -pidfile) keeps the card, and
# a Proxmox reboot keeps it across post-stop; a reboot whose restart never
# comes gives it back within reboot_watch.
# topology: single
# timeout: 240
[ -e /gpu-hook-test-guest ] || { echo "a tests/vm guest scenario: it writes the kernel's /sys; run it with tests/vm/run-scenario" >&2; exit 2; }
. /lib.sh
mkdir -p /var/lock/qemu-server /run/qemu-server
lockf=/var/lock/qemu-server/lock-111.conf
before=$(host_state)
echo "before: $before"
lock() { # as vm_start / qm cleanup hold it
	lockhold "$lockf" >/tmp/lk &
	lpid=$!
	i=0
	until grep -q locked /tmp/lk 2>/dev/null; do sleep 0.05; i=$((i + 1)); [ $i -lt 100 ] || fail "lockhold"; done
}
unlock() { kill "$lpid"; wait "$lpid" 2>/dev/null || true; rm -f /tmp/lk; }
wait_back() { # seconds
	i=0
	while [ -e /run/gpu-hook/111.json ] && [ $i -lt $(($1 * 10)) ]; do sleep 0.1; i=$((i + 1)); done
	[ ! -e /run/gpu-hook/111.json ] || fail "the card was not given back within $1 s"
	echo "given back after ~$((i / 10)).$((i % 10)) s"
}

# 1. A start that never brings up QEMU.
lock
gpu-hook 111 pre-start || fail "pre-start failed"
expect_drv 0000:01:00.0 vfio-pci
gpu-hook status | tee /tmp/status
grep -q 'watcher: VM 111, armed by a start' /tmp/status || fail "status shows no watcher"
sleep 1
expect_drv 0000:01:00.0 vfio-pci
unlock
wait_back 30
after=$(host_state)
[ "$after" = "$before" ] || fail "host not restored after the failed start: $after"

# 2. A start that works: QEMU (a stand-in whose cmdline carries -pidfile) runs; the watcher stands down.
lock
gpu-hook 111 pre-start || fail "pre-start failed"
fake-kvm -id 111 -pidfile /var/run/qemu-server/111.pid &
qpid=$!
# QEMU is up once its command line is (the forked shell has not exec'd it yet at first).
i=0
until tr '\0' ' ' </proc/$qpid/cmdline 2>/dev/null | grep -q -- '-pidfile'; do
	sleep 0.05; i=$((i + 1)); [ $i -lt 200 ] || fail "the QEMU stand-in did not start"
done
echo "$qpid" >/var/run/qemu-server/111.pid
unlock
i=0
while [ -e /run/gpu-hook/111.watch ] && [ $i -lt 300 ]; do sleep 0.1; i=$((i + 1)); done
[ ! -e /run/gpu-hook/111.watch ] || fail "the watcher did not stand down for a running QEMU"
sleep 1
[ -e /run/gpu-hook/111.json ] || fail "the watcher gave the card back although QEMU runs"
expect_drv 0000:01:00.0 vfio-pci

# 3. qm reboot: post-stop under the lock with the reboot file keeps the card; the new start is a no-op.
kill "$qpid"; wait "$qpid" 2>/dev/null || true
rm -f /var/run/qemu-server/111.pid
: >/run/qemu-server/111.reboot
lock
gpu-hook 111 post-stop 2>&1 | tee /tmp/ps
grep -q 'stays on vfio-pci for the restart' /tmp/ps || fail "post-stop did not keep the card for the reboot"
expect_drv 0000:01:00.0 vfio-pci
loaded nvidia && fail "nvidia was loaded again for a reboot"
rm -f /run/qemu-server/111.reboot
unlock
lock
gpu-hook 111 pre-start 2>&1 | tee /tmp/again
grep -q 'already handed off' /tmp/again || fail "the restart's pre-start was not a no-op"
unlock
# ... and that restart failed: the watcher it re-armed gives the card back.
wait_back 30
[ "$(host_state)" = "$before" ] || fail "host not restored after the failed restart"

# 4. A reboot whose restart never comes.
printf '[handoff]\nreboot_watch = 2s\n' >/etc/gpu-hook/111.ini
chmod 644 /etc/gpu-hook/111.ini
gpu-hook 111 pre-start || fail "pre-start failed"
: >/run/qemu-server/111.reboot
gpu-hook 111 post-stop || fail "post-stop failed"
expect_drv 0000:01:00.0 vfio-pci
rm -f /run/qemu-server/111.reboot
wait_back 30
rm -f /etc/gpu-hook/111.ini
after=$(host_state)
echo "after:  $after"
[ "$after" = "$before" ] || fail "host not restored"
echo "watch-failed-start ok"
