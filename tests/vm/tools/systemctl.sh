#!/bin/sh
# The guest's systemctl, for the one unit it knows: nvidia-persistenced.service
# (lib.sh's "persistenced" links it to /usr/bin/systemctl). gpu-hook runs
#   systemctl --no-ask-password start|stop -- UNIT
# and finds a unit active by its cgroup, as on a real host.
#
# The daemon stand-in holds /dev/nvidiactl and every /dev/nvidiaN open, as
# nvidia-persistenced does, so each GPU's usage count stays up while it runs.
# "start" returns only once it runs (Type=forking: systemd waits for the
# daemon to initialise every GPU, 1-3 s per GPU on real hardware); the
# number of seconds in /etc/nvidia-persistenced.delay is that wait.
[ -e /gpu-hook-test-guest ] || { echo "systemctl (test stand-in): a tests/vm guest tool: it writes the kernel's cgroups and kills" >&2; exit 2; }
cg=/sys/fs/cgroup/system.slice/nvidia-persistenced.service
verb='' unit=''
for a; do
	case $a in
	-*) ;;
	start | stop | restart | is-active) verb=$a ;;
	*) unit=$a ;;
	esac
done
[ "$unit" = nvidia-persistenced.service ] || { echo "systemctl (test stand-in): unknown unit '$unit'" >&2; exit 5; }
running() { [ -n "$(cat $cg/cgroup.procs 2>/dev/null)" ]; }
stop() {
	for p in $(cat $cg/cgroup.procs 2>/dev/null); do kill "$p" 2>/dev/null; done
	n=0
	while running && [ $n -lt 100 ]; do usleep 50000; n=$((n + 1)); done
	! running
}
start() {
	running && return 0
	mkdir -p $cg
	sleep "$(cat /etc/nvidia-persistenced.delay 2>/dev/null || echo 0)"
	# shellcheck disable=SC2016 # expanded by the daemon's shell
	setsid sh -c 'echo $$ > '$cg'/cgroup.procs; fd=3
		for n in /dev/nvidiactl /dev/nvidia[0-9]*; do [ -c "$n" ] && eval "exec $fd<$n" && fd=$((fd + 1)); done
		exec sleep 100000' </dev/null >/dev/null 2>&1 &
	n=0
	while ! running && [ $n -lt 100 ]; do usleep 20000; n=$((n + 1)); done
	usleep 100000 # the daemon opens its nodes
	running
}
case $verb in
stop) stop ;;
start) start ;;
restart) stop && start ;;
is-active) running || exit 3 ;;
*) echo "systemctl (test stand-in): unknown verb '$verb'" >&2; exit 1 ;;
esac
