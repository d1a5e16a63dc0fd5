#!/usr/bin/env bash
# A cluster of test "hosts" on this one machine, for running mpirun across real,
# separate network stacks without any other machine: each host is a Linux
# network namespace (ddp-host1..ddp-hostN) with its own eth0 (10.213.7.(10+i)/24)
# on a private bridge ddpbr0 (10.213.7.1/24) in the root namespace, where
# mpirun runs. The subnet exists only on that bridge and in those namespaces:
# nothing routes it anywhere else, so no traffic leaves the machine.
#
#   launch/test-cluster.sh up N [--rate RATE] [--delay DELAY] [--slots S]
#                       # make N hosts (no-op if up with the same N and S, else re-made);
#                       # S: slots per host in the hostfile (default: the host's cores)
#   launch/test-cluster.sh status      # hosts, addresses, cores, link, shaping; exit 1 if down
#   launch/test-cluster.sh shape HOST|all RATE [DELAY]   # e.g. 1gbit 1ms; RATE none = no rate limit
#   launch/test-cluster.sh shape HOST|all none           # remove shaping
#   launch/test-cluster.sh cut HOST    # pull HOST's cable (its bridge port goes down;
#                                      # packets are lost silently, nothing errors at once)
#   launch/test-cluster.sh restore HOST
#   launch/test-cluster.sh reset HOST  # end every process in HOST (after a cut)
#   launch/test-cluster.sh exec HOST CMD...              # run CMD inside HOST
#   launch/test-cluster.sh iperf [SECONDS]               # TCP throughput ddp-host1 -> ddp-host2
#   launch/test-cluster.sh down        # remove everything (also kills what runs in the hosts)
#
# Then, for example (2 hosts x 1 rank, or -np 4 for 2 x 2: the env file allows
# oversubscription, so no other mpirun flag is needed):
#   source /run/ddp-test-cluster/env
#   mpirun --hostfile /run/ddp-test-cluster/hostfile -np 2 ./a.out
# With --slots above 1, add --map-by node to spread few ranks over the hosts.
# A cut host stalls the job: OpenMPI notices only through its daemons' TCP
# keepalive (about 8 minutes by default; ~10 s with OMPI_MCA_oob_tcp_keepalive_time=5
# OMPI_MCA_oob_tcp_keepalive_intvl=2 OMPI_MCA_oob_tcp_keepalive_probes=3), and
# mpirun ignores SIGTERM meanwhile. A host restored in time lets the job go on.
#
# The state directory (default /run/ddp-test-cluster, env DDP_CLUSTER_DIR)
# holds: hostfile (for mpirun --hostfile), rsh-agent, env (to source), hosts
# (name address cores per line), cores (name cores), shaping (name rate delay),
# slots. Each host also gets /etc/netns/HOST/hosts.
#
# Why an rsh agent: mpirun starts one orted daemon per remote host through
# ssh. The agent stands in for ssh: OpenMPI calls it as `rsh-agent HOST WORD...`
# and, like ssh, the words joined by spaces are one shell command line (with
# quotes meant for that shell). The agent runs it in HOST's namespace, in a
# fresh environment like an ssh login, so only what mpirun passes on reaches
# the daemons and ranks, as on real nodes.
#
# Why distinct hostnames: every namespace shares the kernel's one hostname
# unless it gets its own UTS namespace (unshare --uts). OpenMPI tells nodes
# apart by hostname: two "hosts" with the same name would share session
# directories and shared-memory (vader) segment names and crash. The hostfile
# lists the names; each host resolves the others through /etc/netns/HOST/hosts
# (which `ip netns exec` mounts over /etc/hosts); the root namespace's
# /etc/hosts is not touched.
#
# Why taskset: every orted thinks it owns the whole machine and would bind its
# first rank to core 0, so ranks of two hosts would share a core. The agent
# runs each host's daemon under `taskset -c CORES` (cores dealt round-robin
# over the hosts; hosts share cores when there are more hosts than cores), and
# the env file turns OpenMPI's own binding off so ranks keep those cores
# (without that, both hosts' ranks were bound to core 0: a 4 KiB allreduce took
# ~8 ms instead of ~30 us), and makes waiting ranks yield, since no orted can
# see that its host is oversubscribed.
#
# Shaping uses tc on each host's eth0 (egress): tbf for RATE, netem for DELAY.
# A kernel without sch_netem (modules off) cannot add delay: --delay then
# fails, while RATE still works.
#
# Needs root, ip (iproute2), tc, unshare and taskset (util-linux), installed with
# apt-get when missing. iperf3 is installed only by the iperf subcommand.
set -euo pipefail

