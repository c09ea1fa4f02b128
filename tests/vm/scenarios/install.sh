# install on the running system: qm really runs (the real ops, never the simulator's
# record), the copy is the running binary, and a directory others can write
# on the way to the snippets directory is refused, by install and by check.
# topology: single
[ -e /gpu-hook-test-guest ] || { echo "a tests/vm guest scenario: it writes the kernel's /sys; run it with tests/vm/run-scenario" >&2; exit 2; }
. /lib.sh
mkdir -p /var/lib/vz /etc/pve
printf 'dir: local\n\tpath /var/lib/vz\n\tcontent snippets\n' > /etc/pve/storage.cfg
printf '#!/bin/sh\necho "$@" >> /tmp/qm.log\n' > /usr/sbin/qm
chmod 755 /usr/sbin/qm / /var /var/lib /var/lib/vz
gpu-hook install 111 2>/tmp/err || fail "install: $(cat /tmp/err)"
[ "$(cat /tmp/qm.log)" = "set 111 --hookscript local:snippets/gpu-hook" ] || fail "qm ran with: $(cat /tmp/qm.log)"
cmp /usr/sbin/gpu-hook /var/lib/vz/snippets/gpu-hook || fail "the copy is not the running binary"
[ ! -e /run/gpu-hook/executed ] || fail "qm recorded instead of run on the running system"
echo "hookscript: local:snippets/gpu-hook" >> /etc/pve/qemu-server/111.conf
gpu-hook check 111 > /tmp/out || true
grep hookscript /tmp/out && fail "check flags a sound hookscript"
chmod 1777 /var/lib
gpu-hook install 111 2>/tmp/err && fail "installed below a world-writable /var/lib"
grep -q "/var/lib is writable by others (owner uid 0, mode 1777)" /tmp/err || fail "refusal: $(cat /tmp/err)"
gpu-hook check 111 > /tmp/out || true
grep -q "hookscript directory: /var/lib is writable by others" /tmp/out || fail "check: $(cat /tmp/out)"
chmod 755 /var/lib
[ "$(wc -l < /tmp/qm.log)" = 1 ] || fail "qm ran for a refused install: $(cat /tmp/qm.log)"
echo "install ok"
