#!/usr/bin/env bash
# The Slurm test across nodes: installs Debian's Slurm and MUNGE, brings up two
# test hosts (launch/test-cluster.sh up 2: network namespaces ddp-host1 and
# ddp-host2, each with its own address, hostname and core), runs one slurmctld
# in the root namespace (at the bridge address 10.213.7.1) and one slurmd
# inside each host, and checks that
#   0. mpirun inside a 2-node allocation puts one rank on each host (`ddp env`),
#   1. launch/slurm.sbatch with --nodes=2 --ntasks-per-node=1 trains a tiny MLP
#      on 2 ranks, one per host, and writes checkpoints and metrics,
#   2. a second 2-node job resumes from the first one's checkpoint, with a rank
#      training inside each host; told to checkpoint early (USR1, as Slurm sends
#      before the time limit) it exits 75, requeues itself, and the requeued
#      run resumes from that checkpoint and finishes, with a checkpoint of its
#      last step.
# Daemons are stopped, the test hosts removed (launch/test-cluster.sh down) and
# the scratch directory deleted at every exit. Every wait is bounded.
#
#   launch/slurm-cluster-test.sh   # uses the newer of .build/{release,debug}/ddp (DDP_BIN overrides)
#
# Needs root (apt-get install, network namespaces, daemons) in a machine or
# container without systemd: cgroups are not used (proctrack/linuxproc,
# task/none). The daemons' ports: DDP_SLURMCTLD_PORT (default 6817, in the root
# namespace), DDP_SLURMD_PORT (default 6818, inside each host).
#
# How it fits on one machine: each slurmd runs through `test-cluster.sh exec`,
# so it is in its host's network namespace (its own port 6818 on its own
# address), has its host's name (own UTS namespace) and runs on its host's
# core; the jobs' processes inherit all three. `slurmd -N ddp-hostN` names the
# node, and SlurmdSpoolDir, SlurmdPidFile and SlurmdLogFile contain %n, so the
# two slurmds share no file. The filesystem is shared: the MUNGE socket, the
# config and the job logs are the same files for every host. One thing does
# not carry over: `ip netns exec` mounts a fresh /sys, without the cgroup file
# systems, and slurmd will not start without its cgroup plugin; cgroup.conf
# points the plugin at this namespace's /sys/fs/cgroup (see below). What it
# shares with launch/slurm-test.sh is in launch/slurm-lib.sh.
set -euo pipefail
cd "$(dirname "$0")/.."
repo=$(pwd)

test_name=slurm-cluster-test
# shellcheck source=launch/slurm-lib.sh
. launch/slurm-lib.sh

[ "$(id -u)" -eq 0 ] || fail "needs root (installs packages, network namespaces, runs slurmctld/slurmd/munged)"
started=$SECONDS

# --- 1. Packages -------------------------------------------------------------
install_slurm
command -v mpirun >/dev/null || fail "no mpirun (install openmpi-bin)"

choose_ddp

