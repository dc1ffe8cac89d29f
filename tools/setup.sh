#!/usr/bin/env bash
# Idempotent project set-up: system packages (apt) and the project virtualenv.
# Called by `make setup` (and thus by `make sim` / `make test`).  Quick when already done.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="${VENV:-$ROOT/.venv}"
PYTHON="${PYTHON:-python3}"
STAMP_DIR="$VENV"
NGSPICE_MIN="${NGSPICE_MIN:-46}"

say() { printf 'setup: %s\n' "$*"; }
die() { printf 'setup: error: %s\n' "$*" >&2; exit 1; }

ngspice_version() {
    # Prints the major version of the installed libngspice0 package, or nothing.
    dpkg-query -W -f='${Status} ${Version}\n' libngspice0 2>/dev/null \
        | awk '/install ok installed/ {split($4, v, /[.+~-]/); print v[1]}'
}

pkg_installed() { dpkg-query -W -f='${Status}\n' "$1" 2>/dev/null | grep -q 'install ok installed'; }

base_missing() {
    # Tools this set-up and the build use, by what they provide (not by package name, so that
    # a tool installed another way counts): the venv module, the linker openvaf-r calls
    # (binutils' ld), make and git.
    "$PYTHON" -c 'import ensurepip, venv' >/dev/null 2>&1 || echo python3-venv
    command -v ld >/dev/null || echo binutils
    command -v cc >/dev/null || echo gcc  # the compiled lockstep helper (cosim.spice.build)
    command -v make >/dev/null || echo make
    command -v git >/dev/null || echo git
}

missing_packages() {
    # Prints the missing (or too old) system packages, one per line.
    base_missing
    for p in iverilog gtkwave yosys verilator ngspice; do
        pkg_installed "$p" || echo "$p"
    done
    local v; v="$(ngspice_version)"
    if [ -z "$v" ]; then
        echo "libngspice0 (>= ${NGSPICE_MIN}, with OSDI)"
    elif [ "$v" -lt "$NGSPICE_MIN" ]; then
        echo "libngspice0 >= ${NGSPICE_MIN} (installed: ${v}; older ones lack OSDI)"
    fi
}

system_ok() { [ -z "$(missing_packages)" ]; }

add_backports_source() {
    local codename="$1" list="/etc/apt/sources.list.d/${codename}-backports.sources"
    if grep -rqs -- "${codename}-backports" /etc/apt/sources.list /etc/apt/sources.list.d/; then
        return 0
    fi
    # Take the archive URI and keyring from the machine's own Debian source.
    local uri="" keyring=""
    if [ -f /etc/apt/sources.list.d/debian.sources ]; then
        uri="$(awk '/^URIs:/ && !/security/ {print $2; exit}' /etc/apt/sources.list.d/debian.sources)"
        keyring="$(awk '/^Signed-By:/ {print $2; exit}' /etc/apt/sources.list.d/debian.sources)"
    fi
    if [ -z "$uri" ] && [ -f /etc/apt/sources.list ]; then
        uri="$(awk '$1 == "deb" && $0 !~ /security/ {for (i = 2; i <= NF; i++) if ($i ~ /:\/\//) {print $i; exit}}' /etc/apt/sources.list)"
    fi
    [ -n "$uri" ] || die "cannot find the Debian archive URI in /etc/apt/sources.list{,.d/debian.sources}; add '${codename}-backports' to apt by hand"
    [ -n "$keyring" ] || keyring=/usr/share/keyrings/debian-archive-keyring.gpg
    say "adding apt source ${codename}-backports (from the machine's Debian source)"
    printf 'Types: deb\nURIs: %s\nSuites: %s-backports\nComponents: main\nSigned-By: %s\n' \
        "$uri" "$codename" "$keyring" > "$list"
}

