#!/usr/bin/env bash
# slurm-local.sh — a real single-node Slurm on this (Debian) machine, for tests and for trying
# `joule sweep --slurm` without a cluster.
#
#   tools/slurm-local.sh [start]   install (apt) and start munged, slurmctld and slurmd; wait until
#                                  `sinfo` shows the node idle. Idempotent: a running setup is kept.
#   tools/slurm-local.sh stop      stop the daemons this script started, remove its config and state.
#   tools/slurm-local.sh status    sinfo and squeue.
#
# Environment: JOULE_SLURM_CPUS (CPUs the node offers, default: nproc; more than the machine has is
# allowed, tasks then share cores), JOULE_SLURM_DIR (state, logs, pid files; default
# /var/tmp/joule-slurm), JOULE_SLURM_NO_INSTALL=1 (never run apt-get).
#
# The config goes to /etc/slurm/slurm.conf, where sbatch, squeue and sinfo look without SLURM_CONF, but
# only when that file is absent or was written by this script: a machine's own Slurm config is never
# touched (the script stops with a message instead). Needs root (daemons, /etc, apt-get).
set -euo pipefail

DIR=${JOULE_SLURM_DIR:-/var/tmp/joule-slurm}
CONF=/etc/slurm/slurm.conf
MARK="# written by joule tools/slurm-local.sh"
PKGS="slurmctld slurmd slurm-client munge"
WAIT_S=90

die() { echo "slurm-local.sh: $*" >&2; exit 1; }
say() { echo "slurm-local.sh: $*" >&2; }

SUDO=""
if [ "$(id -u)" != 0 ]; then
    command -v sudo >/dev/null || die "needs root (daemons, $CONF, apt-get) and there is no sudo"
    SUDO=sudo
fi

# A pid file's process, when it is alive and runs the named program (a stale pid file whose number was
# reused by something else does not count).
pid_alive() {
    local f=$1 prog=$2 pid
    [ -f "$f" ] || return 1
    pid=$(cat "$f" 2>/dev/null) || return 1
    [[ "$pid" =~ ^[0-9]+$ ]] || return 1
    [ -d "/proc/$pid" ] || return 1
    grep -q "$prog" "/proc/$pid/comm" 2>/dev/null
}

node_state() { sinfo -h -N -n "$NODE" -o %t 2>/dev/null | head -n1; }

conf_ours() { [ -f "$CONF" ] && head -n1 "$CONF" | grep -qF "$MARK"; }

install_pkgs() {
    local miss=""
    command -v slurmctld >/dev/null || miss="$miss slurmctld"
    command -v slurmd >/dev/null || miss="$miss slurmd"
    command -v sbatch >/dev/null || miss="$miss slurm-client"
    command -v munged >/dev/null || miss="$miss munge"
    [ -n "$miss" ] || return 0
    [ "${JOULE_SLURM_NO_INSTALL:-}" = 1 ] && die "missing:$miss (JOULE_SLURM_NO_INSTALL=1: not installing)"
    say "installing$miss"
    # shellcheck disable=SC2086
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get -o DPkg::Lock::Timeout=600 install -y -qq $PKGS >/dev/null ||
        die "apt-get install $PKGS failed"
}

