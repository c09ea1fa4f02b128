# A group that holds a device of another driver is refused, and nothing changes.
# topology: foreign-sibling
[ -e /gpu-hook-test-guest ] || { echo "a tests/vm guest scenario: it writes the kernel's /sys; run it with tests/vm/run-scenario" >&2; exit 2; }
. /lib.sh
ls /sys/kernel/iommu_groups/"$(group 0000:01:00.0)"/devices
before=$(host_state)
if gpu-hook 111 pre-start --dry-run > /tmp/out 2>&1; then fail "dry run accepted a non-viable group"; fi
cat /tmp/out
grep -q 'not viable' /tmp/out || fail "no 'not viable' refusal"
if gpu-hook 111 pre-start > /tmp/out 2>&1; then fail "pre-start accepted a non-viable group"; fi
grep -q 'refusing: IOMMU group' /tmp/out || fail "pre-start did not say why"
[ "$(host_state)" = "$before" ] || fail "the refusal changed the host"
echo "foreign-sibling ok"
