# systemd as PID 1: a listed unit that will not stop (its process ignores
# SIGTERM; systemd sends SIGKILL only after TimeoutStopSec=5s) times out under
# a short timeout, and everything is undone: the units that were stopped run
# again, the stubborn one too once systemd has killed it, and the host is as
# before. A systemctl that overran is no device stuck in the kernel: its undo
# counts, and no journal is left for a recover.
# os: debian
# topology: single
[ -e /gpu-hook-test-guest ] || { echo "a tests/vm guest scenario: it writes the kernel's /sys; run it with tests/vm/run-scenario" >&2; exit 2; }
. /lib.sh
units="nvidia-persistenced.service display-manager.service gh-stubborn.service"
unit_states() { for u in $units; do printf '%s=%s ' "$u" "$(systemctl is-active "$u")"; done; }
mkdir -p /etc/gpu-hook
# systemctl steps take service_timeout.
printf '[handoff]\nservices = nvidia-persistenced.service display-manager.service gh-stubborn.service\nservice_timeout = 3s\n' \
	>/etc/gpu-hook/111.ini
systemctl start gh-stubborn.service
before=$(host_state)
ubefore=$(unit_states)
echo "units: $ubefore"
t0=$(cut -d. -f1 /proc/uptime)
if gpu-hook 111 pre-start >/tmp/out 2>&1; then cat /tmp/out; fail "pre-start succeeded past a unit that does not stop"; fi
t1=$(cut -d. -f1 /proc/uptime)
cat /tmp/out
grep -q "systemctl stop gh-stubborn.service: no answer within 3000 ms" /tmp/out || fail "no timeout reported for gh-stubborn.service"
grep -q "start gh-stubborn.service (systemctl start): ok" /tmp/out || fail "gh-stubborn.service was not started again"
grep -q "undo of step 1 (stop nvidia-persistenced.service (systemctl stop)): undone" /tmp/out || fail "nvidia-persistenced was not started again"
grep -q "undo of step 2 (stop gh-greeter.service (systemctl stop)): undone" /tmp/out || fail "the display manager was not started again"
echo "pre-start took $((t1 - t0)) s"
[ "$(unit_states)" = "$ubefore" ] || fail "units after: $(unit_states), before: $ubefore"
expect_drv 0000:01:00.0 nvidia
expect_drv 0000:01:00.1 snd_hda_intel
[ ! -e /run/gpu-hook/111.json ] || fail "a journal was left behind although every step was undone"
[ "$(host_state)" = "$before" ] || fail "host after: $(host_state), before: $before"
echo "systemd timeout ok"
