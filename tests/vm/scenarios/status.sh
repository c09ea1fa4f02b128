# gpu-hook status --json reports each function's driver, override and IOMMU group as sysfs has them.
# topology: single
[ -e /gpu-hook-test-guest ] || { echo "a tests/vm guest scenario: it writes the kernel's /sys; run it with tests/vm/run-scenario" >&2; exit 2; }
. /lib.sh
echo vfio-pci > /sys/bus/pci/devices/0000:01:00.1/driver_override
gpu-hook status --json > /tmp/status.json || fail "status failed"
cat /tmp/status.json
for a in 0000:01:00.0 0000:01:00.1; do
	# One device object per address: the lines from its address to the next "}".
	obj=$(sed -n "/\"address\":\"$a\"/,/}/p; /\"address\": \"$a\"/,/}/p" /tmp/status.json | tr -d ' \n')
	[ -n "$obj" ] || fail "$a missing from status"
	echo "$obj" | grep -q "\"driver\":\"$(drv $a)\"" || fail "$a: driver is not $(drv $a): $obj"
	echo "$obj" | grep -q "\"iommu_group\":$(group $a)" || fail "$a: group is not $(group $a): $obj"
done
obj=$(sed -n '/"address": *"0000:01:00.1"/,/}/p' /tmp/status.json | tr -d ' \n')
echo "$obj" | grep -q '"override":"vfio-pci"' || fail "override not reported: $obj"
obj=$(sed -n '/"address": *"0000:01:00.0"/,/}/p' /tmp/status.json | tr -d ' \n')
echo "$obj" | grep -q '"override":null' || fail "empty override not null: $obj"
echo "status ok"