STATE=${DDP_CLUSTER_DIR:-/run/ddp-test-cluster}
BRIDGE=ddpbr0
NET=10.213.7            # the /24 that exists only on the bridge and in the hosts
BRIDGE_ADDR=$NET.1
PREFIX=ddp-host         # namespace (and hostname) ddp-host1, ddp-host2, ...
VETH=ddpv               # root-side veth ends: ddpv1, ddpv2, ...
MAX_HOSTS=200

say() { echo "test-cluster: $*"; }
warn() { echo "test-cluster: $*" >&2; }
die() { warn "$*"; exit 1; }
usage_error() { warn "$*"; warn "usage: $0 up N [--rate RATE] [--delay DELAY] [--slots S] | down | status | shape HOST|all RATE [DELAY] | cut HOST | restore HOST | reset HOST | exec HOST CMD... | iperf [SECONDS]"; exit 2; }

# --- environment ------------------------------------------------------------

need_root() {
    [ "$(id -u)" -eq 0 ] || die "needs root (creates network namespaces, veths and a bridge)"
}

apt_install() {
    export DEBIAN_FRONTEND=noninteractive
    say "installing $*"
    timeout 300 apt-get update -qq || die "apt-get update failed; install $* by hand"
    timeout 600 apt-get install -y -qq --no-install-recommends "$@" >/tmp/test-cluster-apt.log 2>&1 \
        || die "apt-get install $* failed (see /tmp/test-cluster-apt.log)"
}

need_tools() {
    local missing=()
    command -v ip >/dev/null && command -v tc >/dev/null || missing+=(iproute2)
    command -v unshare >/dev/null && command -v taskset >/dev/null || missing+=(util-linux)
    command -v hostname >/dev/null || missing+=(hostname)
    [ ${#missing[@]} -eq 0 ] || apt_install "${missing[@]}"
    ip netns list >/dev/null 2>&1 || die "'ip netns' does not work here (no network namespace support?)"
}

# --- state ------------------------------------------------------------------

is_up() { [ -f "$STATE/hosts" ] && ip link show "$BRIDGE" >/dev/null 2>&1; }
host_count() { [ -f "$STATE/hosts" ] && wc -l <"$STATE/hosts" || echo 0; }
host_names() { [ -f "$STATE/hosts" ] && awk '{print $1}' "$STATE/hosts"; }
host_field() { awk -v h="$1" -v f="$2" '$1 == h {print $f}' "$STATE/hosts"; }

# A host name given as NAME, a number i (= ddp-host i) or its address.
resolve_host() {
    local arg=$1 name
    [ -f "$STATE/hosts" ] || die "the cluster is not up (launch/test-cluster.sh up N)"
    case "$arg" in [0-9]|[0-9][0-9]|[0-9][0-9][0-9]) arg=$PREFIX$arg ;; esac
    name=$(awk -v h="$arg" '$1 == h || $2 == h {print $1}' "$STATE/hosts")
    [ -n "$name" ] || die "no host '$1' in the cluster (hosts: $(host_names | tr '\n' ' '))"
    echo "$name"
}

# The CPUs this process may use, as a list of numbers ("0-3,6" -> 0 1 2 3 6).
usable_cpus() {
    local list part
    list=$(awk '/^Cpus_allowed_list:/ {print $2}' /proc/self/status)
    for part in ${list//,/ }; do
        if [[ $part == *-* ]]; then seq "${part%-*}" "${part#*-}"; else echo "$part"; fi
    done
}

# Cores of host i (1-based) out of n: round-robin; hosts share when n > cores.
cores_of() {
    local i=$1 n=$2 cpus count j out=()
    mapfile -t cpus < <(usable_cpus)
    count=${#cpus[@]}
    if [ "$n" -ge "$count" ]; then
        echo "${cpus[$(((i - 1) % count))]}"
        return
    fi
    for ((j = i - 1; j < count; j += n)); do out+=("${cpus[$j]}"); done
    local IFS=,
    echo "${out[*]}"
}

# --- shaping ----------------------------------------------------------------

# "1gbit" -> bytes per second (tc units: bit, kbit, mbit, gbit, tbit, bps, kbps, ...).
rate_bytes() {
    awk -v r="$1" 'BEGIN {
        r = tolower(r); n = r + 0; u = r; sub(/^[0-9.]+/, "", u)
        m["bit"] = 1/8; m["kbit"] = 1e3/8; m["mbit"] = 1e6/8; m["gbit"] = 1e9/8; m["tbit"] = 1e12/8
        m["bps"] = 1; m["kbps"] = 1e3; m["mbps"] = 1e6; m["gbps"] = 1e9
        m["kibit"] = 1024/8; m["mibit"] = 1048576/8; m["gibit"] = 1073741824/8
        if (n <= 0 || !(u in m)) exit 1
        printf "%d\n", n * m[u] }'
}

is_none() { case "${1:-}" in "" | none | 0 | 0ms | 0us | 0s | off) return 0 ;; *) return 1 ;; esac; }

