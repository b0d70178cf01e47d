# Sourced by the build and verify scripts: the packaging tools, each taken from
# PATH when it is there, else installed from PyPI into one virtual environment
# under target/ (nothing is installed system-wide). Expects $root.
#
#   cargo-zigbuild + ziglang  link a Linux binary against an older glibc
#   cargo-lambda              what `sam build` runs for BuildMethod rust-cargolambda
#   aws-sam-cli               sam validate / sam build (1.156.0 builds Rust
#                             without --beta-features)

deploy_venv="${DEPLOY_VENV:-$root/target/deploy-venv}"

# The versions these scripts were last run with; newer ones are expected to work.
zigbuild_packages=("cargo-zigbuild==0.24.1" "ziglang==0.17.1")
lambda_packages=("cargo-lambda==1.9.2")
sam_packages=("aws-sam-cli==1.170.0")

# pip install into the project's venv, and put its bin/ first on PATH.
venv_install() {
    if [ ! -x "$deploy_venv/bin/pip" ]; then
        echo "==> python3 -m venv $deploy_venv" >&2
        python3 -m venv "$deploy_venv"
    fi
    echo "==> pip install $* (into $deploy_venv)" >&2
    "$deploy_venv/bin/pip" install --quiet --disable-pip-version-check "$@" >&2
    use_venv
}

use_venv() {
    case ":$PATH:" in
        *":$deploy_venv/bin:"*) ;;
        *) if [ -d "$deploy_venv/bin" ]; then PATH="$deploy_venv/bin:$PATH"; export PATH; fi ;;
    esac
}

# cargo-zigbuild finds zig as `zig` on PATH or as `python3 -m ziglang`.
need_zigbuild() {
    use_venv
    if command -v cargo-zigbuild >/dev/null 2>&1 \
        && { command -v zig >/dev/null 2>&1 || python3 -c 'import ziglang' 2>/dev/null; }; then
        return
    fi
    venv_install "${zigbuild_packages[@]}"
}

need_cargo_lambda() {
    use_venv
    command -v cargo-lambda >/dev/null 2>&1 || venv_install "${lambda_packages[@]}"
}

# Prints the cargo-lambda these scripts use (on PATH, else in the venv), installing nothing;
# fails when there is none. The test of `cargo lambda watch` (tests/it/cargo_lambda.rs) finds
# it so, after scripts/verify-packages installed it.
cargo_lambda_path() {
    use_venv
    command -v cargo-lambda
}

need_sam() {
    use_venv
    command -v sam >/dev/null 2>&1 || venv_install "${sam_packages[@]}"
}

# The newest GLIBC_x.y symbol version a binary needs (what `objdump -T` lists).
glibc_needed() {
    objdump -T "$1" | grep -o 'GLIBC_[0-9][0-9.]*' | sort -u -V | tail -1
}
