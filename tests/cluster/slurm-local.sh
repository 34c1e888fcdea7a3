#!/usr/bin/env bash
# A single-node SLURM test cluster on this machine, owned by the project
# (README.md, "Running on a SLURM cluster").
#
#   slurm-local.sh install   apt-get install Debian's SLURM, munge, slurmdbd and mariadb-server
#   slurm-local.sh up        write the configuration, start munge, mariadb, slurmdbd, slurmctld,
#                            slurmd (in that order), create the account, wait until the node is idle
#   slurm-local.sh down      stop every daemon that `up` started, by the PID it recorded, and
#                            un-configure (remove /etc/slurm/slurm.conf, see below)
#   slurm-local.sh status    print the recorded daemons and sinfo
#
# Needs root, no systemd and no cgroups (ProctrackType=proctrack/linuxproc, TaskPlugin=task/none).
# Accounting (slurmdbd + a local MariaDB) is on, so `sacct` works: the slurm executor plugin of
# snakemake asks sacct for job states. `down` removes slurm.conf because, while it exists and
# slurmctld is down, every snakemake command that loads the slurm plugin waits ~10 s for
# `scontrol show config` to time out.
set -euo pipefail

CLUSTER=localcluster
ACCOUNT=${OSTEOTRIAL_SLURM_ACCOUNT:-trials}
PARTITION=${OSTEOTRIAL_SLURM_PARTITION:-debug}
STATE=/run/osteotrial-cluster          # one line per started daemon: name pid
CONF=/etc/slurm/slurm.conf
DBD_CONF=/etc/slurm/slurmdbd.conf
DB_PASS_FILE=/etc/slurm/.osteotrial-db-pass
PACKAGES=(slurmctld slurmd slurm-client munge slurmdbd mariadb-server)

log() { printf '[slurm-local %(%H:%M:%S)T] %s\n' -1 "$*" >&2; }
die() { log "ERROR: $*"; exit 1; }

wait_for() {  # wait_for SECONDS DESCRIPTION COMMAND...
    local limit=$1 what=$2 start=$SECONDS
    shift 2
    until "$@" >/dev/null 2>&1; do
        ((SECONDS - start < limit)) || die "timed out after ${limit}s waiting for: $what"
        sleep 0.5
    done
    log "$what (after $((SECONDS - start))s)"
}

record() { echo "$1 $2" >>"$STATE/pids"; }

pid_from_file() {  # pid_from_file FILE SECONDS: wait for a daemon's PID file, print the PID
    local file=$1 limit=$2 start=$SECONDS
    until [[ -s $file ]] && kill -0 "$(cat "$file")" 2>/dev/null; do
        ((SECONDS - start < limit)) || die "no live PID in $file after ${limit}s"
        sleep 0.2
    done
    cat "$file"
}

