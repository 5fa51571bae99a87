#!/usr/bin/env bash
# Install the desktop GIS clients that the file tests open our exports with: QGIS 3.22's Python
# bindings (python3-qgis, which pulls in qgis-providers for the OGR, delimited-text and virtual-layer
# providers) and GDAL 3.6's ogr2ogr/ogrinfo (gdal-bin), from Debian bookworm. Test-only: the app itself
# needs none of it. Idempotent; about 4 minutes on a fresh machine (170 packages).
set -euo pipefail
export DEBIAN_FRONTEND=noninteractive
missing=()
for pkg in python3-qgis gdal-bin; do
  dpkg -s "$pkg" >/dev/null 2>&1 || missing+=("$pkg")
done
if [ ${#missing[@]} -gt 0 ]; then
  apt-get update -q
  apt-get install -y -q --no-install-recommends "${missing[@]}"
fi
QT_QPA_PLATFORM=offscreen /usr/bin/python3 -c "from qgis.core import QgsApplication"
ogrinfo --version
