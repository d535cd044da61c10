#!/bin/sh
# Fetches newer Neovim releases from Debian's own archive without installing
# anything, for the plugin's headless tests on the releases people run
# (Debian 12 ships 0.7.2 only): trixie (Debian 13) has 0.10.x, sid 0.12.x.
#
# For each suite it keeps a private apt sources list and lists directory,
# `apt-get download`s neovim and its run-time dependencies (libc6 included,
# since the newer builds need a newer glibc than the host's), unpacks them
# with `dpkg -x` into CACHE/SUITE/root, and writes CACHE/SUITE/nvim: a
# wrapper that runs that nvim through the unpacked release's own dynamic
# loader with VIMRUNTIME set.
#
# usage: fetch-nvim.sh [SUITE...]    (default: trixie sid)
# CORDON_NVIM_CACHE: where to keep them (default /var/cache/cordon/nvim for
# root, so that the unprivileged test user can run them, else ~/.cache/cordon/nvim),
# outside the repository; a suite already fetched is not fetched again.
# It prints one wrapper path per line on stdout.
set -eu
if [ "$(id -u)" = 0 ]; then
  # root: somewhere the tests' unprivileged user can run them from too.
  cache=${CORDON_NVIM_CACHE:-/var/cache/cordon/nvim}
else
  cache=${CORDON_NVIM_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/cordon/nvim}
fi
mirror=${CORDON_DEBIAN_MIRROR:-http://deb.debian.org/debian}
[ $# -gt 0 ] || set -- trixie sid
arch=$(dpkg --print-architecture)
case $arch in
amd64) triplet=x86_64-linux-gnu loader=lib64/ld-linux-x86-64.so.2 ;;
arm64) triplet=aarch64-linux-gnu loader=lib/ld-linux-aarch64.so.1 ;;
*) echo "fetch-nvim: unsupported architecture $arch" >&2; exit 1 ;;
esac

fetch() {
  suite=$1
  dir=$cache/$suite
  if [ -x "$dir/nvim" ] && "$dir/nvim" --headless -u NONE -i NONE +q >/dev/null 2>&1; then
    echo "$dir/nvim"
    return
  fi
  rm -rf "$dir"
  mkdir -p "$dir/lists/partial" "$dir/cache/archives/partial" "$dir/debs" "$dir/root"
  echo "deb [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] $mirror $suite main" >"$dir/sources.list"
  # apt's own state (the host's installed packages) is left as it is: only
  # the lists and the cache are redirected.
  set -- -o Dir::Etc::SourceList="$dir/sources.list" -o Dir::Etc::SourceParts=/dev/null \
    -o Dir::State::Lists="$dir/lists" -o Dir::Cache="$dir/cache" -o APT::Sandbox::User=root
  apt-get "$@" -qq update >&2
  pkgs=$(apt-cache "$@" depends --recurse --no-recommends --no-suggests --no-conflicts \
    --no-breaks --no-replaces --no-enhances neovim 2>/dev/null | grep -v '^ ' | grep -v '^<' | sort -u)
  (cd "$dir/debs" && apt-get "$@" -qq download $pkgs >&2)
  for d in "$dir"/debs/*.deb; do
    dpkg -x "$d" "$dir/root"
  done
  root=$dir/root
  [ -e "$root/$loader" ] || loader=usr/$loader
  cat >"$dir/nvim" <<WRAP
#!/bin/sh
# Neovim from Debian $suite, unpacked by fetch-nvim.sh; runs on the host's
# kernel with its own libc.
export VIMRUNTIME="$root/usr/share/nvim/runtime"
exec "$root/$loader" --library-path "$root/usr/lib/$triplet:$root/lib/$triplet" "$root/usr/bin/nvim" "\$@"
WRAP
  chmod +x "$dir/nvim"
  rm -rf "$dir/debs" "$dir/cache"
  "$dir/nvim" --version | head -1 >&2
  echo "$dir/nvim"
}

for s in "$@"; do
  fetch "$s"
done
