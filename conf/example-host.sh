#!/usr/bin/env bash
# Builds conf/example-host: a captured one-GPU Proxmox host (pve1) for the
# README demo and the command-line tests. The tree is committed; rerun this
# after changing it: conf/example-host.sh [DIR]
set -euo pipefail
root=${1:-$(dirname "$0")/example-host}
rm -rf "$root"
mkdir -p "$root"
cd "$root"

file() { mkdir -p "$(dirname ".$1")"; printf '%b' "$2" > ".$1"; }
link() { mkdir -p "$(dirname ".$1")"; ln -sfn "$2" ".$1"; }

driver() { # driver module-or-empty
	mkdir -p "./sys/bus/pci/drivers/$1"
	if [ -n "$2" ]; then
		link "/sys/bus/pci/drivers/$1/module" "../../../../module/$2"
		mkdir -p "./sys/module/$2"
	fi
}

pci() { # addr vendor device class driver group [sub_vendor sub_device]
	local a=$1 dev=/sys/devices/pci0000:00/$1
	file "$dev/vendor" "0x$2\n"
	file "$dev/device" "0x$3\n"
	file "$dev/class" "0x$4\n"
	file "$dev/subsystem_vendor" "0x${7:-$2}\n"
	file "$dev/subsystem_device" "0x${8:-$3}\n"
	file "$dev/driver_override" "(null)\n"
	file "$dev/power_state" "D0\n"
	case $4 in 03*) file "$dev/boot_vga" "0\n" ;; esac
	link "/sys/bus/pci/devices/$a" "../../../devices/pci0000:00/$a"
	link "$dev/iommu_group" "../../../kernel/iommu_groups/$6"
	link "/sys/kernel/iommu_groups/$6/devices/$a" "../../../../devices/pci0000:00/$a"
	link "$dev/driver" "../../../bus/pci/drivers/$5"
	link "/sys/bus/pci/drivers/$5/$a" "../../../../devices/pci0000:00/$a"
}

module() { # name refcnt holders...
	local m=$1 rc=$2
	shift 2
	file "/sys/module/$m/initstate" "live\n"
	file "/sys/module/$m/refcnt" "$rc\n"
	mkdir -p "./sys/module/$m/holders"
	for h in "$@"; do link "/sys/module/$m/holders/$h" "../../$h"; done
}

# Device nodes are links to real character devices of whatever machine reads
# the tree (/dev/zero is 1:5 everywhere), so that stat() of a node and of a
# process's fd link gives a real device number: gpu-hook matches holders by
# that identity, never by a path's text.
node() { # path real-device
	link "$1" "$2"
}

sysdev() { # addr rel maj:min devname: a device the kernel registered under a PCI function
	local d=/sys/devices/pci0000:00/$1/$2
	file "$d/dev" "$3\n"
	file "$d/uevent" "MAJOR=${3%%:*}\nMINOR=${3#*:}\nDEVNAME=$4\n"
}

proc() { # pid comm cgroup cmdline...
	local pid=$1 comm=$2 cg=$3
	shift 3
	file "/proc/$pid/comm" "$comm\n"
	# session = pid; start time (field 22, clock ticks after boot) 50000 + pid
	file "/proc/$pid/stat" "$pid ($comm) S 1 $pid $pid 0 -1 4194560 100 0 0 0 1 2 0 0 20 0 1 0 $((50000 + pid)) 12345678 100\n"
	file "/proc/$pid/cgroup" "0::$cg\n"
	file "/proc/$pid/maps" ""
	# A process of its own, not a kernel thread: proc_exe_link names its executable.
	link "/proc/$pid/exe" "/usr/bin/$comm"
	mkdir -p "./proc/$pid/fd"
	printf '%s\0' "$@" > "./proc/$pid/cmdline"
}

file /etc/hostname "pve1\n"

driver pcieport ""
driver nvidia nvidia
driver snd_hda_intel snd_hda_intel
driver vfio-pci vfio_pci
driver ahci ahci
driver igc igc
driver xhci_hcd ""