setup_system() {
    if system_ok; then return 0; fi
    command -v apt-get >/dev/null || die "apt-get not found; install by hand: $(missing_packages | paste -sd, | sed 's/,/, /g')"
    if [ "$(id -u)" -ne 0 ]; then
        die "missing system packages: $(missing_packages | paste -sd, | sed 's/,/, /g'). Not root, so they cannot be installed here: run 'sudo make setup' (ngspice and libngspice0 come from <codename>-backports)"
    fi
    local codename
    codename="$(. /etc/os-release && echo "${VERSION_CODENAME:-}")"
    [ -n "$codename" ] || die "cannot tell the Debian codename from /etc/os-release"
    add_backports_source "$codename"
    export DEBIAN_FRONTEND=noninteractive
    say "apt-get update"
    apt-get update -qq
    local base; base="$(base_missing | paste -sd' ')"
    say "installing iverilog gtkwave yosys verilator${base:+ $base}"
    # shellcheck disable=SC2086  # $base is a list of package names
    apt-get install -y -qq --no-install-recommends iverilog gtkwave yosys verilator $base >/dev/null
    say "installing ngspice + libngspice0 from ${codename}-backports"
    apt-get install -y -qq --no-install-recommends -t "${codename}-backports" ngspice libngspice0 >/dev/null
    local v; v="$(ngspice_version)"
    [ -n "$v" ] && [ "$v" -ge "$NGSPICE_MIN" ] || die "libngspice0 ${v:-missing} < ${NGSPICE_MIN} after install from ${codename}-backports"
}

setup_venv() {
    local stamp="$STAMP_DIR/.cosim-setup.stamp"
    # Re-install only when pyproject.toml changed since the last successful install, or the
    # venv no longer works (its python, pip or the editable cosim gone).
    if [ -x "$VENV/bin/python" ] && [ -f "$stamp" ] && [ "$stamp" -nt "$ROOT/pyproject.toml" ] \
        && "$VENV/bin/python" -c 'import pip, cosim' >/dev/null 2>&1; then
        return 0
    fi
    command -v "$PYTHON" >/dev/null || die "$PYTHON not found (need Python >= 3.11)"
    "$PYTHON" -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else 1)' \
        || die "$PYTHON is $("$PYTHON" -V 2>&1); need Python >= 3.11 (set PYTHON=...)"
    "$PYTHON" -c 'import ensurepip, venv' >/dev/null 2>&1 \
        || die "$PYTHON cannot create virtualenvs (no ensurepip): install python3-venv (as root: make setup)"
    if [ -e "$VENV" ] && ! "$VENV/bin/python" -m pip --version >/dev/null 2>&1; then
        # A half-made venv (e.g. an earlier `python3 -m venv` without python3-venv left
        # bin/python but no pip): make it again rather than trust it.
        say "repairing $VENV (it has no working python/pip)"
        rm -f "$stamp"
        "$PYTHON" -m venv --clear "$VENV" || die "cannot re-create $VENV with $PYTHON"
    elif [ ! -x "$VENV/bin/python" ]; then
        say "creating $VENV"
        "$PYTHON" -m venv "$VENV" || die "cannot create $VENV with $PYTHON"
    fi
    say "pip install -e .[test] (this takes a minute the first time)"
    "$VENV/bin/python" -m pip install -q --upgrade pip >/dev/null 2>&1 || true
    "$VENV/bin/python" -m pip install -q -e "$ROOT[test]" 2>&1 | { grep -v -e "WARNING: Location" -e "^ *$" || true; } >&2
    mkdir -p "$STAMP_DIR"
    touch "$stamp"
}

build_helper() {
    # The compiled lockstep helper (synchelper.c + vpisync.c) with the system cc, into the
    # build cache; without a compiler the pure-Python lockstep is used (docs/timing.md).
    say "$("$VENV/bin/python" -c 'from cosim.spice.build import helper_library; print("lockstep:", helper_library()[1])')"
}

# Run when executed; when sourced (tests), only define the functions.
if [ "${BASH_SOURCE[0]}" = "$0" ]; then
    setup_system
    setup_venv
    build_helper
fi
