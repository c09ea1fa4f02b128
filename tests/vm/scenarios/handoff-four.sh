# Every function of a four-function card goes and comes back.
# topology: four-function
[ -e /gpu-hook-test-guest ] || { echo "a tests/vm guest scenario: it writes the kernel's /sys; run it with tests/vm/run-scenario" >&2; exit 2; }
. /lib.sh
ls /sys/bus/pci/devices/
before=$(host_state)
echo "before: $before"
gpu-hook 111 pre-start || fail "pre-start failed"
for f in 0 1 2 3; do expect_drv 0000:01:00.$f vfio-pci; done
gpu-hook 111 post-stop || fail "post-stop failed"
after=$(host_state)
echo "after:  $after"
[ "$after" = "$before" ] || fail "host not restored"
echo "handoff-four ok"