pci 0000:00:01.0 8086 a70d 060400 pcieport 2
pci 0000:00:14.0 8086 7a60 0c0330 xhci_hcd 3
pci 0000:00:17.0 8086 7a62 010601 ahci 5
pci 0000:03:00.0 8086 125c 020000 igc 16
pci 0000:01:00.0 10de 2684 030000 nvidia 14 1043 889c
pci 0000:01:00.1 10de 22ba 040300 snd_hda_intel 14 1043 889c
file /sys/devices/pci0000:00/0000:01:00.0/boot_vga "1\n"
sysdev 0000:01:00.0 drm/card0 5:0 dri/card0
sysdev 0000:01:00.0 drm/renderD128 5:2 dri/renderD128
sysdev 0000:01:00.1 sound/card0/controlC0 1:9 snd/controlC0
mkdir -p ./sys/devices/pci0000:00/0000:01:00.0/graphics/fb0
node /dev/nvidia0 /dev/zero
node /dev/nvidiactl /dev/full
node /dev/dri/card0 /dev/tty
node /dev/dri/renderD128 /dev/ptmx
node /dev/snd/controlC0 /dev/urandom
link /sys/devices/pci0000:00/0000:01:00.0/graphics/fb0/device "../../../0000:01:00.0"
link /sys/class/graphics/fb0 "../../devices/pci0000:00/0000:01:00.0/graphics/fb0"
file /proc/fb "0 nvidia-drmdrmfb\n"
file /sys/class/vtconsole/vtcon0/name "(S) dummy device\n"
file /sys/class/vtconsole/vtcon0/bind "0\n"
file /sys/class/vtconsole/vtcon1/name "(M) frame buffer device\n"
file /sys/class/vtconsole/vtcon1/bind "1\n"

module nvidia 2 nvidia_modeset nvidia_uvm
module nvidia_modeset 1 nvidia_drm
module nvidia_drm 0
module nvidia_uvm 0
module snd_hda_intel 0
module vfio 2 vfio_pci_core vfio_iommu_type1
module vfio_pci_core 1 vfio_pci
module vfio_pci 0
module vfio_iommu_type1 0
module ahci 0
module igc 0

file /proc/driver/nvidia/gpus/0000:01:00.0/information \
	"Model: \t\t NVIDIA GeForce RTX 4090\nIRQ:   \t\t 180\nGPU UUID: \t GPU-6c1e2b7a-0d1f-4e1c-9a3b-7f2e1d0c9b8a\nVideo BIOS: \t 95.02.18.80.5f\nBus Type: \t PCIe\nDMA Size: \t 47 bits\nDMA Mask: \t 0x7fffffffffff\nBus Location: \t 0000:01:00.0\nDevice Minor: \t 0\nGPU Excluded:\t No\n"

proc 1 systemd /init.scope /sbin/init
proc 900 nvidia-persiste /system.slice/nvidia-persistenced.service /usr/bin/nvidia-persistenced --user nvpd
link /proc/900/fd/0 /dev/null
link /proc/900/fd/3 /dev/full # /dev/nvidiactl
link /proc/900/fd/4 /dev/zero # /dev/nvidia0
proc 1200 pvedaemon /system.slice/pvedaemon.service "pvedaemon worker"
link /proc/1200/fd/0 /dev/null
link /proc/1200/fd/6 "socket:[123456]"
proc 1500 sshd /system.slice/ssh.service "sshd: /usr/sbin/sshd -D [listener] 0 of 10-100 startups"
link /proc/1500/fd/3 "socket:[123470]"
file /sys/fs/cgroup/system.slice/nvidia-persistenced.service/cgroup.procs "900\n"
file /sys/fs/cgroup/system.slice/pvedaemon.service/cgroup.procs "1200\n"
file /sys/fs/cgroup/system.slice/ssh.service/cgroup.procs "1500\n"
file /lib/systemd/system/nvidia-persistenced.service "[Unit]\nDescription=NVIDIA Persistence Daemon\nWants=syslog.target\n\n[Service]\nType=forking\nExecStart=/usr/bin/nvidia-persistenced --user nvpd\nExecStopPost=/bin/rm -rf /var/run/nvidia-persistenced\n\n[Install]\nWantedBy=multi-user.target\n"

