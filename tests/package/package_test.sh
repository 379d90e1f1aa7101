#!/usr/bin/env bash
# The Debian package end to end, as any user: cpack builds it from the build tree, dpkg installs it
# into a throwaway root (maintainer scripts run chrootless with DPKG_ROOT set, so they touch nothing
# outside it), the installed programs run against the installed files, systemd-analyze verifies and
# scores the installed units, and dpkg purges it again.
#
#   tests/package/package_test.sh BUILD_DIR VERSION
set -euo pipefail

build=$1
version=$2
work=$(mktemp -d "${TMPDIR:-/tmp}/archer-package.XXXXXX")
trap 'rm -rf "$work"' EXIT
root=$work/root

fail() {
  echo "package test: FAILED: $*" >&2
  exit 1
}
step() { echo "package test: [${SECONDS}s] $*"; }
# dpkg as an ordinary user on a root of its own; Depends are checked below, not against that root.
dpkg_root() {
  PATH=/usr/sbin:/sbin:$PATH dpkg --root="$root" --log=/dev/null --force-not-root --force-script-chrootless "$@"
}

step "cpack -G DEB"
if ! cpack -G DEB --config "$build/CPackConfig.cmake" -B "$work/cpack" >"$work/cpack.log" 2>&1; then
  cat "$work/cpack.log" >&2
  fail "cpack"
fi
deb=$work/cpack/archer-edge_${version}_amd64.deb
[ -f "$deb" ] || fail "no $deb; cpack made: $(ls "$work/cpack")"

step "control fields: $(basename "$deb")"
[ "$(dpkg-deb -f "$deb" Package)" = archer-edge ] || fail "Package: $(dpkg-deb -f "$deb" Package)"
[ "$(dpkg-deb -f "$deb" Version)" = "$version" ] || fail "Version: $(dpkg-deb -f "$deb" Version)"
[ "$(dpkg-deb -f "$deb" Recommends)" = mosquitto ] || fail "Recommends: $(dpkg-deb -f "$deb" Recommends)"
depends=$(dpkg-deb -f "$deb" Depends)
# What the programs link, as dpkg-shlibdeps names it: package (>= version).
for package in libc6 libstdc++6 libpaho-mqttpp3-1 libpaho-mqtt1.3 librdkafka++1 librdkafka1 liblmdb0 libssl3; do
  grep -Eq "(^|, )$(printf '%s' "$package" | sed 's/[+.]/\\&/g') \(>= [^)]+\)" <<<"$depends" ||
    fail "Depends lacks $package: $depends"
done
expected_conffiles=$'/etc/archer/devsim-example.env\n/etc/archer/devsim.example.toml\n/etc/archer/gateway.example.toml'
conffiles=$(dpkg-deb -I "$deb" conffiles | sort)
[ "$conffiles" = "$expected_conffiles" ] || fail "conffiles: $conffiles"
# The units create the user and the state directories; the scripts must not.
for script in postinst prerm postrm; do
  text=$(dpkg-deb -I "$deb" "$script") || fail "no $script"
  if grep -Eq 'adduser|useradd|groupadd|mkdir|install -d' <<<"$text"; then fail "$script creates things"; fi
done

step "dpkg --root $root -i"
mkdir -p "$root/var/lib/dpkg/updates" "$root/var/lib/dpkg/info"
: >"$root/var/lib/dpkg/status"
if ! dpkg_root --force-depends -i "$deb" >"$work/dpkg-install.log" 2>&1; then
  cat "$work/dpkg-install.log" >&2
  fail "dpkg -i"
fi
dpkg_root -s archer-edge | grep -q '^Status: install ok installed$' || fail "not installed: $(dpkg_root -s archer-edge)"

# Exactly the four programs; test programs are not installed.
programs=$(ls "$root/usr/bin" | tr '\n' ' ')
[ "$programs" = "archer-bridge archer-ctl archer-devkafka archer-devsim " ] || fail "usr/bin holds: $programs"
for file in etc/archer/gateway.example.toml etc/archer/devsim.example.toml etc/archer/devsim-example.env \
  usr/share/archer/schemas/telemetry.fbs usr/share/archer/schemas/telemetry.bfbs \
  usr/share/archer/schemas/command.bfbs usr/share/archer/mosquitto/gateway.conf usr/share/archer/mosquitto/acl \
  usr/lib/systemd/system/archer-bridge@.service usr/lib/systemd/system/archer-devsim@.service \
  usr/lib/systemd/system/archer-devkafka.service usr/lib/systemd/system/mosquitto.service.d/archer.conf \
  usr/share/doc/archer-edge/README.md usr/share/doc/archer-edge/systemd/README.md; do
  [ -f "$root/$file" ] || fail "not installed: /$file"
done
grep -qx 'schema = "/usr/share/archer/schemas/telemetry.bfbs"' "$root/etc/archer/gateway.example.toml" ||
  fail "the installed gateway.example.toml does not name /usr/share/archer/schemas/telemetry.bfbs"

