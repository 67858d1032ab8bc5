# Chooses how to build wasm components and exports WASM_CARGO, WASM_TARGET and
# the environment the build needs. Source it after common.sh.
#
# 1. A rustup toolchain with the wasm32-wasip2 target: cargo builds
#    components directly.
# 2. Otherwise, Debian's rustc-web with its std source: std is built for
#    wasm32-wasip1 (-Zbuild-std) and wasm-component-ld links the result into a
#    WASI 0.2 component with the built-in `proxy` adapter. This needs no
#    network beyond Debian's packages.

select_wasm_toolchain() {
    if command -v rustup >/dev/null && rustup target list --installed 2>/dev/null | grep -qx wasm32-wasip2; then
        WASM_CARGO=cargo
        WASM_TARGET=wasm32-wasip2
        WASM_BUILD_ARGS=()
        say "building components with rustup's wasm32-wasip2 target"
        return
    fi
    apt_install rustc-web cargo-web rust-web-src wasi-libc lld-16
    local linker=/usr/lib/rustlib/x86_64-unknown-linux-gnu/bin/wasm-component-ld
    [ -x "$linker" ] || die "wasm-component-ld not found at $linker (package rustc-web)"
    [ -d /usr/lib/rustlib/src/rust/library ] || die "std source missing (package rust-web-src)"
    WASM_CARGO=/usr/bin/cargo
    WASM_TARGET=wasm32-wasip1
    WASM_BUILD_ARGS=(-Zbuild-std=std,panic_abort)
    export PATH=/usr/lib/llvm-16/bin:/usr/bin:$PATH
    export RUSTC=/usr/bin/rustc
    export RUSTC_BOOTSTRAP=1
    export CARGO_TARGET_WASM32_WASIP1_LINKER=$linker
    export CARGO_TARGET_WASM32_WASIP1_RUSTFLAGS="-L /usr/lib/wasm32-wasi -C link-self-contained=no -C link-arg=--wasi-adapter=proxy"
    say "building components with Debian's rustc-web for wasm32-wasip1 + the proxy adapter"
}

# A toolchain directory with the wasm32-wasip1 target, made offline from
# Debian's rustc-web: its bin/rustc runs /usr/bin/rustc with this directory
# as sysroot, which holds the host's libraries (linked), std for
# wasm32-wasip1 (built once from the std source), wasi-libc's start files
# and lld as rust-lld. Tools that expect rustup's target (cargo component)
# work with its bin/ first on PATH. Made once per rustc version under
# ~/.cache/summer-tools; prints its path.
wasip1_toolchain() {
    apt_install rustc-web cargo-web rust-web-src wasi-libc lld-16 >&2
    local version dir
    version=$(/usr/bin/rustc -V | cksum | cut -d' ' -f1)
    dir=$TOOLS_DIR/wasip1-toolchain-$version
    [ -f "$dir/.complete" ] && { echo "$dir"; return; }
    say "making a wasm32-wasip1 toolchain from Debian's rustc-web in $dir (once)"
    rm -rf "$dir"
    local host=$dir/lib/rustlib/x86_64-unknown-linux-gnu target=$dir/lib/rustlib/wasm32-wasip1/lib
    mkdir -p "$dir/bin" "$host/bin" "$target/self-contained"
    printf '#!/bin/sh\nexec /usr/bin/rustc --sysroot "$(dirname "$(readlink -f "$0")")/.." "$@"\n' >"$dir/bin/rustc"
    chmod +x "$dir/bin/rustc"
    ln -s /usr/bin/cargo "$dir/bin/cargo"
    ln -s /usr/lib/rustlib/src "$dir/lib/rustlib/src"
    ln -s /usr/lib/rustlib/x86_64-unknown-linux-gnu/lib "$host/lib"
    ln -s /usr/lib/llvm-16/bin/lld "$host/bin/rust-lld"
    for file in crt1-command.o crt1-reactor.o crt1.o libc.a; do
        ln -s "/usr/lib/wasm32-wasi/$file" "$target/self-contained/$file"
    done
    build_wasip1_std "$target"
    touch "$dir/.complete"
    echo "$dir"
}

# Builds std for wasm32-wasip1 from Debian's std source into a sysroot's
# target library folder.
build_wasip1_std() {
    local into=$1 work
    work=$(mktemp -d)
    mkdir -p "$work/src"
    printf '[package]\nname = "wasip1-std"\nversion = "0.0.0"\nedition = "2024"\n' >"$work/Cargo.toml"
    echo '#![no_std]' >"$work/src/lib.rs"
    (cd "$work" && RUSTC_BOOTSTRAP=1 RUSTC=/usr/bin/rustc /usr/bin/cargo build -q --release \
        --target wasm32-wasip1 -Zbuild-std=std,panic_abort --target-dir "$work/target") ||
        die "building std for wasm32-wasip1 failed"
    find "$work/target/wasm32-wasip1/release/deps" -name 'lib*.rlib' ! -name 'libwasip1_std-*' \
        -exec cp {} "$into/" \;
    rm -rf "$work"
}