NETEM_OK=""
netem_available() {
    if [ -z "$NETEM_OK" ]; then
        NETEM_OK=1
        # In a throwaway namespace: probing on a host would drop its shaping.
        if ip netns add ddp-probe-netem 2>/dev/null; then
            ip netns exec ddp-probe-netem tc qdisc add dev lo root netem delay 1ms >/dev/null 2>&1 && NETEM_OK=0
            ip netns del ddp-probe-netem 2>/dev/null || true
        fi
    fi
    return "$NETEM_OK"
}

# Fails before anything is changed when DELAY is asked for and netem is missing.
check_delay() {
    local delay=$1
    is_none "$delay" || netem_available \
        || die "this kernel has no netem qdisc (sch_netem), so a delay ($delay) cannot be added; only a rate works here"
}

# shape_host HOST RATE DELAY: replaces HOST's eth0 egress qdisc (none/none = default).
shape_host() {
    local host=$1 rate=$2 delay=$3 bytes burst
    check_delay "$delay"
    ip netns exec "$host" tc qdisc del dev eth0 root >/dev/null 2>&1 || true
    if ! is_none "$rate"; then
        bytes=$(rate_bytes "$rate") || usage_error "bad rate '$rate' (e.g. 1gbit, 100mbit)"
        # Bucket: 4 ms of traffic, at least 64 KiB (one GSO super-packet).
        burst=$((bytes / 250)); [ "$burst" -ge 65536 ] || burst=65536
        ip netns exec "$host" tc qdisc add dev eth0 root handle 1: tbf rate "$rate" burst "$burst" latency 100ms \
            || die "tc tbf rate $rate on $host failed"
        if ! is_none "$delay"; then
            ip netns exec "$host" tc qdisc add dev eth0 parent 1:1 handle 10: netem delay "$delay" limit 100000 \
                || die "tc netem delay $delay on $host failed"
        fi
    elif ! is_none "$delay"; then
        ip netns exec "$host" tc qdisc add dev eth0 root handle 10: netem delay "$delay" limit 100000 \
            || die "tc netem delay $delay on $host failed"
    fi
    is_none "$rate" && rate=none
    is_none "$delay" && delay=none
    { grep -v "^$host " "$STATE/shaping" 2>/dev/null || true; echo "$host $rate $delay"; } >"$STATE/shaping.new"
    sort -V "$STATE/shaping.new" >"$STATE/shaping"
    rm -f "$STATE/shaping.new"
}

# --- files for mpirun -------------------------------------------------------

