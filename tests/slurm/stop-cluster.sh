#!/usr/bin/env bash
# Stop the daemons that start-cluster.sh started, by the PIDs in their pid files (SIGTERM, then
# SIGKILL after 10 s: slurmd ignores SIGTERM while it retries to reach a dead slurmctld), and put
# back any SLURM config that start-cluster.sh had set aside.
ROOT=${GOALDRIVEN_SLURM_ROOT:-/tmp/goaldriven-slurm}
MARK="# goaldriven test cluster"
for d in slurmd slurmctld munged; do
  f=$ROOT/run/$d.pid
  [ -s "$f" ] || continue
  p=$(cat "$f"); rm -f "$f"
  kill "$p" 2>/dev/null || continue
  for _ in $(seq 100); do kill -0 "$p" 2>/dev/null || break; sleep 0.1; done
  kill -0 "$p" 2>/dev/null && kill -9 "$p" 2>/dev/null
  echo "stopped $d ($p)"
done
for f in slurm.conf gres.conf; do
  if grep -qsF "$MARK" "/etc/slurm/$f"; then rm -f "/etc/slurm/$f"; fi
  if [ -e "$ROOT/backup/$f" ]; then mv "$ROOT/backup/$f" "/etc/slurm/$f"; fi
done
true
