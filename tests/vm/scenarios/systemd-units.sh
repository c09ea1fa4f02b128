# systemd as PID 1: the default policy (and a listed oneshot that is "active
# (exited)") stops nvidia-persistenced and the display manager and starts
# exactly those again; holders = stop-unit stops and restarts a real unit
# holding the card; a scope holding it is refused by name and pid; install
# places the snippet and calls qm with the fixed argv.
# os: debian
# topology: single
[ -e /gpu-hook-test-guest ] || { echo "a tests/vm guest scenario: it writes the kernel's /sys; run it with tests/vm/run-scenario" >&2; exit 2; }
. /lib.sh
units="nvidia-persistenced.service display-manager.service gh-greeter.service gh-oneshot.service gh-holder.service"
unit_states() { for u in $units; do printf '%s=%s ' "$u" "$(systemctl is-active "$u")"; done; }
mainpid() { systemctl show -p MainPID --value "$1"; }
mkdir -p /etc/gpu-hook

echo "== default services and an active (exited) oneshot"
printf '[handoff]\nservices = nvidia-persistenced.service display-manager.service gh-oneshot.service\n' \
	>/etc/gpu-hook/111.ini
[ "$(systemctl show -p SubState --value gh-oneshot.service)" = exited ] || fail "gh-oneshot.service is not active (exited)"
before=$(host_state)
ubefore=$(unit_states)
echo "units: $ubefore"
pd=$(mainpid nvidia-persistenced.service)
gpu-hook 111 pre-start >/tmp/out 2>&1 || { cat /tmp/out; fail "pre-start failed"; }
cat /tmp/out
for u in nvidia-persistenced.service gh-greeter.service gh-oneshot.service; do
	grep -q "stop $u (systemctl stop): ok" /tmp/out || fail "$u was not stopped"
	[ "$(systemctl is-active $u)" = inactive ] || fail "$u is $(systemctl is-active $u) while the card is away"
done
[ "$(grep -c '(systemctl stop)' /tmp/out)" = 3 ] || fail "pre-start stopped other units"
expect_drv 0000:01:00.0 vfio-pci
gpu-hook 111 post-stop >/tmp/out 2>&1 || { cat /tmp/out; fail "post-stop failed"; }
cat /tmp/out
[ "$(grep -c '(systemctl start): ok' /tmp/out)" = 3 ] || fail "post-stop did not start exactly the three units"
[ "$(unit_states)" = "$ubefore" ] || fail "units after: $(unit_states)"
[ "$(host_state)" = "$before" ] || fail "host after: $(host_state), before: $before"
[ "$(mainpid nvidia-persistenced.service)" != "$pd" ] || fail "nvidia-persistenced was never restarted"

echo "== holders = stop-unit: a unit in no policy's services holds the card"
printf '[handoff]\nholders = stop-unit\n' >/etc/gpu-hook/111.ini
systemctl start gh-holder.service
ubefore=$(unit_states)
ph=$(mainpid gh-holder.service)
gpu-hook 111 pre-start >/tmp/out 2>&1 || { cat /tmp/out; fail "pre-start with holders = stop-unit failed"; }
cat /tmp/out
grep -q "stop gh-holder.service (systemctl stop): ok" /tmp/out || fail "the holding unit was not stopped"
[ "$(systemctl is-active gh-holder.service)" = inactive ] || fail "gh-holder.service still runs"
gpu-hook 111 post-stop >/tmp/out 2>&1 || { cat /tmp/out; fail "post-stop failed"; }
grep -q "start gh-holder.service (systemctl start): ok" /tmp/out || fail "the holding unit was not started again"
[ "$(unit_states)" = "$ubefore" ] || fail "units after: $(unit_states), before: $ubefore"
[ "$(mainpid gh-holder.service)" != "$ph" ] || fail "gh-holder.service was never restarted"
[ "$(host_state)" = "$before" ] || fail "host after: $(host_state), before: $before"
systemctl stop gh-holder.service

echo "== a login session's scope holding the card"
systemd-run --quiet --scope --unit=session-7.scope /usr/bin/holdopen --name kwin_wayland /dev/nvidia0 &
sp=$!
for i in $(seq 50); do [ "$(systemctl is-active session-7.scope)" = active ] && break; sleep 0.1; done
[ "$(systemctl is-active session-7.scope)" = active ] || fail "the scope did not start"
ubefore=$(unit_states)
if gpu-hook 111 pre-start >/tmp/out 2>&1; then cat /tmp/out; fail "pre-start accepted a scope holding the card"; fi
cat /tmp/out
grep -q "held by pid $sp (kwin_wayland, session-7.scope)" /tmp/out || fail "the scope's pid $sp and name are not in the refusal"
[ "$(systemctl is-active session-7.scope)" = active ] || fail "the scope was stopped"
[ "$(unit_states)" = "$ubefore" ] || fail "the refusal changed units: $(unit_states)"
[ "$(host_state)" = "$before" ] || fail "the refusal changed the host: $(host_state)"
systemctl stop session-7.scope

echo "== install: the snippet and qm set"
mkdir -p /var/lib/vz
printf 'dir: local\n\tpath /var/lib/vz\n\tcontent iso,vztmpl,backup,snippets\n' >/etc/pve/storage.cfg
printf '#!/bin/sh\nprintf "%%s\\n" "$@" >/tmp/qm.argv\n' >/usr/sbin/qm
chmod 755 /usr/sbin/qm
gpu-hook install 111 >/tmp/out 2>&1 || { cat /tmp/out; fail "install failed"; }
cat /tmp/out
cmp /usr/sbin/gpu-hook /var/lib/vz/snippets/gpu-hook || fail "the snippet is not the binary"
[ -x /var/lib/vz/snippets/gpu-hook ] || fail "the snippet is not executable"
[ "$(tr '\n' ' ' </tmp/qm.argv)" = "set 111 --hookscript local:snippets/gpu-hook " ] || fail "qm got: $(cat /tmp/qm.argv)"
echo "systemd units ok"
