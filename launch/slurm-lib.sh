# shellcheck shell=bash
# What the real Slurm tests share (launch/slurm-test.sh, one node, and
# launch/slurm-cluster-test.sh, two network-namespace hosts): Slurm and MUNGE
# packages, the ddp binary, the scratch directory, the common slurm.conf
# settings, munged and slurmctld, stopping them again, the tiny MLP config, and
# the checks of a trained, preempted and requeued job. Sourcing it only defines
# functions; it runs nothing.
#
# The caller runs from the repository root with `set -euo pipefail` and sets
#   test_name   the prefix of every message (slurm-test, slurm-cluster-test)
#   repo        the repository root
# The functions set and use these globals:
#   ddp          the ddp binary (choose_ddp)
#   work, pids   the scratch directory and the daemons' pids (make_work_dir,
#                start_munged, start_slurmctld; the caller adds its slurmds)
#   munge_socket this test's MUNGE socket (start_munged)
#   config, run_dir  the tiny MLP config and its run directory (write_tiny_config)
#   preempted    the step a preempted job stopped at (check_preempted)
# and SLURM_CONF, exported by the caller before it starts any daemon.

# shellcheck disable=SC2154  # test_name: set by the caller
say() { echo "$test_name: $*"; }
fail() { say "FAIL: $*" >&2; exit 1; }

# Debian's Slurm (controller, node daemon, client) and MUNGE, unless installed.
install_slurm() {
    if ! command -v slurmctld >/dev/null || ! command -v slurmd >/dev/null || ! command -v sbatch >/dev/null \
        || ! command -v munged >/dev/null; then
        say "installing slurmctld slurmd slurm-client munge"
        export DEBIAN_FRONTEND=noninteractive
        timeout 300 apt-get update -qq
        timeout 600 apt-get install -y -qq --no-install-recommends slurmctld slurmd slurm-client munge >/dev/null
    fi
}

# Sets ddp: DDP_BIN, or the newer of .build/{release,debug}/ddp, or a fresh debug build.
choose_ddp() {
    local candidate
    ddp="${DDP_BIN:-}"
    if [ -z "$ddp" ]; then
        # The newer of the two builds: a stale release binary must not hide the tested debug one.
        # shellcheck disable=SC2045,SC2154  # ls -t sorts by age; repo: set by the caller
        for candidate in $(ls -t .build/release/ddp .build/debug/ddp 2>/dev/null); do
            if [ -x "$candidate" ]; then ddp="$repo/$candidate"; break; fi
        done
    fi
    if [ -z "$ddp" ]; then
        say "building ddp"
        swift build --product ddp >/dev/null
        ddp="$repo/.build/debug/ddp"
    fi
    [ -x "$ddp" ] || fail "no ddp binary at $ddp"
    ddp=$(readlink -f "$ddp")
}

# make_work_dir TEMPLATE: sets work to a new scratch directory (mktemp
# TEMPLATE, readable by every user) with state/, spool/, run/ and munge/, and
# pids to none.
make_work_dir() {
    work=$(mktemp -d "$1")
    chmod 755 "$work"
    mkdir -p "$work/state" "$work/spool" "$work/run" "$work/munge"
    pids=()
}

# slurm_conf_common CONTROLLER ADDRESS: the slurm.conf settings of both test
# clusters, on stdout; the caller adds the slurmd files, nodes and partition.
slurm_conf_common() {
    cat <<EOF
ClusterName=ddptest
SlurmctldHost=$1($2)
SlurmctldPort=${DDP_SLURMCTLD_PORT:-6817}
SlurmdPort=${DDP_SLURMD_PORT:-6818}
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
CredType=cred/munge
# This test's munged, not the system's (a unix socket: the same file for every node).
AuthInfo=socket=$work/munge/munge.socket
StateSaveLocation=$work/state
SlurmctldPidFile=$work/slurmctld.pid
SlurmctldLogFile=$work/slurmctld.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
SchedulerType=sched/backfill
MpiDefault=none
ReturnToService=2
JobRequeue=1
KillWait=10
EOF
}

# Starts this test's munged (as the munge user, with the socket in
# $work/munge) and checks a round trip through it.
start_munged() {
    munge_socket="$work/munge/munge.socket"
    chown munge:munge "$work/munge"
    [ -f /etc/munge/munge.key ] || { mungekey --create >/dev/null 2>&1 || /usr/sbin/create-munge-key -f >/dev/null; }
    runuser -u munge -- munged --foreground --socket="$munge_socket" --pid-file="$work/munge/munged.pid" \
        --log-file="$work/munge/munged.log" --seed-file="$work/munge/seed" >"$work/munged.log" 2>&1 &
    pids+=($!)
    disown
    for _ in $(seq 50); do [ -S "$munge_socket" ] && break; sleep 0.2; done
    [ -S "$munge_socket" ] || fail "munged did not start"
    munge --socket="$munge_socket" -n | unmunge --socket="$munge_socket" >/dev/null || fail "munge round trip failed"
}

