# A module gone between the plan and its unload step: a holder of
# /dev/nvidia-uvm, killed under holders = kill, unloads nvidia_uvm on its way
# out (delete_module, as an rmmod would). The plan counted the module; its
# unload step then meets a kernel that no longer knows it: delete_module
# answers ENOENT (kernel/module/main.c: find_module() finds nothing), which
# is "nothing to unload", not a failure. Post-stop loads it again: the host
# ends as it was before the handoff.
# topology: single
[ -e /gpu-hook-test-guest ] || { echo "a tests/vm guest scenario: it writes the kernel's /sys; run it with tests/vm/run-scenario" >&2; exit 2; }
. /lib.sh
before=$(host_state)
[ -e /sys/module/nvidia_uvm ] || fail "nvidia_uvm is not loaded to begin with"
: > /tmp/hold.out
holdopen --unload-on-term nvidia_uvm /dev/nvidia-uvm > /tmp/hold.out 2>&1 &
pid=$!
i=0; while ! grep -q holding /tmp/hold.out && [ $i -lt 50 ]; do usleep 100000; i=$((i + 1)); done
printf '[handoff]\nholders = kill\n' > /etc/gpu-hook/111.ini
gpu-hook 111 pre-start --dry-run > /tmp/dry 2>&1 || { cat /tmp/dry; fail "the dry run refused"; }
grep -q "unload module nvidia_uvm" /tmp/dry || { cat /tmp/dry; fail "the plan does not unload nvidia_uvm"; }
gpu-hook 111 pre-start > /tmp/out 2>&1 || { cat /tmp/out; fail "pre-start failed on a module already gone"; }
cat /tmp/out /tmp/hold.out
grep -q "unloaded nvidia_uvm" /tmp/hold.out || fail "the holder did not unload nvidia_uvm on SIGTERM"
grep -q "kill pid $pid (holdopen), which holds the card: ok" /tmp/out || fail "no kill step for the holder"
grep -q "module nvidia_uvm is not loaded: nothing to unload" /tmp/out || fail "the vanished module is not reported"
grep -q "unload module nvidia_uvm (libkmod, no force): ok" /tmp/out || fail "the unload step of the vanished module did not pass"
expect_drv 0000:01:00.0 vfio-pci
expect_drv 0000:01:00.1 vfio-pci
[ ! -e /sys/module/nvidia ] || fail "nvidia is still loaded"
gpu-hook 111 post-stop > /tmp/out 2>&1 || { cat /tmp/out; fail "post-stop failed"; }
cat /tmp/out
rm -f /etc/gpu-hook/111.ini
[ -e /sys/module/nvidia_uvm ] || fail "post-stop did not load nvidia_uvm again"
[ "$(host_state)" = "$before" ] || fail "host after: $(host_state), before: $before"
echo "module-gone ok"