write_agent() {
    cat >"$STATE/rsh-agent" <<EOF
#!/bin/sh
# OpenMPI's plm_rsh_agent for the test cluster (written by launch/test-cluster.sh):
# called as ssh would be, \`rsh-agent [ssh options] HOST WORD...\`; the words, joined
# by spaces, are one shell command line, which runs inside HOST's network
# namespace, with HOST as hostname (own UTS namespace), on HOST's cores, in a
# fresh environment like an ssh login.
state='$STATE'
EOF
    cat >>"$STATE/rsh-agent" <<'EOF'
while [ $# -gt 0 ]; do
    case "$1" in
        -o | -p | -l | -i | -F | -E) shift 2 ;;   # ssh options with a value
        -*) shift ;;                               # -x, -T, -n, -q, ...
        *) break ;;
    esac
done
[ $# -ge 1 ] || { echo "rsh-agent: no host given" >&2; exit 255; }
target=${1#*@}
shift
line=$(awk -v h="$target" '$1 == h || $2 == h' "$state/hosts" 2>/dev/null)
[ -n "$line" ] || { echo "rsh-agent: $target is not a host of the test cluster ($state/hosts)" >&2; exit 255; }
set -- "$line" "$*"
host=$(echo "$1" | awk '{print $1}')
cores=$(echo "$1" | awk '{print $3}')
cmd=$2
[ -n "$DDP_CLUSTER_AGENT_LOG" ] && printf '%s %s: %s\n' "$(date +%T)" "$host" "$cmd" >>"$DDP_CLUSTER_AGENT_LOG"
exec ip netns exec "$host" unshare --uts -- taskset -c "$cores" \
    env -i HOME="${HOME:-/root}" USER="${USER:-root}" LOGNAME="${LOGNAME:-root}" SHELL=/bin/sh \
        PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
    sh -c 'hostname "$1" || exit 255; exec sh -c "$2"' rsh-agent "$host" "$cmd"
EOF
    chmod 755 "$STATE/rsh-agent"
}

write_env() {
    cat >"$STATE/env" <<EOF
# Source this before mpirun to use the test cluster (written by launch/test-cluster.sh).
# Daemons start through the rsh agent, in the hosts' namespaces.
export OMPI_MCA_plm_rsh_agent=$STATE/rsh-agent
# One agent call per host from mpirun itself (no daemon launching daemons).
export OMPI_MCA_plm_rsh_no_tree_spawn=1
# Daemon and MPI traffic only on the cluster's subnet.
export OMPI_MCA_oob_tcp_if_include=$NET.0/24
export OMPI_MCA_btl_tcp_if_include=$NET.0/24
# The agent gives each host its own cores; OpenMPI's binding would put every
# host's first rank on core 0 again.
export OMPI_MCA_hwloc_base_binding_policy=none
# More ranks than a host's slots (e.g. 2 hosts x 2 ranks on 2 cores) ...
export OMPI_MCA_rmaps_base_oversubscribe=1
# ... and then waiting ranks must yield their core: each orted counts the whole
# machine's cores, so OpenMPI does not see that its host is oversubscribed, and
# ranks sharing a core would spin through whole time slices (4 KiB allreduce:
# ~15 ms instead of ~50 us).
export OMPI_MCA_mpi_yield_when_idle=1
# mpirun runs as root here.
export OMPI_ALLOW_RUN_AS_ROOT=1
export OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
export DDP_CLUSTER_DIR=$STATE
EOF
}

write_host_files() {
    local slots=$1 name addr cores
    : >"$STATE/hostfile"
    : >"$STATE/cores"
    echo "# test cluster hosts (launch/test-cluster.sh): one line per host" >"$STATE/hostfile"
    while read -r name addr cores; do
        echo "$name slots=${slots:-$(echo "$cores" | tr ',' '\n' | wc -l)}" >>"$STATE/hostfile"
        echo "$name $cores" >>"$STATE/cores"
    done <"$STATE/hosts"
    # Name resolution inside the hosts: `ip netns exec` mounts /etc/netns/NAME/hosts over /etc/hosts.
    while read -r name addr cores; do
        mkdir -p "/etc/netns/$name"
        {
            echo "# written by launch/test-cluster.sh for the test host $name"
            echo "127.0.0.1 localhost"
            echo "$BRIDGE_ADDR ddp-launcher"
            awk '{print $2, $1}' "$STATE/hosts"
        } >"/etc/netns/$name/hosts"
    done <"$STATE/hosts"
}

# --- up / down --------------------------------------------------------------

create_bridge() {
    ip link add "$BRIDGE" type bridge
    echo 1 >"/proc/sys/net/ipv6/conf/$BRIDGE/disable_ipv6" 2>/dev/null || true
    ip addr add "$BRIDGE_ADDR/24" dev "$BRIDGE"
    ip link set "$BRIDGE" up
}

create_host() {
    local i=$1 n=$2 name=$PREFIX$1 addr=$NET.$((10 + $1)) cores
    cores=$(cores_of "$i" "$n")
    ip netns add "$name"
    echo "$name $addr $cores" >>"$STATE/hosts"
    ip netns exec "$name" sysctl -qw net.ipv6.conf.all.disable_ipv6=1 net.ipv6.conf.default.disable_ipv6=1 || true
    ip link add "$VETH$i" type veth peer name eth0 netns "$name"
    echo 1 >"/proc/sys/net/ipv6/conf/$VETH$i/disable_ipv6" 2>/dev/null || true
    ip link set "$VETH$i" master "$BRIDGE"
    ip link set "$VETH$i" up
    ip netns exec "$name" ip link set lo up
    ip netns exec "$name" ip addr add "$addr/24" dev eth0
    ip netns exec "$name" ip link set eth0 up
}

# Waits (at most 5 s a host) until every bridge port is up.
wait_links() {
    local name addr _
    while read -r name addr _; do
        for _ in $(seq 50); do
            [ "$(cat "/sys/class/net/$VETH${name#"$PREFIX"}/operstate" 2>/dev/null)" = up ] && break
            sleep 0.1
        done
    done <"$STATE/hosts"
}

kill_host_processes() {
    local name=$1 pids pass
    for pass in TERM TERM KILL; do
        pids=$(ip netns pids "$name" 2>/dev/null | tr '\n' ' ') || true
        [ -n "${pids// /}" ] || return 0
        # shellcheck disable=SC2086
        kill -s "$pass" $pids 2>/dev/null || true
        sleep 0.5
    done
}

teardown() {
    local name i
    for name in $(ip netns list 2>/dev/null | awk '{print $1}' | grep -E "^${PREFIX}[0-9]+$" || true); do
        kill_host_processes "$name"
        ip netns del "$name" 2>/dev/null || warn "could not delete namespace $name"
        rm -rf "/etc/netns/$name"
    done
    for i in $(ip -o link show 2>/dev/null | awk -F': ' '{print $2}' | sed 's/@.*//' | grep -E "^${VETH}[0-9]+$" || true); do
        ip link del "$i" 2>/dev/null || true
    done
    ip link del "$BRIDGE" 2>/dev/null || true
    ip netns del ddp-probe-netem 2>/dev/null || true
    rm -rf "$STATE"
}

UP_IN_PROGRESS=0
on_exit() {
    local status=$?
    if [ "$UP_IN_PROGRESS" -eq 1 ] && [ "$status" -ne 0 ]; then
        warn "up failed (exit $status); removing what it made"
        teardown
    fi
}

cmd_up() {
    local n="" rate=none delay=none slots="" shaped=0 name i clash
    while [ $# -gt 0 ]; do
        case "$1" in
            --rate) [ $# -ge 2 ] || usage_error "--rate needs a value"; rate=$2; shaped=1; shift 2 ;;
            --delay) [ $# -ge 2 ] || usage_error "--delay needs a value"; delay=$2; shaped=1; shift 2 ;;
            --slots) [ $# -ge 2 ] || usage_error "--slots needs a value"; slots=$2; shift 2 ;;
            -*) usage_error "up: unknown option $1" ;;
            *) [ -z "$n" ] || usage_error "up: one N only"; n=$1; shift ;;
        esac
    done
    [[ $n =~ ^[0-9]+$ ]] && [ "$n" -ge 1 ] && [ "$n" -le $MAX_HOSTS ] || usage_error "up: N must be 1..$MAX_HOSTS"
    [ -z "$slots" ] || [[ $slots =~ ^[1-9][0-9]*$ ]] || usage_error "up: --slots must be a positive number"
    if ! is_none "$rate"; then rate_bytes "$rate" >/dev/null || usage_error "up: bad rate '$rate' (e.g. 1gbit, 100mbit)"; fi
    need_root
    need_tools
    check_delay "$delay"

    if is_up && [ "$(host_count)" -eq "$n" ] && [ "$(cat "$STATE/slots" 2>/dev/null)" = "${slots:-auto}" ] \
        && all_namespaces_present; then
        say "already up (hosts: $n)"
        # The files are cheap to rewrite (and pick up a newer version of this script).
        write_host_files "$slots"
        write_agent
        write_env
        if [ "$shaped" -eq 1 ]; then
            for name in $(host_names); do shape_host "$name" "$rate" "$delay"; done
        fi
        print_summary
        return
    fi
    if is_up || [ -e "$STATE" ] || ip link show "$BRIDGE" >/dev/null 2>&1 || ip netns list | grep -qE "^${PREFIX}[0-9]+"; then
        say "re-creating the cluster (was: $(host_count) hosts)"
        teardown
    fi
    clash=$(ip -o -4 addr show | awk -v net="$NET." 'index($4, net) == 1 {print $2}')
    [ -z "$clash" ] || die "$NET.0/24 is already in use on $clash; not touching it"

    UP_IN_PROGRESS=1
    mkdir -p "$STATE"
    : >"$STATE/hosts"
    : >"$STATE/shaping"
    echo "${slots:-auto}" >"$STATE/slots"
    create_bridge
    for ((i = 1; i <= n; i++)); do create_host "$i" "$n"; done
    for name in $(host_names); do shape_host "$name" "$rate" "$delay"; done
    write_host_files "$slots"
    write_agent
    write_env
    wait_links
    UP_IN_PROGRESS=0
    say "up: hosts: $n, on $BRIDGE ($NET.0/24); state in $STATE"
    print_summary
}

all_namespaces_present() {
    local name
    for name in $(host_names); do
        [ -e "/run/netns/$name" ] || return 1
    done
}

cmd_down() {
    [ $# -eq 0 ] || usage_error "down takes no arguments"
    need_root
    command -v ip >/dev/null || { rm -rf "$STATE"; say "down (no ip command: nothing to remove)"; return; }
    teardown
    say "down: no test hosts left"
}

# --- status and the rest ----------------------------------------------------

qdisc_summary() {
    ip netns exec "$1" tc qdisc show dev eth0 2>/dev/null | awk '
        $2 == "tbf" { for (i = 1; i <= NF; i++) if ($i == "rate") r = "rate " $(i + 1) }
        $2 == "netem" { for (i = 1; i <= NF; i++) if ($i == "delay") d = "delay " $(i + 1) }
        END { s = r (r != "" && d != "" ? " " : "") d; print (s == "" ? "unshaped" : s) }'
}

print_summary() {
    local name addr cores link
    printf '%-12s %-14s %-8s %-6s %s\n' HOST ADDRESS CORES LINK SHAPING
    while read -r name addr cores; do
        link=$(cat "/sys/class/net/$VETH${name#"$PREFIX"}/operstate" 2>/dev/null || echo missing)
        [ "$link" = down ] && link=CUT
        printf '%-12s %-14s %-8s %-6s %s\n' "$name" "$addr" "$cores" "$link" "$(qdisc_summary "$name")"
    done <"$STATE/hosts"
    echo "hostfile: $STATE/hostfile   env: source $STATE/env"
}

cmd_status() {
    [ $# -eq 0 ] || usage_error "status takes no arguments"
    need_root
    if ! is_up; then
        warn "not up"
        exit 1
    fi
    say "up: hosts: $(host_count), on $BRIDGE ($BRIDGE_ADDR/24); state in $STATE"
    print_summary
    all_namespaces_present || { warn "some namespaces are missing; run up again"; exit 1; }
}

cmd_shape() {
    [ $# -ge 2 ] && [ $# -le 3 ] || usage_error "usage: shape HOST|all RATE [DELAY] | shape HOST|all none"
    local target=$1 rate=$2 delay=${3:-none} hosts name
    need_root
    is_up || die "the cluster is not up"
    if ! is_none "$rate"; then rate_bytes "$rate" >/dev/null || usage_error "bad rate '$rate' (e.g. 1gbit, 100mbit)"; fi
    if [ "$target" = all ]; then hosts=$(host_names); else hosts=$(resolve_host "$target"); fi
    check_delay "$delay"
    for name in $hosts; do
        shape_host "$name" "$rate" "$delay"
        say "$name: $(qdisc_summary "$name")"
    done
}

# One host argument, checked, for cut/restore/reset: prints the host's name.
one_host() {
    local command=$1
    shift
    [ $# -eq 1 ] || usage_error "usage: $command HOST"
    need_root
    resolve_host "$1"
}

cmd_cut() {
    local name
    name=$(one_host cut "$@")
    # The bridge port goes down, as when a cable is pulled at the switch: the host
    # keeps its address and routes, and its packets are silently lost.
    ip link set "$VETH${name#"$PREFIX"}" down
    say "$name cut off (its link is down; restore with: $0 restore $name)"
}

cmd_restore() {
    local name
    name=$(one_host restore "$@")
    ip link set "$VETH${name#"$PREFIX"}" up
    say "$name restored"
}

cmd_reset() {
    local name
    name=$(one_host reset "$@")
    # What an operator does to a host that was cut off: its orphaned daemons and
    # ranks would otherwise clean up OpenMPI's session directory under the next job.
    kill_host_processes "$name"
    say "$name reset (every process in it ended)"
}

cmd_exec() {
    [ $# -ge 2 ] || usage_error "usage: exec HOST CMD..."
    need_root
    local name cores
    name=$(resolve_host "$1")
    shift
    cores=$(host_field "$name" 3)
    exec ip netns exec "$name" unshare --uts -- taskset -c "$cores" \
        sh -c 'hostname "$0" && exec "$@"' "$name" "$@"
}

cmd_iperf() {
    [ $# -le 1 ] || usage_error "usage: iperf [SECONDS]"
    local seconds=${1:-3} server client addr out gbits spid
    [[ $seconds =~ ^[1-9][0-9]?$ ]] || usage_error "iperf: SECONDS must be 1..99"
    need_root
    is_up || die "the cluster is not up"
    [ "$(host_count)" -ge 2 ] || die "iperf needs at least 2 hosts"
    command -v iperf3 >/dev/null || apt_install iperf3
    server=${PREFIX}2 client=${PREFIX}1
    addr=$(host_field "$server" 2)
    "$0" exec "$server" timeout $((seconds + 20)) iperf3 -s -1 -B "$addr" -p 5201 >/dev/null 2>&1 &
    spid=$!
    sleep 1
    out=$("$0" exec "$client" timeout $((seconds + 15)) iperf3 -c "$addr" -p 5201 -t "$seconds" -f g 2>&1) || {
        kill "$spid" 2>/dev/null || true
        die "iperf3 failed: $out"
    }
    wait "$spid" 2>/dev/null || true
    gbits=$(echo "$out" | awk '/receiver/ {for (i = 1; i <= NF; i++) if ($i == "Gbits/sec") print $(i - 1)}')
    say "TCP $client -> $server ($seconds s, $(qdisc_summary "$client")): ${gbits:-?} Gbit/s"
}

main() {
    [ $# -ge 1 ] || usage_error "no command given"
    local command=$1
    shift
    trap on_exit EXIT
    case "$command" in
        up) cmd_up "$@" ;;
        down) cmd_down "$@" ;;
        status) cmd_status "$@" ;;
        shape) cmd_shape "$@" ;;
        cut) cmd_cut "$@" ;;
        restore) cmd_restore "$@" ;;
        reset) cmd_reset "$@" ;;
        exec) cmd_exec "$@" ;;
        iperf) cmd_iperf "$@" ;;
        -h | --help | help) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//' ;;
        *) usage_error "unknown command '$command'" ;;
    esac
}

main "$@"
