# Shared helpers for the tooling scripts. Source it; do not run it.

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
TARGET_DIR=${CARGO_TARGET_DIR:-$ROOT/target}
COMPONENTS_OUT=${SUMMER_COMPONENTS_OUT:-$TARGET_DIR/components}
# Where summer.toml's `source` paths look, whatever CARGO_TARGET_DIR says.
MANIFEST_COMPONENTS=$ROOT/target/components
# Developer tools installed from crates.io (cargo-component) and toolchains made
# from Debian packages, kept between runs.
TOOLS_DIR=${SUMMER_TOOLS_CACHE:-$HOME/.cache/summer-tools}

say() { printf '\033[1m==> %s\033[0m\n' "$*" >&2; }
die() { printf 'error: %s\n' "$*" >&2; exit 1; }

# Runs a command as root: directly when we are root, through sudo otherwise.
as_root() {
    if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi
}

# Installs Debian packages that are not installed yet (idempotent).
apt_install() {
    local missing=()
    for pkg in "$@"; do
        dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
    done
    [ ${#missing[@]} -eq 0 ] && return 0
    say "installing ${missing[*]}"
    as_root apt-get update -q
    as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -q "${missing[@]}"
}

# Seconds since the epoch with fractions, for timing steps.
now() { date +%s.%N; }

# Seconds elapsed since a value of `now`, to one decimal.
elapsed_since() { awk -v a="$1" -v b="$(now)" 'BEGIN { printf "%.1f", b - a }'; }

# Checks for the Rust toolchain and a C compiler (the embedded SQLite is
# compiled from source), installing the C side from Debian's packages.
ensure_host_toolchain() {
    command -v cargo >/dev/null ||
        die "cargo not found: install Rust with rustup (https://rustup.rs), then run this again"
    command -v cc >/dev/null || apt_install gcc libc6-dev
}

# Builds the `summer` binary (release: the one profile serve, test and bench share).
build_host() {
    ensure_host_toolchain
    say "building the summer host"
    (cd "$ROOT" && cargo build --release -p summer)
}
