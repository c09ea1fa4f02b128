# Two GPUs: the modules stay, the other card stays on nvidia, and a process that
# holds only the other card's node does not block the handoff.
# topology: dual
[ -e /gpu-hook-test-guest ] || { echo "a tests/vm guest scenario: it writes the kernel's /sys; run it with tests/vm/run-scenario" >&2; exit 2; }
. /lib.sh
other=$(sed -n 's/^Device Minor:[[:space:]]*//p' /proc/driver/nvidia/gpus/0000:02:00.0/information)
sleep 1000 < "/dev/nvidia$other" &
pid=$!
sleep 0.2
before=$(host_state)
gpu-hook 111 pre-start || fail "pre-start failed"
expect_drv 0000:01:00.0 vfio-pci
expect_drv 0000:01:00.1 vfio-pci
expect_drv 0000:02:00.0 nvidia
expect_drv 0000:02:00.1 snd_hda_intel
loaded nvidia || fail "nvidia was unloaded on a two-GPU host"
gpu-hook 111 post-stop || fail "post-stop failed"
[ "$(host_state)" = "$before" ] || fail "host not restored: $(host_state) vs $before"
kill $pid
echo "handoff-dual ok"
