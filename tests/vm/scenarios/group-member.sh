# A function without a driver in the card's IOMMU group: Proxmox binds the
# whole group to vfio-pci (SysFSTools.pm pci_dev_group_bind_to_vfio, with
# new_id), so pre-start takes it along and journals it, and post-stop leaves
# it unbound again with no id left in vfio-pci's table.
# topology: group-member
[ -e /gpu-hook-test-guest ] || { echo "a tests/vm guest scenario: it writes the kernel's /sys; run it with tests/vm/run-scenario" >&2; exit 2; }
. /lib.sh
m=0000:01:00.2
[ "$(group $m)" = "$(group 0000:01:00.0)" ] || fail "$m is not in the card's group"
expect_drv $m none
before=$(host_state)
gpu-hook 111 pre-start --dry-run | tee /tmp/plan
grep -q "$m added: it shares IOMMU group" /tmp/plan || fail "the plan does not take $m"
gpu-hook 111 pre-start || fail "pre-start failed"
expect_drv 0000:01:00.0 vfio-pci
expect_drv $m vfio-pci
grep -q "\"$m\"" /run/gpu-hook/111.json || fail "$m is not in the journal"
# What Proxmox's start adds for a member it binds itself: vfio-pci's dynamic id.
echo "1b36 0005" >/sys/bus/pci/drivers/vfio-pci/new_id 2>/dev/null || true
gpu-hook 111 post-stop || fail "post-stop failed"
expect_drv $m none
# No id left behind: a new probe leaves it unbound.
echo $m >/sys/bus/pci/drivers_probe 2>/dev/null || true
expect_drv $m none
after=$(host_state)
echo "before: $before"
echo "after:  $after"
[ "$after" = "$before" ] || fail "host not restored"
echo "group-member ok"
