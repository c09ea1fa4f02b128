# The stub NVIDIA stack behaves like the real one where gpu-hook depends on it.
# topology: single
[ -e /gpu-hook-test-guest ] || { echo "a tests/vm guest scenario: it writes the kernel's /sys; run it with tests/vm/run-scenario" >&2; exit 2; }
fail() { echo "FAIL: $*"; exit 1; }
[ "$(readlink /sys/bus/pci/devices/0000:01:00.0/driver | sed 's|.*/||')" = nvidia ] || fail "GPU not on nvidia"
[ "$(readlink /sys/bus/pci/devices/0000:01:00.1/driver | sed 's|.*/||')" = snd_hda_intel ] || fail "audio not on snd_hda_intel"
[ -c /dev/nvidia0 ] && [ -c /dev/nvidiactl ] && [ -c /dev/nvidia-modeset ] && [ -c /dev/nvidia-uvm ] || fail "device nodes"
grep -q 'Device Minor:[[:space:]]*0' /proc/driver/nvidia/gpus/0000:01:00.0/information || fail "no Device Minor line"
for p in remove_delay_ms fail_probe; do
	[ -w /sys/module/nvidia/parameters/$p ] || fail "$p not writable"
done
grep -q nvidia-drmdrmfb /proc/fb || fail "no nvidia-drmdrmfb in /proc/fb: $(cat /proc/fb)"
[ "$(readlink /sys/class/graphics/fb0/device | sed 's|.*/||')" = 0000:01:00.0 ] || fail "fb0 is not on the GPU"
fbcon=""
for v in /sys/class/vtconsole/vtcon*; do grep -q 'frame buffer' "$v/name" && fbcon=$v; done
[ -n "$fbcon" ] && [ "$(cat "$fbcon/bind")" = 1 ] || fail "fbcon not bound"
ls /sys/kernel/iommu_groups/*/devices/ | grep -q 0000:01:00.0 || fail "no IOMMU group"
sleep 1000 < /dev/nvidia0 &
holder=$!
sleep 0.2
if rmmod nvidia_uvm && rmmod nvidia_drm && rmmod nvidia_modeset && rmmod nvidia 2>/tmp/err; then fail "nvidia unloaded while /dev/nvidia0 was open"; fi
grep -q 'Resource temporarily unavailable\|in use' /tmp/err || fail "unexpected rmmod error: $(cat /tmp/err)"
kill $holder
wait $holder 2>/dev/null || true
# The driver version, in the real file's format, from the nv_version knob (default 580.105.08).
grep -q '^NVRM version: NVIDIA UNIX Open Kernel Module for x86_64  580\.105\.08  Release Build' /proc/driver/nvidia/version \
	|| fail "no version line: $(cat /proc/driver/nvidia/version)"
# The usage count (nv_pci_remove): an open /dev/nvidia0 makes remove() wait, in D state,
# logging, until it is closed (nvidia_drm, which would hold its own, was unloaded above).
sleep 1000 < /dev/nvidia0 &
holder=$!
sleep 0.2
echo 0000:01:00.0 > /sys/bus/pci/drivers/nvidia/unbind &
unbind=$!
sleep 2
[ "$(sed -n 's/^State:[[:space:]]*\([A-Z]\).*/\1/p' /proc/$unbind/status)" = D ] || fail "remove() did not wait for the open /dev/nvidia0"
dmesg | grep -q 'NVRM: Attempting to remove device 0000:01:00.0 with non-zero usage count!' || fail "no usage-count message: $(dmesg | tail -n 3)"
kill $holder
wait $unbind || fail "the unbind failed once the node was closed"
[ "$(readlink /sys/bus/pci/devices/0000:01:00.0/driver)" = "" ] || fail "still bound after remove()"
echo 0000:01:00.0 > /sys/bus/pci/drivers/nvidia/bind || fail "cannot bind the GPU again"
[ -c /dev/nvidia0 ] || fail "no /dev/nvidia0 after the bind"
# An mmap keeps the count after its fd is closed, until the process exits.
map-hold /dev/nvidia0 > /tmp/map.out 2>&1 &
mapper=$!
i=0; while ! grep -q mapped /tmp/map.out && [ $i -lt 50 ]; do usleep 100000; i=$((i + 1)); done
grep -q mapped /tmp/map.out || fail "map-hold: $(cat /tmp/map.out)"
ls -l /proc/$mapper/fd | grep -q nvidia0 && fail "map-hold still has an fd"
echo 0000:01:00.0 > /sys/bus/pci/drivers/nvidia/unbind &
unbind=$!
sleep 2
[ "$(sed -n 's/^State:[[:space:]]*\([A-Z]\).*/\1/p' /proc/$unbind/status)" = D ] || fail "remove() did not wait for the mapping"
kill $mapper
wait $unbind || fail "the unbind failed once the mapping was gone"
echo 0000:01:00.0 > /sys/bus/pci/drivers/nvidia/bind || fail "cannot bind the GPU again"
echo "stubs ok"
# A static gpu-hook runs with no shared library in the guest at all.
if [ -e /etc/gpu-hook-binary ]; then
	libs=$(find / -xdev -name 'lib*.so*' 2>/dev/null | grep -v '^/lib/modules' | wc -l)
	[ "$libs" -eq 0 ] || fail "a static gpu-hook but $libs shared libraries in the guest"
	gpu-hook --version || fail "the static binary does not run"
	echo "static binary ok, no shared libraries"
fi
