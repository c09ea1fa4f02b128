# A slow host: nvidia_drm's load takes 12 s (GSP firmware boot with
# modeset=1), and nvidia-persistenced's start 11 s (it initialises every GPU
# before systemd reports it started), with the default policy.
# Proves: the round trip (stop persistenced, unload, hand over; load the stack
# again, start persistenced) succeeds and restores the host, and post-stop
# answers within the module and service deadlines.
# Needs gpu-hook: module loads bounded by module_timeout (default 60 s) and
# systemctl start/stop by service_timeout (default 60 s), not by the 10 s
# `timeout` of one sysfs write (CONTRACT.md).
# Fails on gpu-hook without them: the nvidia_drm load is given up after 10 s.
# topology: single
# modparams: nvidia_drm load_delay_ms=12000
# timeout: 180
[ -e /gpu-hook-test-guest ] || { echo "a tests/vm guest scenario: it writes the kernel's /sys; run it with tests/vm/run-scenario" >&2; exit 2; }
. /lib.sh
persistenced 11
holder=$(persistenced_pid)
[ -n "$holder" ] || fail "nvidia-persistenced stand-in not running"
before=$(host_state)
echo "before: $before; nvidia-persistenced pid $holder"
hook 60 111 pre-start
[ $rc -eq 0 ] || fail "pre-start exited $rc"
expect_drv 0000:01:00.0 vfio-pci
[ -z "$(persistenced_pid)" ] || fail "nvidia-persistenced still runs"
expect_restores 120 111 post-stop
[ "$WITHIN_MS" -ge 23000 ] || fail "post-stop took only $WITHIN_MS ms: the 12 s load or the 11 s start did not happen"
[ -n "$(persistenced_pid)" ] || fail "nvidia-persistenced was not started again"
echo "slow-load ok"
