# A process holds the card's audio function through ALSA, as PipeWire and
# WirePlumber hold /dev/snd/controlC* all the time: snd_hda_intel's remove()
# (snd_card_free) would wait until every file on the sound card is closed.
# Proves: pre-start refuses before any write, in under 3 s, exit 1, naming the
# holder's pid and the device node, with the host unchanged and no journal;
# once the holder is gone the round trip works and restores the host.
# Needs gpu-hook: a holder scan that covers every device node of every
# function (the `dev` files under the function's sysfs directory against
# each open fd's st_rdev), not only /dev/nvidia*, /dev/dri and /dev/vfio.
# Fails on gpu-hook without it: the unbind of 01:00.1 sticks in snd_card_free,
# the step times out after 10 s and the audio function is wedged.
# topology: single
# timeout: 120
[ -e /gpu-hook-test-guest ] || { echo "a tests/vm guest scenario: it writes the kernel's /sys; run it with tests/vm/run-scenario" >&2; exit 2; }
. /lib.sh
card=$(ls -d /sys/bus/pci/devices/0000:01:00.1/sound/card* 2>/dev/null | head -n1)
[ -n "$card" ] || fail "the audio function has no sound card"
node=/dev/snd/controlC${card##*/card}
[ -c "$node" ] || fail "no $node"
sleep 1000 < "$node" &
pid=$!
usleep 200000
before=$(host_state)
echo "before: $before; $node held by pid $pid"
hook 30 111 pre-start
[ $rc -eq 1 ] || { kill $pid; fail "pre-start exited $rc with $node held, expected a refusal (1)"; }
[ "$WITHIN_MS" -lt 3000 ] || fail "the refusal took $WITHIN_MS ms"
grep -q "pid $pid" /tmp/within.out || fail "the refusal does not name pid $pid"
grep -q "$node" /tmp/within.out || fail "the refusal does not name $node"
[ "$(host_state)" = "$before" ] || fail "the refusal changed the host: $(host_state)"
[ ! -e /run/gpu-hook/111.json ] || fail "a refusal left a journal"
kill $pid
wait $pid 2>/dev/null || true
hook 30 111 pre-start
[ $rc -eq 0 ] || fail "pre-start exited $rc once the holder was gone"
expect_drv 0000:01:00.1 vfio-pci
expect_restores 30 111 post-stop
echo "alsa-holder ok"
