# probe() fails on the way back: a clear error, the journal keeps what is left,
# and recover finishes once the driver probes again.
# topology: single
. /lib.sh
before=$(host_state)
gpu-hook 111 pre-start || fail "pre-start failed"
echo 1 > /sys/module/nvidia/parameters/fail_probe 2>/dev/null || true
# nvidia is unloaded on a one-GPU host: the knob is set again when it loads, through modprobe.d.
mkdir -p /etc/modprobe.d
echo "options nvidia fail_probe=1" > /etc/modprobe.d/gpu-hook-test.conf
if gpu-hook 111 post-stop > /tmp/out 2>&1; then fail "post-stop succeeded although probe fails"; fi
cat /tmp/out
grep -q 'cannot bind 0000:01:00.0 to nvidia' /tmp/out || fail "no clear error naming the device and driver"
[ -e /run/gpu-hook/111.json ] || fail "the journal is gone although the GPU did not come back"
expect_drv 0000:01:00.1 snd_hda_intel
rm /etc/modprobe.d/gpu-hook-test.conf
echo 0 > /sys/module/nvidia/parameters/fail_probe
# nvidia-drm came back while the GPU was not on nvidia: it has no framebuffer, so the
# console cannot be reattached yet, and recover says so and keeps that in the journal.
if gpu-hook recover 111 > /tmp/out 2>&1; then fail "recover claimed the console back"; fi
cat /tmp/out
grep -q 'no framebuffer console to reattach' /tmp/out || fail "recover did not say why"
expect_drv 0000:01:00.0 nvidia
[ -e /run/gpu-hook/111.json ] || fail "the journal was dropped with the console still detached"
rmmod nvidia_drm && modprobe nvidia_drm || fail "cannot reload nvidia_drm"
gpu-hook recover 111 || fail "recover failed once the framebuffer was back"
[ "$(fbcon_bound)" = 1 ] || fail "console not reattached"
expect_drv 0000:01:00.1 snd_hda_intel
[ "$(override 0000:01:00.0)" = "(null)" ] || fail "override left: $(override 0000:01:00.0)"
[ ! -e /run/gpu-hook/111.json ] || fail "journal left after a complete recover"
echo "probe-fail ok"
