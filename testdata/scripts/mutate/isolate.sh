#!/bin/sh
# isolate.sh SCRATCH CMD...: run CMD (a mutated go test) in its own mount
# namespace where every host directory a broken protection could write
# (/etc, /usr, /root, /home, /var, /work, ...) is an overlay whose upper
# layer is a tmpfs that goes with the namespace. A mutation that breaks the
# read-only root lets an attack test write /etc or /usr for real: the test
# still sees the write (and fails), the machine does not keep it.
#
# Not read-only binds: those would refuse the write themselves, and the
# mutation would survive behind them. /tmp (the scratch copy and the
# tests' own directories), /var/tmp, /dev, /proc, /sys and /run stay the host's; the
# Go build cache is bound back so that builds stay warm.
# Started by mutate through unshare --mount (private propagation) --pid
# --fork --mount-proc: what the run leaves running dies with it.
set -eu
scratch=$1
shift
ovl=$scratch/.isolate
mkdir -p "$ovl"
mount -t tmpfs -o mode=700 cordon-mutate-isolate "$ovl"
gocache=$(go env GOCACHE)
mkdir -p "$ovl/gocache" "$ovl/vartmp"
mount --bind "$gocache" "$ovl/gocache"
mount --bind /var/tmp "$ovl/vartmp"
for d in /etc /usr /root /home /var /opt /srv /boot /media /work; do
	[ -d "$d" ] && [ ! -L "$d" ] || continue
	n=$(echo "$d" | tr / _)
	mkdir -p "$ovl/$n/u" "$ovl/$n/w"
	mount -t overlay overlay -o "lowerdir=$d,upperdir=$ovl/$n/u,workdir=$ovl/$n/w" "$d"
done
mount --bind "$ovl/gocache" "$gocache"
# /var/tmp stays the host's, like /tmp: tests run there to be outside /tmp,
# and cordon's cache layers cannot put an overlay's upper on an overlay.
mount --bind "$ovl/vartmp" /var/tmp
# Tests whose host-side control crosses into /usr (a hard link) say so.
export CORDON_MUTATE_ISOLATED=1
exec "$@"
