#!/usr/bin/env bash
# Start a single-node SLURM cluster on this machine for the cluster tests (root, no systemd):
# munged, slurmctld and slurmd, with fake GPUs. Installs the Debian packages when missing.
# Every daemon it starts leaves a pid file in $ROOT/run; stop-cluster.sh stops exactly those.
#   GOALDRIVEN_SLURM_ROOT  state, logs and pid files (default /tmp/goaldriven-slurm)
#   GOALDRIVEN_SLURM_GPUS  number of fake GPUs on the node (default 8)
set -euo pipefail
ROOT=${GOALDRIVEN_SLURM_ROOT:-/tmp/goaldriven-slurm}
GPUS=${GOALDRIVEN_SLURM_GPUS:-8}
HERE=$(cd "$(dirname "$0")" && pwd)
HOST=$(hostname -s)
MARK="# goaldriven test cluster"

fail() { echo "start-cluster.sh: $*" >&2; exit 1; }

[ "$(id -u)" = 0 ] || fail "must run as root (it starts slurmctld/slurmd and writes /etc/slurm)"
# Never share or take over a cluster that something else started.
for d in slurmctld slurmd; do
  ! pgrep -x "$d" >/dev/null || fail "$d is already running on this machine; stop it first"
done

missing=""
for bin in slurmctld slurmd sbatch munged; do command -v "$bin" >/dev/null || missing=1; done
if [ -n "$missing" ]; then
  echo "installing slurm and munge (apt-get)..."
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq slurmctld slurmd slurm-client munge >/dev/null
fi

mkdir -p "$ROOT"/{state,spool,run,log,dev,backup} /etc/slurm /etc/munge /run/munge /var/lib/munge /var/log/munge
for i in $(seq 0 $((GPUS - 1))); do ln -sfn /dev/null "$ROOT/dev/gpu$i"; done

# munge: reuse a working daemon, otherwise start one (as root it needs --force).
if ! munge -n </dev/null 2>/dev/null | unmunge >/dev/null 2>&1; then
  [ -s /etc/munge/munge.key ] || mungekey --create --keyfile=/etc/munge/munge.key
  chown root:root /etc/munge /etc/munge/munge.key /run/munge /var/lib/munge /var/log/munge
  chmod 700 /etc/munge /var/lib/munge /var/log/munge; chmod 600 /etc/munge/munge.key; chmod 755 /run/munge
  munged --force --pid-file="$ROOT/run/munged.pid" --log-file="$ROOT/log/munged.log" \
         --seed-file="$ROOT/run/munged.seed"
  for _ in $(seq 50); do munge -n </dev/null 2>/dev/null | unmunge >/dev/null 2>&1 && break; sleep 0.1; done
  munge -n </dev/null | unmunge >/dev/null || fail "munged did not start (see $ROOT/log/munged.log)"
fi

# The configs must be at the default path /etc/slurm: the snakemake slurm-jobstep plugin strips
# every SLURM_* variable (SLURM_CONF too) before the srun inside a job. A config that is not ours
# is kept aside and put back by stop-cluster.sh.
for f in slurm.conf gres.conf; do
  if [ -e "/etc/slurm/$f" ] && ! grep -qF "$MARK" "/etc/slurm/$f"; then mv "/etc/slurm/$f" "$ROOT/backup/$f"; fi
done
fill() { sed -e "s|@HOST@|$HOST|g" -e "s|@ROOT@|$ROOT|g" -e "s|@GPUS@|$GPUS|g" -e "s|@LASTGPU@|$((GPUS - 1))|g" "$1"; }
{ echo "$MARK"; fill "$HERE/slurm.conf.in"; } > /etc/slurm/slurm.conf
{ echo "$MARK"; fill "$HERE/gres.conf.in"; } > /etc/slurm/gres.conf

slurmctld -c   # -c: ignore state left by an earlier run; daemonises and writes its pid file
slurmd
# `timeout`: sinfo retries for minutes when slurmctld died (e.g. on a fatal config error).
for _ in $(seq 100); do
  timeout 5 sinfo -h -N -o %T 2>/dev/null | grep -qx idle && break; sleep 0.2
done
timeout 5 sinfo -h -N -o %T 2>/dev/null | grep -qx idle \
  || { tail -n 20 "$ROOT"/log/slurm*.log >&2; fail "the node did not become idle"; }
echo "SLURM test cluster up on $HOST ($GPUS fake GPUs; partitions cpu, gpu; state in $ROOT)"