install() {
    [[ $(id -u) == 0 ]] || die "run as root"
    local missing=()
    for package in "${PACKAGES[@]}"; do
        dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed" ||
            missing+=("$package")
    done
    if ((${#missing[@]})); then
        log "installing ${missing[*]}"
        apt-get update -qq
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
            "${missing[@]}" >/dev/null
    fi
    log "installed: $(dpkg-query -W -f='${Package} ${Version}, ' "${PACKAGES[@]}")"
}

write_config() {
    local host node nodename memory
    host=$(hostname -s)
    # slurmd -C: "NodeName=vm CPUs=2 Boards=1 ... RealMemory=24105"; keep 512 MB for the OS.
    node=$(slurmd -C | head -n 1)
    memory=$(sed -n 's/.*RealMemory=\([0-9]*\).*/\1/p' <<<"$node")
    nodename=$(sed 's/^NodeName=\([^ ]*\).*/\1/' <<<"$node")
    node=$(sed "s/RealMemory=[0-9]*/RealMemory=$((memory - 512))/" <<<"$node")
    mkdir -p /etc/slurm /run/slurm /var/lib/slurm/slurmctld /var/lib/slurm/slurmd /var/log/slurm
    chown slurm: /run/slurm /var/lib/slurm/slurmctld /var/log/slurm
    cat >"$CONF" <<CONF
# Written by osteotrial tests/cluster/slurm-local.sh; removed by "slurm-local.sh down".
ClusterName=$CLUSTER
SlurmctldHost=$host(127.0.0.1)
SlurmUser=slurm
SlurmdUser=root
AuthType=auth/munge
CredType=cred/munge
MpiDefault=none
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
AccountingStorageType=accounting_storage/slurmdbd
AccountingStorageHost=127.0.0.1
AccountingStoragePort=6819
AccountingStorageEnforce=associations
JobAcctGatherType=jobacct_gather/linux
JobAcctGatherFrequency=5
JobCompType=jobcomp/none
SchedulerType=sched/backfill
SelectType=select/cons_tres
SelectTypeParameters=CR_Core_Memory
DefMemPerCPU=1000
ReturnToService=2
MinJobAge=300
SlurmctldPidFile=/run/slurm/slurmctld.pid
SlurmdPidFile=/run/slurm/slurmd.pid
StateSaveLocation=/var/lib/slurm/slurmctld
SlurmdSpoolDir=/var/lib/slurm/slurmd
SlurmctldLogFile=/var/log/slurm/slurmctld.log
SlurmdLogFile=/var/log/slurm/slurmd.log
$node NodeAddr=127.0.0.1 State=UNKNOWN
PartitionName=$PARTITION Nodes=$nodename Default=YES MaxTime=INFINITE State=UP
CONF
    [[ -s $DB_PASS_FILE ]] || (umask 077 && head -c 18 /dev/urandom | base64 >"$DB_PASS_FILE")
    (
        umask 077
        cat >"$DBD_CONF" <<CONF
AuthType=auth/munge
DbdHost=$host
DbdAddr=127.0.0.1
DbdPort=6819
SlurmUser=slurm
StorageType=accounting_storage/mysql
StorageHost=localhost
StorageUser=slurm
StoragePass=$(cat "$DB_PASS_FILE")
StorageLoc=slurm_acct_db
LogFile=/var/log/slurm/slurmdbd.log
PidFile=/run/slurm/slurmdbd.pid
CONF
    )
    chown slurm: "$DBD_CONF"
    log "configured $CONF: ${node%% RealMemory*} RealMemory=$((memory - 512))"
}

up() {
    [[ $(id -u) == 0 ]] || die "run as root"
    if [[ -s $STATE/pids ]]; then
        die "$STATE/pids exists: the cluster is up already (slurm-local.sh down first)"
    fi
    for daemon in munged mariadbd slurmdbd slurmctld slurmd; do
        if pgrep -x "$daemon" >/dev/null; then
            die "$daemon runs already (pid $(pgrep -x "$daemon" | tr '\n' ' ')), not started by this script"
        fi
    done
    command -v slurmctld >/dev/null || install
    mkdir -p "$STATE"
    : >"$STATE/pids"
    write_config

    mkdir -p /run/munge && chown munge: /run/munge
    runuser -u munge -- /usr/sbin/munged
    record munged "$(pid_from_file /run/munge/munged.pid 10)"
    wait_for 10 "munge answers" bash -c 'munge -n | unmunge'

    mkdir -p /run/mysqld && chown mysql: /run/mysqld
    setsid /usr/sbin/mariadbd --user=mysql --pid-file=/run/mysqld/mysqld.pid \
        --socket=/run/mysqld/mysqld.sock --bind-address=127.0.0.1 \
        >>/var/log/slurm/mariadb.log 2>&1 </dev/null &
    record mariadbd "$(pid_from_file /run/mysqld/mysqld.pid 30)"
    wait_for 30 "mariadb answers" mysqladmin --socket=/run/mysqld/mysqld.sock ping
    mysql --socket=/run/mysqld/mysqld.sock -e "
        CREATE USER IF NOT EXISTS 'slurm'@'localhost' IDENTIFIED BY '$(cat "$DB_PASS_FILE")';
        ALTER USER 'slurm'@'localhost' IDENTIFIED BY '$(cat "$DB_PASS_FILE")';
        GRANT ALL ON slurm_acct_db.* TO 'slurm'@'localhost';"

    /usr/sbin/slurmdbd
    record slurmdbd "$(pid_from_file /run/slurm/slurmdbd.pid 10)"
    wait_for 30 "slurmdbd answers sacctmgr" sacctmgr -n list cluster
    sacctmgr -i add cluster "$CLUSTER" >/dev/null 2>&1 || true
    sacctmgr -i add account "$ACCOUNT" Cluster="$CLUSTER" \
        Description="osteotrial test" Organization=osteotrial >/dev/null 2>&1 || true
    sacctmgr -i add user root Account="$ACCOUNT" DefaultAccount="$ACCOUNT" >/dev/null 2>&1 || true

    /usr/sbin/slurmctld
    record slurmctld "$(pid_from_file /run/slurm/slurmctld.pid 10)"
    wait_for 30 "slurmctld answers" scontrol ping
    /usr/sbin/slurmd
    record slurmd "$(pid_from_file /run/slurm/slurmd.pid 10)"
    wait_for 60 "node idle" bash -c "sinfo -h -o %T | grep -qx idle"
    sacctmgr -n -P list association user=root format=cluster,account,user | sed 's/^/  association /' >&2
    log "up: $(tr '\n' ' ' <"$STATE/pids")"
}

down() {
    local name pid
    if [[ -s $STATE/pids ]]; then
        # Reverse start order: slurmd, slurmctld, slurmdbd, mariadbd, munged.
        tac "$STATE/pids" | while read -r name pid; do
            if kill -0 "$pid" 2>/dev/null; then
                kill -TERM "$pid"
                for _ in $(seq 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.2; done
                if kill -0 "$pid" 2>/dev/null; then
                    log "$name ($pid) still running after 20 s: SIGKILL"
                    kill -KILL "$pid" 2>/dev/null || true
                fi
                log "stopped $name ($pid)"
            fi
        done
        rm -f "$STATE/pids"
    fi
    rm -f "$CONF" "$DBD_CONF"
    log "down; $CONF removed"
}

status() {
    [[ -s $STATE/pids ]] && cat "$STATE/pids" || echo "no daemons recorded"
    [[ -f $CONF ]] && sinfo || true
}

case ${1:-} in
install | up | down | status) "$1" ;;
*) die "usage: $0 install|up|down|status" ;;
esac
