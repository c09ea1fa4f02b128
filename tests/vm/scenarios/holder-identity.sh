# Holders on the real kernel: found by device identity on every function,
# killed through a pidfd under holders = kill, protected processes refused by
# name and left alone, a path text that is not the node ignored.
# topology: single
[ -e /gpu-hook-test-guest ] || { echo "a tests/vm guest scenario: it writes the kernel's /sys; run it with tests/vm/run-scenario" >&2; exit 2; }
. /lib.sh
before=$(host_state)
# The audio function's nodes count: any char device registered under it.
snd=$(for d in /sys/bus/pci/devices/0000:01:00.1/sound/*/*/dev; do [ -e "$d" ] && echo "$d"; done | head -1)
if [ -n "$snd" ]; then
	node=/dev/snd/$(basename "$(dirname "$snd")")
	sleep 1000 < "$node" &
	pid=$!
	sleep 0.2
	if gpu-hook 111 pre-start --dry-run > /tmp/out 2>&1; then fail "a holder of $node was not seen"; fi
	grep -q "held by pid $pid (sleep): $node" /tmp/out || { cat /tmp/out; fail "the $node holder is not named"; }
	echo "audio: the holder of $node is named"
	kill $pid; wait $pid 2>/dev/null || true
else
	echo "no sound node under 0000:01:00.1 in this guest: audio case skipped"
fi
# A file whose path text is the node's, in another directory: not the node.
mkdir -p /tmp/ns/dev && : > /tmp/ns/dev/nvidia0
sleep 1000 < /tmp/ns/dev/nvidia0 &
other=$!
# A protected name: refused by name under holders = kill, and not killed.
# (its comm set from inside, then blocked in a builtin: no child inherits the fd)
mkfifo /tmp/f
sh -c 'printf sshd > /proc/self/comm; exec 3</dev/nvidia0; read x < /tmp/f' &
sshd=$!
sleep 1000 < /dev/nvidia0 &
victim=$!
sleep 0.2
printf '[handoff]\nholders = kill\n' > /etc/gpu-hook/111.ini
if gpu-hook 111 pre-start > /tmp/out 2>&1; then cat /tmp/out; fail "pre-start killed around a protected holder"; fi
cat /tmp/out
grep -q "held by pid $sshd (sshd): /dev/nvidia0 (fd 3) (logins and the system bus depend on it" /tmp/out ||
	fail "the protected holder is not refused by name"
grep -q "pid $victim" /tmp/out && fail "the refusal names a process that may be killed"
grep -q "pid $other" /tmp/out && fail "a file named like the node was taken for it"
kill -0 $sshd && kill -0 $victim || fail "a refusal killed something"
[ "$(host_state)" = "$before" ] || fail "the refusal changed the host"
kill $sshd; wait $sshd 2>/dev/null || true
# Only the plain holder left: killed through its pidfd, the handoff goes on.
gpu-hook 111 pre-start > /tmp/out 2>&1 || { cat /tmp/out; fail "pre-start with holders = kill failed"; }
grep -q "kill pid $victim (sleep), which holds the card: ok" /tmp/out || { cat /tmp/out; fail "no kill step"; }
kill -0 $victim 2>/dev/null && fail "the holder is still alive"
kill -0 $other || fail "the process with the look-alike file was killed"
expect_drv 0000:01:00.0 vfio-pci
gpu-hook 111 post-stop || fail "post-stop failed"
rm -f /etc/gpu-hook/111.ini
kill $other; wait $other 2>/dev/null || true
[ "$(host_state)" = "$before" ] || fail "host not restored"
echo "holder-identity ok"