# --- 2. Cleanup, then the test hosts -------------------------------------------
export DDP_CLUSTER_DIR="${DDP_CLUSTER_DIR:-/run/ddp-test-cluster}"
make_work_dir /tmp/ddp-slurm-cluster.XXXXXX
cleanup() {
    local status=$?
    trap - EXIT INT TERM
    stop_daemons
    # Ends whatever still runs inside the hosts (slurmstepd, orted, ranks).
    timeout 60 launch/test-cluster.sh down >/dev/null 2>&1 || echo "slurm-cluster-test: tearing the test hosts down failed" >&2
    remove_work "$status"
    exit "$status"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

say "bringing up 2 test hosts"
timeout 120 launch/test-cluster.sh up 2 >"$work/test-cluster.log" 2>&1 \
    || fail "launch/test-cluster.sh up 2 failed: $(cat "$work/test-cluster.log")"
mapfile -t hosts < <(awk '{print $1}' "$DDP_CLUSTER_DIR/hosts")
[ "${#hosts[@]}" -eq 2 ] || fail "expected 2 test hosts, $DDP_CLUSTER_DIR/hosts has ${#hosts[@]}"
# The controller's address as the hosts see it: the bridge's, in the root namespace.
controller_addr=$(ip -o -4 addr show ddpbr0 | awk '{sub(/\/.*/, "", $4); print $4; exit}')
[ -n "$controller_addr" ] || fail "the bridge ddpbr0 has no address"
subnet="${controller_addr%.*}.0/24"

# --- 3. Slurm: slurmctld here, a slurmd in each host -------------------------
controller=$(hostname -s)
export SLURM_CONF="$work/slurm.conf"
{
    echo "# A two-node test cluster on one machine: slurmctld in the root namespace,"
    echo "# one slurmd inside each test host (network namespace), no cgroups."
    slurm_conf_common "$controller" "$controller_addr"
    cat <<EOF
# %n: the node's name, so that the slurmds share no spool, pid or log file.
SlurmdSpoolDir=$work/spool/%n
SlurmdPidFile=$work/slurmd-%n.pid
SlurmdLogFile=$work/slurmd-%n.log
EOF
    while read -r name addr cores; do
        echo "NodeName=$name NodeAddr=$addr CPUs=$(echo "$cores" | tr ',' '\n' | wc -l) State=UNKNOWN"
    done <"$DDP_CLUSTER_DIR/hosts"
    echo "PartitionName=test Nodes=$(IFS=,; echo "${hosts[*]}") Default=YES MaxTime=INFINITE State=UP"
} >"$SLURM_CONF"
for name in "${hosts[@]}"; do mkdir -p "$work/spool/$name"; done
# slurmd initializes its cgroup plugin even with proctrack/linuxproc and
# task/none, and fails ("No filesystem mounted on /sys/fs/cgroup") inside a
# host: `ip netns exec` mounts a fresh sysfs over /sys, without the cgroup
# file systems under it. The hosts reach this namespace's ones through
# /proc/PID/root of this script, a process of this mount namespace; Slurm's
# autodetection looks at /sys/fs/cgroup only, so the plugin is named here
# (the same choice: cgroup2 or a tmpfs with a cgroup2 systemd/ is v2).
case "$(stat -f -c %T /sys/fs/cgroup 2>/dev/null)/$(stat -f -c %T /sys/fs/cgroup/systemd 2>/dev/null)" in
    cgroup2fs/*|tmpfs/cgroup2fs) cgroup_plugin=cgroup/v2 ;;
    *) cgroup_plugin=cgroup/v1 ;;
esac
printf 'CgroupPlugin=%s\nCgroupMountpoint=/proc/%s/root/sys/fs/cgroup\n' "$cgroup_plugin" "$$" >"$work/cgroup.conf"

start_munged
timeout 10 launch/test-cluster.sh exec "${hosts[1]}" sh -c "munge --socket='$munge_socket' -n | unmunge --socket='$munge_socket'" \
    >/dev/null 2>&1 || fail "munge round trip from inside ${hosts[1]} failed"

start_slurmctld
for name in "${hosts[@]}"; do
    launch/test-cluster.sh exec "$name" slurmd -D -f "$SLURM_CONF" -N "$name" >"$work/slurmd-$name.console.log" 2>&1 &
    pids+=($!)
done
disown -a

nodes=$(IFS=,; echo "${hosts[*]}")
say "waiting for nodes $nodes to be idle"
idle() { [ "$(echo "$states" | grep -c ' idle$')" -eq "${#hosts[@]}" ]; }
states=""
deadline=$((SECONDS + 60))
while [ "$SECONDS" -lt "$deadline" ]; do
    for pid in "${pids[@]:1}"; do kill -0 "$pid" 2>/dev/null || fail "a Slurm daemon exited at start"; done
    states=$(timeout 5 sinfo -h -N -n "$nodes" -o '%N %T' 2>/dev/null | sort -u || true)
    idle && break
    sleep 1
done
idle || fail "nodes are '$(echo "$states" | tr '\n' ' ')', not all idle: $(timeout 5 sinfo -R 2>&1 || true)"
timeout 5 sinfo -N

# --- 4. The jobs -------------------------------------------------------------
# What the jobs' mpirun needs on these hosts (from the test cluster's env file,
# without its rsh agent: under Slurm, mpirun starts its daemons with srun):
# daemon and MPI traffic on the hosts' subnet, no binding of its own (each
# slurmd, and so each rank, runs on its host's core), ranks that yield.
export OMPI_MCA_oob_tcp_if_include="$subnet"
export OMPI_MCA_btl_tcp_if_include="$subnet"
export OMPI_MCA_hwloc_base_binding_policy=none
export OMPI_MCA_rmaps_base_oversubscribe=1
export OMPI_MCA_mpi_yield_when_idle=1
export OMPI_ALLOW_RUN_AS_ROOT=1
export OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
unset OMPI_MCA_plm_rsh_agent

say "job 0: mpirun in a 2-node allocation puts a rank on each host"
timeout 60 sbatch --wait --job-name=env --nodes=2 --ntasks-per-node=1 --output="$work/run/env.out" \
    --chdir="$work/run" --wrap="mpirun -np 2 '$ddp' env" || fail "job 0 failed: $(cat "$work/run/env.out")"
cat "$work/run/env.out"
for i in "${!hosts[@]}"; do
    grep -q "^rank $i/2 host=${hosts[$i]} " "$work/run/env.out" || fail "job 0: rank $i did not run on ${hosts[$i]}"
done

write_tiny_config
# shellcheck disable=SC2054  # --export=ALL,DDP_BIN=... is one word
job_options=(--nodes=2 --ntasks-per-node=1 --export=ALL,DDP_BIN="$ddp" --chdir="$work/run")

say "job 1: train 30 steps on 2 nodes x 1 rank"
timeout 180 sbatch --wait --job-name=first --output="$work/run/first.out" "${job_options[@]}" \
    "$repo/launch/slurm.sbatch" --config "$config" --run-dir "$run_dir" \
    || fail "job 1 failed: $(cat "$work/run/first.out")"
cat "$work/run/first.out"
grep -q "^slurm.sbatch: job .* on ddp-host\[1-2\]: 2 ranks" "$work/run/first.out" || fail "job 1 did not run on ddp-host[1-2] with 2 ranks"
check_job1 "$work/run/first.out"

# Job 2 trains far enough that USR1 reaches it mid-run (the tiny MLP does
# about 3000 steps/s on two 1-core hosts here; the signal takes well under a
# second to reach the ranks), and not so far that the requeued run takes long.
final=${DDP_SLURM_CLUSTER_STEPS:-20000}
[[ $final =~ ^[1-9][0-9]*$ && $final -gt 1000 ]] || fail "DDP_SLURM_CLUSTER_STEPS must be a number above 1000"
log_every=$((final / 100))
out="$work/run/second.out"
say "job 2: resume, USR1 mid-run: checkpoint, exit 75, requeue, resume, finish $final steps"
job=$(timeout 30 sbatch --parsable --job-name=second --output="$out" "${job_options[@]}" \
    "$repo/launch/slurm.sbatch" --config "$config" --run-dir "$run_dir" \
    --set training.steps="$final" --set training.log_every="$log_every" --set training.eval_every=1000000 \
    --set checkpoint.every=1000000) || fail "cannot submit job 2"
job=${job%%;*}
wait_for_log "$out" 90 "resuming from step 30" || fail "job 2 did not resume from step 30"
wait_for_log "$out" 60 "^step [0-9]*/$final " || fail "job 2 did not train"
# A rank of `ddp train` in each host, under that host's name.
for name in "${hosts[@]}"; do
    found=""
    for pid in $(ip netns pids "$name" 2>/dev/null); do
        tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | grep -q " train --config $config" || continue
        [ "$(nsenter --uts --target "$pid" hostname 2>/dev/null)" = "$name" ] && found=$pid && break
    done
    [ -n "$found" ] || fail "job 2: no rank of ddp train runs inside $name"
    say "job 2: rank process $found runs inside $name"
done
signal_preemption "$job"
if ! wait_for_log "$out" 60 "slurm.sbatch: exit 75"; then
    grep -q "ddp: done, $final steps" "$out" \
        && fail "job 2 finished before USR1 reached it: set DDP_SLURM_CLUSTER_STEPS above $final"
    fail "job 2 did not exit with the preemption code"
fi
check_preempted "job 2" "$job" "$out"
[ "$preempted" -lt "$final" ] || fail "job 2 stopped at step $preempted of $final: set DDP_SLURM_CLUSTER_STEPS higher"
say "job 2: preempted at step $preempted, requeued"
release_requeued "job 2" "$job"
wait_for_log "$out" 60 "resuming from step $preempted" || fail "the requeued job 2 did not resume from step $preempted"
state=""
deadline=$((SECONDS + 300))
while [ "$SECONDS" -lt "$deadline" ]; do
    state=$(timeout 5 squeue -h -j "$job" -o %T 2>/dev/null || echo "unknown (squeue failed)")
    [ -z "$state" ] && break
    sleep 0.5
done
[ -z "$state" ] || fail "the requeued job 2 did not finish in 300 s (state $state)"
# Without most of the progress lines.
awk '!/^step / || ++n % 25 == 1' "$out"
grep -q "^slurm.sbatch: job $job (restart count 1) on ddp-host\[1-2\]: 2 ranks" "$out" \
    || fail "the requeued job 2 did not run on ddp-host[1-2] with 2 ranks"
grep -q "ddp: done, $final steps" "$out" || fail "the requeued job 2 did not finish $final steps"
[ "$(grep -c '^slurm.sbatch: exit 0' "$out")" -eq 1 ] || fail "the requeued job 2 did not exit 0"
[ -f "$run_dir/checkpoints/$(printf 'step-%08d' "$final")/model.safetensors" ] || fail "no checkpoint of the final step $final"
grep -q "\"step\":${final}[,}]" "$run_dir/metrics.jsonl" || fail "metrics.jsonl has no step $final"

say "PASS: 2-node Slurm jobs trained on both hosts, checkpointed, were preempted, requeued and finished ($((SECONDS - started)) s)"
