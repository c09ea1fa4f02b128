# Two VMs' pre-start at once on one GPU: one succeeds, the other refuses.
# topology: single
[ -e /gpu-hook-test-guest ] || { echo "a tests/vm guest scenario: it writes the kernel's /sys; run it with tests/vm/run-scenario" >&2; exit 2; }
. /lib.sh
echo "hostpci0: 01:00,pcie=1" > /etc/pve/qemu-server/112.conf
gpu-hook 111 pre-start > /tmp/a 2>&1 &
a=$!
gpu-hook 112 pre-start > /tmp/b 2>&1 &
b=$!
ra=0; rb=0
wait $a || ra=$?
wait $b || rb=$?
cat /tmp/a /tmp/b
echo "111: $ra, 112: $rb"
[ $((ra + rb)) -eq 1 ] || fail "expected exactly one success"
cat /tmp/a /tmp/b | grep -q 'is handed to VM 11[12] by gpu-hook' || fail "the loser did not name the owner"
expect_drv 0000:01:00.0 vfio-pci
echo "concurrent ok"
