# A mapping pool picks the card Proxmox picks (qemu-server PCI.pm
# choose_hostpci_devices): two identical cards in one mapping on this node;
# the first VM gets the first card, the second VM the second (the first is
# held through the first VM's journal), and a third VM is refused with
# Proxmox's own words. Each VM gives back only its own card.
# topology: dual
# timeout: 240
[ -e /gpu-hook-test-guest ] || { echo "a tests/vm guest scenario: it writes the kernel's /sys; run it with tests/vm/run-scenario" >&2; exit 2; }
. /lib.sh
mkdir -p /etc/pve/mapping
cat >/etc/pve/mapping/pci.cfg <<CFG
pool
	map id=1234:11e8,node=pve1,path=0000:01:00
	map id=1234:11e8,node=pve1,path=0000:02:00
CFG
chmod 644 /etc/pve/mapping/pci.cfg
for vm in 111 112 113; do echo "hostpci0: mapping=pool,pcie=1" >/etc/pve/qemu-server/$vm.conf; done
before=$(host_state)
echo "before: $before"

gpu-hook 111 pre-start >/tmp/111 2>&1 || { cat /tmp/111; fail "VM 111 pre-start failed"; }
expect_drv 0000:01:00.0 vfio-pci
expect_drv 0000:02:00.0 nvidia
gpu-hook 112 pre-start --dry-run >/tmp/112dry 2>&1 || { cat /tmp/112dry; fail "VM 112 dry run refused"; }
grep -q '0000:02:00.0' /tmp/112dry || fail "VM 112's plan does not take the second card: $(cat /tmp/112dry)"
gpu-hook 112 pre-start >/tmp/112 2>&1 || { cat /tmp/112; fail "VM 112 pre-start failed"; }
expect_drv 0000:01:00.0 vfio-pci
expect_drv 0000:02:00.0 vfio-pci
expect_drv 0000:02:00.1 vfio-pci

set +e
gpu-hook 113 pre-start >/tmp/113 2>&1
rc=$?
set -e
cat /tmp/113
[ $rc = 1 ] || fail "VM 113 pre-start exited $rc, expected 1"
grep -q "could not find a free device for 'hostpci0'" /tmp/113 || fail "VM 113 not refused in Proxmox's words"
[ ! -e /run/gpu-hook/113.json ] || fail "VM 113 left a journal"

# Each VM gives back its own card.
gpu-hook 111 post-stop >/tmp/111ps 2>&1 || { cat /tmp/111ps; fail "VM 111 post-stop failed"; }
expect_drv 0000:01:00.0 nvidia
expect_drv 0000:02:00.0 vfio-pci
gpu-hook 112 post-stop >/tmp/112ps 2>&1 || { cat /tmp/112ps; fail "VM 112 post-stop failed"; }
after=$(host_state)
echo "after:  $after"
[ "$after" = "$before" ] || fail "host not restored"
echo "pool-dual ok"
