# A Proxmox user renames VM 111 to 140 characters, sets cores: 5000 and adds a
# hostpci option this version does not know while the VM runs: pre-stop and
# post-stop work from the journal, never the config, and give the host back.
# At pre-start the name and cores only warn; the hostpci option, which
# pre-start reads, refuses the start naming the line.
# topology: single
[ -e /gpu-hook-test-guest ] || { echo "a tests/vm guest scenario: it writes the kernel's /sys; run it with tests/vm/run-scenario" >&2; exit 2; }
. /lib.sh
before=$(host_state)
echo "before: $before"
gpu-hook 111 pre-start || fail "pre-start failed"
expect_drv 0000:01:00.0 vfio-pci
expect_drv 0000:01:00.1 vfio-pci
name=
while [ ${#name} -lt 140 ]; do name="${name}abcdefghij"; done
printf 'cores: 5000\nhostpci0: 01:00,pcie=1,frobnicate=1\nname: %s\nsockets: 1\n' "$name" \
	>/etc/pve/qemu-server/111.conf
gpu-hook 111 pre-stop >/tmp/out 2>&1 || { cat /tmp/out; fail "pre-stop failed"; }
gpu-hook 111 post-stop >/tmp/out 2>&1 || { cat /tmp/out; fail "post-stop failed"; }
cat /tmp/out
if grep -q '111\.conf' /tmp/out; then fail "post-stop read the VM config"; fi
after=$(host_state)
echo "after:  $after"
[ "$after" = "$before" ] || fail "host not restored"

if gpu-hook 111 pre-start >/tmp/out 2>&1; then cat /tmp/out; fail "pre-start took an unknown hostpci option"; fi
grep -q "111.conf:2: hostpci0: unknown property 'frobnicate'" /tmp/out || { cat /tmp/out; fail "no file:line"; }
[ "$(host_state)" = "$before" ] || fail "a refused pre-start changed the host"
sed -i 's/,frobnicate=1//' /etc/pve/qemu-server/111.conf
gpu-hook 111 pre-start >/tmp/out 2>&1 || { cat /tmp/out; fail "pre-start failed on fields it does not read"; }
grep -q 'warning: /etc/pve/qemu-server/111.conf:3: name: value longer than 127 bytes' /tmp/out ||
	{ cat /tmp/out; fail "no warning about the name"; }
grep -q 'warning: /etc/pve/qemu-server/111.conf:1: cores:' /tmp/out || { cat /tmp/out; fail "no warning about cores"; }
expect_drv 0000:01:00.0 vfio-pci
gpu-hook 111 post-stop || fail "second post-stop failed"
[ "$(host_state)" = "$before" ] || fail "host not restored the second time"
echo "rename-while-running ok"
