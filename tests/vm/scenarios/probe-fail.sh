# probe() fails on the way back: a clear error naming the device and driver, the
# modules stacked on nvidia stay unloaded (nvidia-drm loaded without the card would
# never give the console back), the journal keeps what is left, and once the
# driver probes again one recover restores the whole host.
# topology: single
[ -e /gpu-hook-test-guest ] || { echo "a tests/vm guest scenario: it writes the kernel's /sys; run it with tests/vm/run-scenario" >&2; exit 2; }
. /lib.sh
before=$(host_state)
gpu-hook 111 pre-start || fail "pre-start failed"
# nvidia is unloaded on a one-GPU host: the knob is set again when it loads, through modprobe.d.
mkdir -p /etc/modprobe.d
echo "options nvidia fail_probe=1" > /etc/modprobe.d/gpu-hook-test.conf
if gpu-hook 111 post-stop > /tmp/out 2>&1; then fail "post-stop succeeded although probe fails"; fi
cat /tmp/out
grep -q 'cannot bind 0000:01:00.0 to nvidia' /tmp/out || fail "no clear error naming the device and driver"
grep -q 'module nvidia_drm not loaded yet' /tmp/out || fail "nvidia_drm was loaded without the card"
loaded nvidia_drm && fail "nvidia_drm is loaded without the card"
[ -e /run/gpu-hook/111.json ] || fail "the journal is gone although the GPU did not come back"
expect_drv 0000:01:00.1 snd_hda_intel
rm /etc/modprobe.d/gpu-hook-test.conf
echo 0 > /sys/module/nvidia/parameters/fail_probe
gpu-hook recover 111 > /tmp/out 2>&1 || { cat /tmp/out; fail "recover failed once the driver probed again"; }
cat /tmp/out
after=$(host_state)
echo "after: $after"
[ "$after" = "$before" ] || fail "host not restored by one recover: before $before"
[ "$(fbcon_bound)" = 1 ] || fail "console not reattached"
[ ! -e /run/gpu-hook/111.json ] || fail "journal left after a complete recover"
echo "probe-fail ok"
