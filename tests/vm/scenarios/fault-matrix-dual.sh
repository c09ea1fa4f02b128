# The fault matrix's rows that need a per-card handoff (two GPUs: the modules
# stay loaded and the card is unbound from nvidia), in fault-matrix.sh's style:
# each fault's expected outcome holds, and the host ends restored after at
# most one recover once the fault is gone; a table of runs, restored, lost
# (must be 0) and hung (must be 0). On a one-GPU host every /dev/nvidiaN
# holder also pins the nvidia module, so the unload fails at once instead.
#
# | remove() blocked by the usage count | a process opens card 1's /dev/nvidiaN after the plan: nv_pci_remove waits, 2 s deadline, wedged; once it exits one recover restores |
# | other card's node opened after the plan | the usage count is per GPU: card 1's unbind does not wait for it |
#
# Needs gpu-hook: the 2 s step deadline around the unbind and a recover that
# rebinds a card whose remove() finished late. Expected to pass today.
# topology: dual
# timeout: 300
[ -e /gpu-hook-test-guest ] || { echo "a tests/vm guest scenario: it writes the kernel's /sys; run it with tests/vm/run-scenario" >&2; exit 2; }
. /lib.sh
set +e # every outcome is checked explicitly here
before=$(host_state)
trap 'opener_done' EXIT

# A process opens card 1's node after the plan (stopping a policy service starts it):
# remove() waits on the GPU's usage count, uninterruptibly; the unbind step times out.
start_row "remove() blocked by the usage count"
opener_service "$(nvidia_node 0000:01:00.0)"
expect_timeout "card 1 was opened" 111 pre-start
grep -q '"wedged": *true' /run/gpu-hook/111.json || fail "the journal does not say wedged"
dmesg | grep -q 'Attempting to remove device 0000:01:00.0 with non-zero usage count' || fail "remove() did not wait on the usage count"
kill "$(cat /tmp/opener.pid)"
i=0; while [ "$(drv 0000:01:00.0)" = nvidia ] && [ $i -lt 50 ]; do usleep 100000; i=$((i + 1)); done
settle; r=$? # restore first either way, so later rows start from the host as it was
if [ $took -gt 600 ]; then hung=1; else tally $r; fi
record "remove() blocked by the usage count" 1
opener_done

# The other card's node opened after the plan: its usage count is not card 1's.
start_row "other card's node opened after the plan"
opener_service "$(nvidia_node 0000:02:00.0)"
bounded 111 pre-start || { cat /tmp/last.log; fail "pre-start failed although only card 2 was opened"; }
expect_drv 0000:01:00.0 vfio-pci
expect_drv 0000:02:00.0 nvidia
bounded 111 post-stop || { cat /tmp/last.log; fail "post-stop failed"; }
kill "$(cat /tmp/opener.pid)"
settle; tally $?
record "other card's node opened after the plan" 1
opener_done

matrix_verdict
echo "fault-matrix-dual ok"
