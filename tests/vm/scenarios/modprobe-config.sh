# What modprobe.d asks of a module load on the way back, besides options
# (probe-fail.sh and the fault matrix have those): a softdep is honoured (the
# module named "pre:" loads first, as modprobe loads it), and an install
# command is refused without running it: gpu-hook runs no shell commands.
# topology: single
[ -e /gpu-hook-test-guest ] || { echo "a tests/vm guest scenario: it writes the kernel's /sys; run it with tests/vm/run-scenario" >&2; exit 2; }
. /lib.sh
before=$(host_state)
mkdir -p /etc/modprobe.d
# /proc/modules lists the newest module first.
newer() { awk -v a="$1" -v b="$2" '$1 == a { print "yes"; exit } $1 == b { print "no"; exit }' /proc/modules; }
gpu-hook 111 pre-start > /tmp/out 2>&1 || { cat /tmp/out; fail "pre-start failed"; }
# The way back loads nvidia_uvm before nvidia_modeset; the softdep has nvidia_modeset loaded first.
echo "softdep nvidia_uvm pre: nvidia_modeset" > /etc/modprobe.d/gpu-hook-test.conf
gpu-hook 111 post-stop > /tmp/out 2>&1 || { cat /tmp/out; fail "post-stop failed with a softdep"; }
[ "$(newer nvidia_uvm nvidia_modeset)" = yes ] || { cat /proc/modules; fail "the softdep was not honoured: nvidia_modeset loaded after nvidia_uvm"; }
[ "$(host_state)" = "$before" ] || fail "host after the softdep: $(host_state), before: $before"
rm /etc/modprobe.d/gpu-hook-test.conf
# Without it, the plan's own order.
gpu-hook 111 pre-start > /tmp/out 2>&1 || { cat /tmp/out; fail "pre-start failed"; }
gpu-hook 111 post-stop > /tmp/out 2>&1 || { cat /tmp/out; fail "post-stop failed"; }
[ "$(newer nvidia_uvm nvidia_modeset)" = no ] || { cat /proc/modules; fail "nvidia_uvm loaded after nvidia_modeset without a softdep"; }
# An install command: refused, never run; the rest comes back and the journal keeps what did not.
gpu-hook 111 pre-start > /tmp/out 2>&1 || { cat /tmp/out; fail "pre-start failed"; }
echo "install nvidia_uvm /bin/touch /tmp/install-ran" > /etc/modprobe.d/gpu-hook-test.conf
if gpu-hook 111 post-stop > /tmp/out 2>&1; then cat /tmp/out; fail "post-stop ran past an install command"; fi
cat /tmp/out
grep -q "module nvidia_uvm has an install command in modprobe.d" /tmp/out || fail "the install command is not named"
[ ! -e /tmp/install-ran ] || fail "the install command ran"
loaded nvidia_uvm && fail "nvidia_uvm was loaded past its install command"
expect_drv 0000:01:00.0 nvidia
rm /etc/modprobe.d/gpu-hook-test.conf
gpu-hook recover 111 > /tmp/out 2>&1 || { cat /tmp/out; fail "recover failed"; }
[ "$(host_state)" = "$before" ] || fail "host after recover: $(host_state), before: $before"
echo "modprobe-config ok"
