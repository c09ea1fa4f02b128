# A dry run on a two-GPU host unbinds just that card and keeps the modules.
# topology: dual
[ -e /gpu-hook-test-guest ] || { echo "a tests/vm guest scenario: it writes the kernel's /sys; run it with tests/vm/run-scenario" >&2; exit 2; }
. /lib.sh
gpu-hook 111 pre-start --dry-run --json > /tmp/plan.json || fail "dry run refused: $(cat /tmp/plan.json)"
cat /tmp/plan.json
tr -d ' \n' < /tmp/plan.json | grep -q '"action":"unbind","target":"0000:01:00.0","arg":"nvidia"' || fail "no unbind of the card"
tr -d ' \n' < /tmp/plan.json | grep -q '"action":"module-unload"' && fail "plans a module unload on a two-GPU host"
echo "dryrun-dual ok"