write_conf() {
    local cpus=$1 tmp
    tmp=$(mktemp)
    # proctrack/linuxproc and task/none: no cgroups (containers, gVisor); accounting off (no slurmdbd);
    # cons_tres + CR_CPU: one CPU per array task, so tasks run side by side; config_overrides lets the
    # node offer more CPUs than the machine has; root runs the daemons (one machine, tests only).
    cat >"$tmp" <<EOF
$MARK — single-node Slurm for tests; \`tools/slurm-local.sh stop\` removes it.
ClusterName=joule-local
SlurmctldHost=$NODE(127.0.0.1)
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
CredType=cred/munge
MpiDefault=none
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
JobCompType=jobcomp/none
SchedulerType=sched/backfill
SelectType=select/cons_tres
SelectTypeParameters=CR_CPU
SlurmdParameters=config_overrides
ReturnToService=2
MaxArraySize=10001
SlurmctldPort=6817
SlurmdPort=6818
StateSaveLocation=$DIR/state
SlurmdSpoolDir=$DIR/spool
SlurmctldPidFile=$DIR/slurmctld.pid
SlurmdPidFile=$DIR/slurmd.pid
SlurmctldLogFile=$DIR/slurmctld.log
SlurmdLogFile=$DIR/slurmd.log
SlurmctldTimeout=30
SlurmdTimeout=30
InactiveLimit=0
MinJobAge=300
KillWait=5
Waittime=0
NodeName=$NODE NodeAddr=127.0.0.1 CPUs=$cpus State=UNKNOWN
PartitionName=debug Nodes=$NODE Default=YES MaxTime=INFINITE State=UP OverSubscribe=NO
EOF
    $SUDO mkdir -p /etc/slurm
    $SUDO install -m 0644 "$tmp" "$CONF"
    rm -f "$tmp"
}

start() {
    install_pkgs
    NODE=$(hostname -s)
    [ -n "$NODE" ] || die "hostname -s is empty"
    getent hosts "$NODE" >/dev/null || die "the host name '$NODE' does not resolve (add it to /etc/hosts)"
    if [ -f "$CONF" ] && ! conf_ours; then
        die "$CONF exists and was not written by this script: this machine has its own Slurm; use it"
    fi
    if conf_ours && pid_alive "$DIR/slurmctld.pid" slurmctld && pid_alive "$DIR/slurmd.pid" slurmd; then
        case "$(node_state)" in
        idle | mix | alloc)
            say "already running (node $NODE: $(node_state))"
            return 0
            ;;
        esac
    fi
    local cpus=${JOULE_SLURM_CPUS:-$(nproc 2>/dev/null || echo 2)}
    [[ "$cpus" =~ ^[1-9][0-9]{0,3}$ ]] || die "JOULE_SLURM_CPUS='$cpus' is not a CPU count"
    $SUDO mkdir -p "$DIR/state" "$DIR/spool"
    write_conf "$cpus"

    # munge: the key comes with the package; the daemon runs as the munge user.
    if ! pid_alive /run/munge/munged.pid munged; then
        $SUDO mkdir -p /run/munge /var/log/munge /var/lib/munge
        $SUDO chown munge:munge /run/munge /var/log/munge /var/lib/munge
        $SUDO chmod 0755 /run/munge
        if [ ! -s /etc/munge/munge.key ]; then
            $SUDO mkdir -p /etc/munge
            $SUDO dd if=/dev/urandom of=/etc/munge/munge.key bs=128 count=1 status=none
            $SUDO chown munge:munge /etc/munge/munge.key
            $SUDO chmod 0400 /etc/munge/munge.key
        fi
        $SUDO runuser -u munge -- /usr/sbin/munged || die "munged did not start (see /var/log/munge/munged.log)"
        $SUDO touch "$DIR/munged.ours"
    fi
    munge -n </dev/null | unmunge >/dev/null 2>&1 || die "munge does not round-trip a credential"

    if ! pid_alive "$DIR/slurmctld.pid" slurmctld; then
        # -i: ignore state files of an earlier run that no longer match the config
        $SUDO /usr/sbin/slurmctld -i || die "slurmctld did not start (see $DIR/slurmctld.log)"
    fi
    if ! pid_alive "$DIR/slurmd.pid" slurmd; then
        $SUDO /usr/sbin/slurmd || die "slurmd did not start (see $DIR/slurmd.log)"
    fi

    local t=0 st=""
    while [ $t -lt $WAIT_S ]; do
        st=$(node_state)
        case "$st" in
        idle | mix | alloc) say "node $NODE is $st ($cpus CPUs); config $CONF, logs in $DIR"; return 0 ;;
        drain* | down*) # a node that came back after a config change: return it to service once
            $SUDO scontrol update NodeName="$NODE" State=RESUME >/dev/null 2>&1 || true ;;
        esac
        sleep 1
        t=$((t + 1))
    done
    say "node $NODE not idle after ${WAIT_S}s (state '${st:-none}'); last log lines:"
    tail -n 5 "$DIR/slurmctld.log" "$DIR/slurmd.log" >&2 2>/dev/null || true
    exit 1
}

stop_one() { # pid file, program name
    local f=$1 prog=$2 pid i
    pid_alive "$f" "$prog" || return 0
    pid=$(cat "$f")
    $SUDO kill "$pid" 2>/dev/null || true
    for i in $(seq 1 50); do
        [ -d "/proc/$pid" ] || return 0
        sleep 0.2
    done
    say "$prog ($pid) still running after 10 s; sending KILL"
    $SUDO kill -9 "$pid" 2>/dev/null || true
}

stop() {
    if [ -f "$CONF" ] && ! conf_ours; then
        die "$CONF was not written by this script: leaving this machine's Slurm alone"
    fi
    stop_one "$DIR/slurmd.pid" slurmd
    stop_one "$DIR/slurmctld.pid" slurmctld
    if [ -f "$DIR/munged.ours" ]; then stop_one /run/munge/munged.pid munged; fi
    if conf_ours; then $SUDO rm -f "$CONF"; fi
    case "$DIR" in /var/tmp/joule-slurm | /tmp/*) $SUDO rm -rf "$DIR" ;; *) say "left $DIR in place" ;; esac
    say "stopped"
}

case "${1:-start}" in
start) start ;;
stop) stop ;;
status) sinfo && squeue ;;
-h | --help) sed -n '2,16p' "$0" | sed 's/^# \{0,1\}//' ;;
*) die "unknown command '$1' (start, stop, status, --help)" ;;
esac
