# Two GPUs, nvidia_drm modeset=1, and the first driver with per-GPU removal
# (580.94.06): nv_pci_remove asks nvidia-modeset to let go of that GPU first,
# so one card leaves nvidia while nvidia_drm stays loaded.
# Proves: pre-start hands card 1 over without reloading nvidia_drm (no new
# "Loading driver" in the kernel log), the other card keeps nvidia, and
# post-stop restores the host; each call answers within its bound.
# Needs gpu-hook: modeset_hold (CONTRACT.md) must not refuse or reload on a
# driver that removes per GPU (version 580.94.06+, except 580.95.05).
# topology: dual
# modparams: nvidia nv_version=580.94.06
# timeout: 120
[ -e /gpu-hook-test-guest ] || { echo "a tests/vm guest scenario: it writes the kernel's /sys; run it with tests/vm/run-scenario" >&2; exit 2; }
. /lib.sh
grep -q ' 580\.94\.06 ' /proc/driver/nvidia/version || fail "the stub does not show 580.94.06"
before=$(host_state)
echo "before: $before"
loads=$(drm_loads)
hook 30 111 pre-start
[ $rc -eq 0 ] || fail "pre-start exited $rc"
expect_card1_handed
loaded nvidia_drm || fail "nvidia_drm was unloaded"
[ "$(drm_loads)" -eq "$loads" ] || fail "nvidia_drm was reloaded although the driver removes per GPU"
expect_restores 30 111 post-stop
echo "dual-modeset-new ok"