# Starts slurmctld in the foreground of a background job, on $SLURM_CONF.
start_slurmctld() {
    slurmctld -D -i -f "$SLURM_CONF" >"$work/slurmctld.console.log" 2>&1 &
    pids+=($!)
    disown
}

# For the caller's exit trap: cancels every job, stops the daemons in pids
# (SIGTERM, up to 5 s, then SIGKILL) and munged.
stop_daemons() {
    local pid alive
    if [ -n "${SLURM_CONF:-}" ] && [ -f "$SLURM_CONF" ]; then
        timeout 10 scancel --full --quiet -u root >/dev/null 2>&1 || true
    fi
    for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
    for _ in $(seq 20); do
        alive=0
        for pid in "${pids[@]}"; do kill -0 "$pid" 2>/dev/null && alive=1; done
        [ "$alive" -eq 0 ] && break
        sleep 0.25
    done
    for pid in "${pids[@]}"; do kill -9 "$pid" 2>/dev/null || true; done
    # munged runs under runuser, which does not pass SIGTERM on: stop it by its pid file.
    if [ -f "$work/munge/munged.pid" ]; then kill "$(cat "$work/munge/munged.pid")" 2>/dev/null || true; fi
}

# remove_work STATUS: for the caller's exit trap: shows the ends of the logs
# when STATUS is not 0, then deletes the scratch directory.
remove_work() {
    local log
    if [ "$1" -ne 0 ]; then
        for log in "$work"/*.log "$work"/run/*.out; do
            [ -f "$log" ] && { echo "--- $log"; tail -n 40 "$log"; }
        done
    fi
    rm -rf "$work"
}

# Writes the tiny MLP config (30 steps, a checkpoint every 10) to config, and
# sets run_dir.
write_tiny_config() {
    config="$work/run/tiny.yaml"
    cat >"$config" <<'EOF'
model:
  kind: mlp
  hidden: [32]
data:
  dataset: synthetic_classes
  samples: 2048
  features: 16
  classes: 4
training:
  batch_size: 32
  steps: 30
  epochs: 0
  log_every: 10
  eval_every: 30
checkpoint:
  every: 10
optimizer:
  kind: sgd
  lr: 0.1
  momentum: 0.9
EOF
    run_dir="$work/run/tiny"
}

# check_job1 LOG: job 1 (LOG its output) trained 30 steps and wrote a
# checkpoint of step 30 and its metrics.
check_job1() {
    grep -q "ddp: done, 30 steps" "$1" || fail "job 1 did not train 30 steps"
    [ -f "$run_dir/checkpoints/step-00000030/model.safetensors" ] || fail "job 1 wrote no checkpoint of step 30"
    [ -f "$run_dir/checkpoints/step-00000030/trainer.json" ] || fail "job 1's checkpoint has no trainer.json"
    grep -q '"step":30' "$run_dir/metrics.jsonl" || fail "job 1's metrics.jsonl has no step 30"
}

# wait_for_log LOG SECONDS PATTERN: until LOG has a line matching PATTERN;
# fails (returns 1) after SECONDS.
wait_for_log() {
    local deadline=$((SECONDS + $2))
    while [ "$SECONDS" -lt "$deadline" ]; do
        grep -q "$3" "$1" 2>/dev/null && return 0
        sleep 0.25
    done
    grep -q "$3" "$1" 2>/dev/null
}

# signal_preemption JOB: what Slurm does 120 s before the time limit
# (--signal=B:USR1@120): USR1 to the job's batch script.
signal_preemption() {
    timeout 10 scancel --signal=USR1 --batch "$1" || fail "scancel --signal=USR1 --batch $1 failed"
}

# check_preempted NAME JOB LOG: after the job (NAME in messages, LOG its
# output) exited with the preemption code: it requeued itself, reported the
# step it stopped at (sets preempted) and wrote a checkpoint of that step.
check_preempted() {
    grep -q "requeueing job $2" "$3" || fail "$1 did not requeue itself"
    preempted=$(sed -n 's/^ddp: preempted at step \([0-9]*\).*/\1/p' "$3" | head -1)
    [ -n "$preempted" ] || fail "$1 did not report the step it stopped at"
    [ -d "$run_dir/checkpoints/$(printf 'step-%08d' "$preempted")" ] || fail "no checkpoint of step $preempted"
}

# release_requeued NAME JOB: lets the requeued job (NAME in messages) start
# now. Slurm holds a requeued job for a while before it may start (its begin
# time moves ahead); as the administrator, the test moves the begin time back
# to now, a little later: slurmd rejects a credential issued in the same second
# as the previous run's revocation ("Job credential revoked"), which Slurm's
# own delay avoids.
release_requeued() {
    local deadline=$((SECONDS + 10))
    while [ "$SECONDS" -lt "$deadline" ]; do
        [ "$(timeout 5 squeue -h -j "$2" -o %T 2>/dev/null)" = "PENDING" ] && break
        sleep 0.25
    done
    sleep 2
    timeout 10 scontrol update JobId="$2" StartTime=now || fail "cannot release the requeued $1"
}