# The check, as an operator runs it: the installed program on the installed example, whose schema
# path is absolute (/usr/share/archer/...). In a chroot into the throwaway root, with the host's
# shared libraries bound in (an unprivileged user namespace), that path resolves to the installed
# schema. Without user namespaces, the schema paths of a copy are pointed into the root instead.
check_in_chroot() {
  unshare --map-root-user --mount sh -eu -c '
    root=$1
    for dir in usr/lib/x86_64-linux-gnu usr/lib64; do
      mkdir -p "$root/$dir"
      mount --bind "/$dir" "$root/$dir"
    done
    ln -sfn usr/lib "$root/lib"
    ln -sfn usr/lib64 "$root/lib64"
    mkdir -p "$root/dev" && : >"$root/dev/null" && mount --bind /dev/null "$root/dev/null"
    # Sanitizer runtimes read /proc/self/maps at start.
    mkdir -p "$root/proc" && mount --rbind /proc "$root/proc"
    chroot "$root" /usr/bin/archer-bridge --check-config /etc/archer/gateway.example.toml
    for program in archer-bridge archer-ctl archer-devsim; do chroot "$root" /usr/bin/$program --version; done
    chroot "$root" /usr/bin/archer-devkafka --help >/dev/null
  ' sh "$root"
  local status=$?
  # The mounts went with the namespace; the mount points and links are not the package's.
  rm -rf "$root/lib" "$root/lib64" "$root/dev"
  rmdir "$root/proc"
  rmdir "$root/usr/lib/x86_64-linux-gnu" "$root/usr/lib64"
  return $status
}
if unshare --map-root-user --mount true 2>/dev/null; then
  step "chroot $root: archer-bridge --check-config /etc/archer/gateway.example.toml"
  check_in_chroot || fail "check-config in the chroot"
else
  step "no user namespaces: check-config on a copy whose /usr/share/archer paths point into the root"
  sed "s#\"/usr/share/archer/#\"$root/usr/share/archer/#" "$root/etc/archer/gateway.example.toml" >"$work/gateway.toml"
  "$root/usr/bin/archer-bridge" --check-config "$work/gateway.toml" || fail "check-config"
fi

# systemd-analyze verify needs the programs a unit starts where it names them (/usr/bin): it checks
# copies of the installed units whose /usr/bin/ points into the root, found by name through
# SYSTEMD_UNIT_PATH, so that templates get an instance and the mosquitto drop-in is merged into
# the host's mosquitto.service. It reports problems on stderr (some with status 0): any output fails.
step "systemd-analyze verify"
units=$work/units
cp -r "$root/usr/lib/systemd/system" "$units"
sed -i "s#/usr/bin/#$root/usr/bin/#g" "$units"/*.service
to_verify=(archer-bridge@gateway.service archer-devsim@example.service archer-devkafka.service)
if systemctl cat mosquitto.service >/dev/null 2>&1 || [ -f /lib/systemd/system/mosquitto.service ]; then
  to_verify+=(mosquitto.service)
else
  step "mosquitto.service is not installed here: its drop-in is not verified"
fi
if ! output=$(SYSTEMD_UNIT_PATH="$units:" systemd-analyze verify --man=no --generators=no "${to_verify[@]}" 2>&1) ||
  [ -n "$output" ]; then
  fail "systemd-analyze verify: $output"
fi

# The exposure scores systemd/README.md reports; above 2.0 (threshold 20 of 100) fails.
for unit in archer-bridge@.service archer-devsim@.service archer-devkafka.service; do
  score=$(systemd-analyze security --offline=true --threshold=20 "$units/$unit" 2>&1 | grep 'Overall exposure') ||
    fail "systemd-analyze security $unit: exposure above 2.0: $(systemd-analyze security --offline=true "$units/$unit" 2>&1 | tail -1)"
  step "$unit: ${score#→ }"
done

# An operator's edit of a conffile survives a reinstall (the upgrade path of the maintainer scripts).
step "dpkg --root $root -i again, over an edited conffile"
echo '# edited by the operator' >>"$root/etc/archer/devsim-example.env"
if ! dpkg_root --force-depends --force-confold -i "$deb" >"$work/dpkg-reinstall.log" 2>&1; then
  cat "$work/dpkg-reinstall.log" >&2
  fail "dpkg -i over an installed package"
fi
grep -qx '# edited by the operator' "$root/etc/archer/devsim-example.env" || fail "the edited conffile was replaced"

step "dpkg --root $root -P archer-edge"
dpkg_root -P archer-edge >"$work/dpkg-purge.log" 2>&1 || { cat "$work/dpkg-purge.log" >&2; fail "dpkg -P"; }
left=$(cd "$root" && find . -path ./var/lib/dpkg -prune -o ! -type d -print)
[ -z "$left" ] || fail "left after purge: $left"
step "ok"
