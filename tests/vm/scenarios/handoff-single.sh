# Round trip on a one-GPU host: the stack is unloaded, both functions go to
# vfio-pci, the console is detached; post-stop gives everything back. Each
# phase twice is harmless.
# topology: single
[ -e /gpu-hook-test-guest ] || { echo "a tests/vm guest scenario: it writes the kernel's /sys; run it with tests/vm/run-scenario" >&2; exit 2; }
. /lib.sh
before=$(host_state)
echo "before: $before"
gpu-hook 111 pre-start || fail "pre-start failed"
expect_drv 0000:01:00.0 vfio-pci
expect_drv 0000:01:00.1 vfio-pci
[ -c "/dev/vfio/$(group 0000:01:00.0)" ] || fail "no /dev/vfio/$(group 0000:01:00.0)"
loaded nvidia && fail "nvidia is still loaded"
[ "$(fbcon_bound)" != 1 ] || fail "fbcon still bound"
grep -q '"done"' /run/gpu-hook/111.json || fail "journal has no done step"
gpu-hook 111 pre-start > /tmp/again 2>&1 || { cat /tmp/again; fail "second pre-start failed"; }
cat /tmp/again
grep -q 'already handed off' /tmp/again || fail "second pre-start did not say it had nothing to do"
gpu-hook 111 post-stop || fail "post-stop failed"
after=$(host_state)
echo "after:  $after"
[ "$after" = "$before" ] || fail "host not restored"
[ ! -e /run/gpu-hook/111.json ] || fail "journal left behind"
gpu-hook 111 post-stop > /tmp/again 2>&1 || { cat /tmp/again; fail "second post-stop failed"; }
cat /tmp/again
grep -q 'already on its host driver' /tmp/again || fail "second post-stop did not say it had nothing to do"
echo "handoff-single ok"
