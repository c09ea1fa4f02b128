# nvidia_drm without fbdev: the console stays on the firmware framebuffer, which
# here lives on another device (QEMU's std-vga), so the handoff leaves it alone.
# topology: single
# fbdev: 0
[ -e /gpu-hook-test-guest ] || { echo "a tests/vm guest scenario: it writes the kernel's /sys; run it with tests/vm/run-scenario" >&2; exit 2; }
. /lib.sh
grep -q 'EFI VGA' /proc/fb || fail "no firmware framebuffer: $(cat /proc/fb)"
[ "$(fbcon_bound)" = 1 ] || fail "fbcon not on the firmware framebuffer"
gpu-hook 111 pre-start --dry-run --json > /tmp/plan.json || fail "dry run refused"
tr -d ' \n' < /tmp/plan.json | grep -q '"console_on_card":false' || fail "console taken to be on the card"
tr -d ' \n' < /tmp/plan.json | grep -q 'vtcon-unbind' && fail "plans to detach a console that is not on the card"
before=$(host_state)
gpu-hook 111 pre-start || fail "pre-start failed"
[ "$(fbcon_bound)" = 1 ] || fail "the console was detached"
gpu-hook 111 post-stop || fail "post-stop failed"
[ "$(host_state)" = "$before" ] || fail "host not restored"
echo "firmware-fb ok"