file /etc/pve/qemu-server/111.conf "#Windows 11 gaming VM%3A the RTX 4090 goes to the guest
agent: 1
affinity: 4-11
balloon: 0
bios: ovmf
boot: order=scsi0;net0
cores: 8
cpu: host
efidisk0: local-lvm:vm-111-disk-0,efitype=4m,pre-enrolled-keys=1,size=4M
hookscript: local:snippets/gpu-hook
hostpci0: 0000:01:00,pcie=1,x-vga=1
machine: pc-q35-9.0
memory: 32768
meta: creation-qemu=9.0.2,ctime=1729000000
name: win11-gaming
net0: virtio=BC:24:11:5E:0A:11,bridge=vmbr0,firewall=1
numa: 0
ostype: win11
parent: before-driver-update
scsi0: local-lvm:vm-111-disk-1,discard=on,iothread=1,size=256G,ssd=1
scsihw: virtio-scsi-single
smbios1: uuid=5b1e3c9a-8d2f-4a6b-9c0e-1f2a3b4c5d6e
sockets: 1
tpmstate0: local-lvm:vm-111-disk-2,size=4M,version=v2.0
vga: none
vmgenid: 7d3c2b1a-0f9e-4d8c-b7a6-5e4d3c2b1a0f

[before-driver-update]
bios: ovmf
cores: 8
hostpci0: 0000:01:00,pcie=1
machine: pc-q35-8.1
memory: 32768
name: win11-gaming
ostype: win11
scsi0: local-lvm:vm-111-disk-1,discard=on,iothread=1,size=256G,ssd=1
snaptime: 1760000000
"
file /etc/pve/qemu-server/112.conf "boot: order=scsi0
cores: 16
hookscript: local:snippets/gpu-hook
hostpci0: mapping=gpu-4090,pcie=1
machine: q35
memory: 65536
name: llm-inference
ostype: l26
scsi0: local-lvm:vm-112-disk-0,iothread=1,size=512G
sockets: 1
"
file /etc/pve/mapping/pci.cfg "gpu-4090
\tdescription RTX 4090 (whole card: VGA and HDMI audio)
\tmap id=10de:2684,iommugroup=14,node=pve1,path=0000:01:00,subsystem-id=1043:889c
\tmap id=10de:2684,iommugroup=22,node=pve2,path=0000:41:00,subsystem-id=1043:889c
"
file /etc/pve/storage.cfg "dir: local
\tpath /var/lib/vz
\tcontent iso,vztmpl,backup,snippets

lvmthin: local-lvm
\tthinpool data
\tvgname pve
\tcontent rootdir,images
"
file /etc/gpu-hook/111.ini "; /etc/gpu-hook/111.ini: policy for VM 111 (win11-gaming), over the defaults.
; Every key is explained in conf/gpu-hook.ini.example. chmod 644, owned by root.

[handoff]
; Headless host: nvidia-persistenced holds the card; display-manager.service
; is listed for when a desktop is installed (an inactive unit is left alone).
services = nvidia-persistenced.service display-manager.service
; Anything else holding the card refuses the start and is named.
holders = refuse
; The console is on this card (nvidia-drm fbdev): detach it, reattach after.
console = auto
timeout = 10s

[pinning]
; vCPU i on CPU 4+i (affinity: 4-11 in 111.conf); QEMU's other threads on 0-3.
vcpus = 4-11
others = 0-3
"
chmod 0644 ./etc/gpu-hook/111.ini
file /etc/modprobe.d/blacklist-nouveau.conf "blacklist nouveau\noptions nouveau modeset=0\n"
file /etc/modprobe.d/nvidia-drm.conf "options nvidia-drm modeset=1 fbdev=1\n"
file /proc/cmdline "BOOT_IMAGE=/boot/vmlinuz-6.8.12-4-pve root=/dev/mapper/pve-root ro quiet intel_iommu=on iommu=pt\n"
file /proc/sys/kernel/osrelease "6.8.12-4-pve\n"
file /sys/module/nvidia_drm/parameters/modeset "Y\n"
file /sys/module/nvidia_drm/parameters/fbdev "Y\n"
# Where 'gpu-hook install 111' put the hookscript (a stand-in: the tree holds no binaries).
file /var/lib/vz/snippets/gpu-hook "#!/bin/sh\nexec /usr/sbin/gpu-hook \"\$@\"\n"
chmod 0755 ./var/lib/vz/snippets/gpu-hook
for d in run var/run/qemu-server dev; do mkdir -p "./$d"; : > "./$d/.keep"; done
