# A dry run on a one-GPU host plans the stack unload and changes nothing.
# topology: single
[ -e /gpu-hook-test-guest ] || { echo "a tests/vm guest scenario: it writes the kernel's /sys; run it with tests/vm/run-scenario" >&2; exit 2; }
. /lib.sh
before=$(host_state)
gpu-hook 111 pre-start --dry-run --json > /tmp/plan.json || fail "dry run refused: $(cat /tmp/plan.json)"
cat /tmp/plan.json
for m in nvidia_drm nvidia_modeset nvidia_uvm nvidia; do
	tr -d ' \n' < /tmp/plan.json | grep -q "\"action\":\"module-unload\",\"target\":\"$m\"" || fail "no unload of $m"
done
tr -d ' \n' < /tmp/plan.json | grep -q '"action":"vtcon-unbind"' || fail "console not detected on the card"
tr -d ' \n' < /tmp/plan.json | grep -q '"action":"unbind","target":"0000:01:00.0","arg":"nvidia"' && fail "unbinds the GPU although the stack goes"
[ "$(host_state)" = "$before" ] || fail "the dry run changed the host"
[ ! -e /run/gpu-hook/111.json ] || fail "the dry run wrote a journal"
echo "dryrun-single ok"
