# A remove() stuck in the kernel: a process opens card 1's /dev/nvidiaN after
# the plan was made (stopping a policy service starts it), so nv_pci_remove
# waits on the usage count, unkillable, holding the device lock: a read of
# that device's driver_override (and other attributes) blocks in whatever
# process makes it.
# Proves: pre-start answers within its 2 s step deadline and marks the card
# wedged; while remove() is still stuck, `gpu-hook status`, `gpu-hook check`
# and post-stop each answer within 8 s, status says "wedged"; once the holder
# exits and remove() returns, one recover restores the host.
# Needs gpu-hook: status, check and post-stop touch a device that may be
# wedged only from a timeboxed child, and status reports the journal's wedged
# mark.
# Fails on gpu-hook without it: status reads driver_override of the stuck
# device and blocks until remove() returns.
# topology: dual
# timeout: 150
[ -e /gpu-hook-test-guest ] || { echo "a tests/vm guest scenario: it writes the kernel's /sys; run it with tests/vm/run-scenario" >&2; exit 2; }
. /lib.sh
opener_service "$(nvidia_node 0000:01:00.0)"
before=$(host_state)
echo "before: $before"
hook 30 111 pre-start
[ -s /tmp/opener.pid ] || fail "the opener did not run"
if [ $rc -eq 0 ] || [ $rc -gt 2 ]; then fail "pre-start exited $rc with remove() stuck"; fi
[ "$WITHIN_MS" -le 6000 ] || fail "pre-start took $WITHIN_MS ms with a 2 s step deadline"
dmesg | grep -q 'Attempting to remove device 0000:01:00.0 with non-zero usage count' || fail "remove() is not waiting on the usage count"
grep -q '"wedged": *true' /run/gpu-hook/111.json || fail "the journal does not say wedged"

for cmd in status check "111 post-stop"; do
	# shellcheck disable=SC2086 # words
	hook 20 $cmd
	[ $rc -ne 124 ] || fail "gpu-hook $cmd hung on the wedged card"
	[ "$WITHIN_MS" -le 8000 ] || fail "gpu-hook $cmd took $WITHIN_MS ms"
	case $cmd in
	status) grep -q wedged /tmp/within.out || fail "status does not say wedged" ;;
	*post-stop) [ $rc -ne 0 ] || fail "post-stop succeeded although the card is wedged" ;;
	esac
	# The stuck lock is asked once a run: each ask waits its whole second (driver_override_show's device_lock).
	case $cmd in status | *post-stop)
		n=$(grep -c '0000:01:00.0/driver_override: no answer within' /tmp/within.out)
		[ "$n" -eq 1 ] || fail "gpu-hook $cmd waited on the stuck device lock $n times" ;;
	esac
done
# drivers/base/dd.c __device_release_driver drops the driver link before it
# calls remove(): a card stuck in remove() shows no driver, while the process
# holding its usage count keeps remove() waiting.
[ "$(drv 0000:01:00.0)" = none ] && kill -0 "$(cat /tmp/opener.pid)" ||
	fail "remove() returned early: the answers above were not measured against a stuck device"

kill "$(cat /tmp/opener.pid)"
i=0; while [ "$(drv 0000:01:00.0)" = nvidia ] && [ $i -lt 50 ]; do usleep 100000; i=$((i + 1)); done
[ "$(drv 0000:01:00.0)" != nvidia ] || fail "remove() did not return once the holder exited"
expect_restores 60 recover
opener_done
echo "wedged-status ok"
