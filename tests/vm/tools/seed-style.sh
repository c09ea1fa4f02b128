# The same handoff as a seed-style shell script does it (the way the scripts
# gpu-hook replaces work): fixed sleeps after each stage, retry loops around
# module removal, no checks, no journal, no rollback. Used only as the "shell"
# column of tests/bench/run's handoff figures, in the guest (busybox sh).
#   sh seed-style.sh in|out
[ -e /gpu-hook-test-guest ] || { echo "seed-style.sh: a tests/vm guest tool: it writes the kernel's /sys" >&2; exit 2; }
GPU=0000:01:00.0
AUDIO=0000:01:00.1
vtcon=
for v in /sys/class/vtconsole/vtcon*; do grep -q 'frame buffer' "$v/name" && vtcon=$v; done
retry() { n=0; until "$@" 2>/dev/null; do n=$((n + 1)); [ $n -ge 5 ] && return 1; sleep 1; done; }
case $1 in
in)
	echo 0 > "$vtcon/bind"
	sleep 1
	for m in nvidia_drm nvidia_modeset nvidia_uvm nvidia; do retry rmmod $m; done
	sleep 1
	echo vfio-pci > /sys/bus/pci/devices/$GPU/driver_override
	echo $GPU > /sys/bus/pci/drivers_probe
	sleep 1
	echo vfio-pci > /sys/bus/pci/devices/$AUDIO/driver_override
	echo $AUDIO > /sys/bus/pci/drivers/snd_hda_intel/unbind
	sleep 1
	echo $AUDIO > /sys/bus/pci/drivers_probe
	sleep 1
	;;
out)
	echo nvidia > /sys/bus/pci/devices/$GPU/driver_override
	echo $GPU > /sys/bus/pci/drivers/vfio-pci/unbind
	echo snd_hda_intel > /sys/bus/pci/devices/$AUDIO/driver_override
	echo $AUDIO > /sys/bus/pci/drivers/vfio-pci/unbind
	sleep 1
	echo $AUDIO > /sys/bus/pci/drivers_probe
	for m in nvidia nvidia_uvm nvidia_modeset nvidia_drm; do retry modprobe $m; done
	sleep 2
	echo > /sys/bus/pci/devices/$GPU/driver_override
	echo > /sys/bus/pci/devices/$AUDIO/driver_override
	echo 1 > "$vtcon/bind"
	sleep 1
	;;
esac
