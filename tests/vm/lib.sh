# Helpers for scenarios, sourced as /lib.sh inside the guest (busybox sh).
fail() { echo "FAIL: $*"; exit 1; }
drv() { d=$(readlink "/sys/bus/pci/devices/$1/driver" 2>/dev/null) && echo "${d##*/}" || echo none; }
expect_drv() { [ "$(drv "$1")" = "$2" ] || fail "$1 is on $(drv "$1"), expected $2"; }
group() { g=$(readlink "/sys/bus/pci/devices/$1/iommu_group"); echo "${g##*/}"; }
override() { cat "/sys/bus/pci/devices/$1/driver_override"; }
loaded() { [ -d "/sys/module/$1" ] && [ -e "/sys/module/$1/initstate" ]; }
fbcon_bound() {
	for v in /sys/class/vtconsole/vtcon*; do
		grep -q 'frame buffer' "$v/name" && cat "$v/bind" && return 0
	done
	echo none
}
# The host as a line, to compare before and after: a journal left behind counts too.
host_state() {
	for a in /sys/bus/pci/devices/0000:0[12]:00.*; do
		a=${a##*/}
		printf '%s=%s(%s) ' "$a" "$(drv "$a")" "$(override "$a")"
	done
	for m in nvidia nvidia_modeset nvidia_drm nvidia_uvm; do loaded $m && printf '%s ' $m; done
	printf 'fbcon=%s fb=%s journals=%s\n' "$(fbcon_bound)" "$(cut -d' ' -f2 /proc/fb | tr '\n' ,)" \
		"$(ls /run/gpu-hook 2>/dev/null | grep '\.json$' | tr '\n' ,)"
}
# A picture of the guest's screen, taken by the host through QEMU's monitor
# (tests/vm/screens); it is kept under build/vm-screens/<scenario>/NAME.png.
screendump() { echo "GH-SCREENDUMP $1"; sleep 3; }
# After the run the host checks picture NAME: "text" (console text drawn) or "flat".
screencheck() { echo "GH-SCREENCHECK $1 $2"; }
