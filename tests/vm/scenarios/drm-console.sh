# A real DRM card owns the host's console: QEMU's bochs-display at 01:00.0 is
# the only display device, so OVMF's GOP framebuffer (efifb at boot) lives on
# it and the in-kernel bochs driver takes it over through the aperture
# helpers, fbcon moving onto its fbdev, as nvidia-drm fbdev=1 does on a
# one-GPU host. /dev/dri/card0 is a real DRM node (bochs has no render node).
# The proof is on screen: the host takes QEMU screendumps before, while the
# card is away, and after; the last must show console text again, drawn since
# the card came back (a card nobody drives shows its last frame meanwhile).
# topology: drm
# timeout: 240
[ -e /gpu-hook-test-guest ] || { echo "a tests/vm guest scenario: it writes the kernel's /sys; run it with tests/vm/run-scenario" >&2; exit 2; }
. /lib.sh
expect_drv 0000:01:00.0 bochs-drm
[ "$(fbcon_bound)" = 1 ] || fail "fbcon is not on the card at boot"
grep -q drmfb /proc/fb || fail "no DRM fbdev in /proc/fb: $(cat /proc/fb)"
[ -c /dev/dri/card0 ] || fail "no DRM node: $(ls /dev/dri)"
printf '\033[2J\033[H' >/dev/tty1
for i in 1 2 3 4 5 6 7 8 9 10 11 12; do
	echo "gpu-hook drm-console: line $i of the host console on the passed card" >/dev/tty1
done
before=$(host_state)
echo "before: $before"
screendump before
screencheck before text

# A compositor stand-in holding the card's DRM node: refused before any write, its pid named.
sleep 600 </dev/dri/card0 &
holder=$!
sleep 0.2
set +e
gpu-hook 111 pre-start >/tmp/out 2>&1
rc=$?
set -e
cat /tmp/out
[ $rc = 1 ] || fail "pre-start with /dev/dri/card0 held exited $rc, expected 1"
grep -q "pid $holder" /tmp/out || fail "the refusal does not name pid $holder"
[ "$(host_state)" = "$before" ] || fail "a refused pre-start changed the host"
kill "$holder"; wait "$holder" 2>/dev/null || true

gpu-hook 111 pre-start || fail "pre-start failed"
expect_drv 0000:01:00.0 vfio-pci
expect_drv 0000:01:00.1 vfio-pci
[ "$(fbcon_bound)" != 1 ] || fail "fbcon still bound while the card is away"
screendump away
gpu-hook 111 post-stop || fail "post-stop failed"
expect_drv 0000:01:00.0 bochs-drm
expect_drv 0000:01:00.1 snd_hda_intel
[ "$(fbcon_bound)" = 1 ] || fail "fbcon did not come back on the card"
[ -c /dev/dri/card0 ] || fail "no /dev/dri/card0 after the return: $(ls /dev/dri)"
echo "gpu-hook drm-console: the host console is back" >/dev/tty1
screendump after
screencheck after text
screencheck after new away
after=$(host_state)
echo "after:  $after"
[ "$after" = "$before" ] || fail "host not restored"
echo "drm-console ok"
