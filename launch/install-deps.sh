#!/usr/bin/env bash
# Installs the Debian packages qosroute needs. Idempotent, and quick when everything is present:
# apt is only touched when a package is missing.
set -euo pipefail

packages=(
  build-essential cmake ccache pkg-config
  libtorch-dev
  libopenmpi-dev openmpi-bin
  libhdf5-dev hdf5-tools
  libboost-program-options-dev
  # Boost.Beast/Asio (header-only) for `qosroute serve`, `fake-backend` and `loadgen`.
  libboost-dev
  libgtest-dev libgmock-dev libbenchmark-dev
  libspdlog-dev libfmt-dev nlohmann-json3-dev
  # Debian's LibTorch calls whatever libblas.so.3 is selected; netlib's reference BLAS is
  # 4-5x slower for the SAC update than OpenBLAS.
  libopenblas0-openmp
  # `qosroute plot` (tools/plot_run.py) draws with the Debian python3's matplotlib (+ numpy).
  python3-matplotlib python3-numpy
)

missing=()
for p in "${packages[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done

if [ ${#missing[@]} -gt 0 ]; then
  echo "install-deps: installing ${missing[*]}"
  SUDO=""
  [ "$(id -u)" -ne 0 ] && SUDO="sudo"
  export DEBIAN_FRONTEND=noninteractive
  $SUDO apt-get update -qq
  $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi
echo "install-deps: all packages present"
