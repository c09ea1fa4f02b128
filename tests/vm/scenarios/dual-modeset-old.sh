# Two GPUs, nvidia_drm modeset=1, and a driver without per-GPU removal
# (570.195.03): nvidia-modeset holds a usage count on both GPUs for nvidia-drm
# until nvidia-drm unloads, so unbinding one card from nvidia never returns
# (nv_pci_remove waits forever, unkillable).
# Proves: with the default modeset_hold = refuse, pre-start refuses before any
# write (exit 1, "modeset" and the driver version in its message, the host
# unchanged, no journal) at once; with modeset_hold = reload it unloads
# nvidia_drm and nvidia_modeset, hands card 1 over, and loads them again (the
# other card keeps nvidia, the console moves to it); post-stop gives everything
# back, the console on card 1 again (so nvidia_drm is loaded again there too).
# Needs gpu-hook: the modeset_hold policy of CONTRACT.md, and the driver
# version from /proc/driver/nvidia/version.
# Fails on gpu-hook without it: pre-start unbinds the card, the unbind sticks in
# remove(), the step times out and the card is wedged (until nvidia_drm goes).
# topology: dual
# modparams: nvidia nv_version=570.195.03
# timeout: 150
[ -e /gpu-hook-test-guest ] || { echo "a tests/vm guest scenario: it writes the kernel's /sys; run it with tests/vm/run-scenario" >&2; exit 2; }
. /lib.sh
grep -q ' 570\.195\.03 ' /proc/driver/nvidia/version || fail "the stub does not show 570.195.03: $(cat /proc/driver/nvidia/version)"
# The premise, on the stub: with nvidia_drm loaded, unbinding card 1 waits in
# remove(), unkillable, until nvidia_drm unloads.
echo 0000:01:00.0 > /sys/bus/pci/drivers/nvidia/unbind &
unbind=$!
sleep 2
[ "$(task_state $unbind)" = D ] || fail "the unbind did not wait for nvidia_drm's usage count"
rmmod nvidia_drm
wait $unbind || fail "the unbind failed once nvidia_drm was gone"
echo 0000:01:00.0 > /sys/bus/pci/drivers/nvidia/bind
modprobe nvidia_drm

before=$(host_state)
fb_before=$(fb0_device)
echo "before: $before (fb0 on $fb_before)"

hook 30 111 pre-start
[ $rc -eq 1 ] || fail "pre-start with modeset=1 on 570.195.03 exited $rc, expected a refusal (1)"
grep -q modeset /tmp/within.out || fail "the refusal does not say modeset"
grep -q '570\.195\.03' /tmp/within.out || fail "the refusal does not name the driver version"
[ "$WITHIN_MS" -le 5000 ] || fail "the refusal took $WITHIN_MS ms"
[ "$(host_state)" = "$before" ] || fail "the refusal changed the host: $(host_state)"
[ ! -e /run/gpu-hook/111.json ] || fail "a refusal left a journal"

mkdir -p /etc/gpu-hook
printf '[handoff]\nmodeset_hold = reload\n' > /etc/gpu-hook/gpu-hook.ini
loads=$(drm_loads)
hook 60 111 pre-start
[ $rc -eq 0 ] || fail "pre-start with modeset_hold = reload exited $rc"
expect_card1_handed
loaded nvidia_drm || fail "nvidia_drm was not loaded again"
loaded nvidia_modeset || fail "nvidia_modeset was not loaded again"
[ "$(drm_loads)" -gt "$loads" ] || fail "nvidia_drm was not reloaded"
[ "$(fb0_device)" = 0000:02:00.0 ] || fail "the console framebuffer is on $(fb0_device), not the other card"

expect_restores 60 111 post-stop
[ "$(fb0_device)" = "$fb_before" ] || fail "the console framebuffer is on $(fb0_device), was on $fb_before: card 1 has no modeset device"
echo "dual-modeset-old ok"
