#!/bin/sh
# Copies the browser bundles `npm ci` fetched into the package's static folder, with their
# licences. Used by the Makefile and the Dockerfile: usage: copy-vendor.sh <node_modules> <dest>
set -eu
modules=$1
dest=$2
mkdir -p "$dest"
cp "$modules/chart.js/dist/chart.umd.min.js" "$dest/"
cp "$modules/chart.js/LICENSE.md" "$dest/chart.js-LICENSE.md"
cp "$modules/swagger-ui-dist/swagger-ui-bundle.js" "$modules/swagger-ui-dist/swagger-ui.css" "$dest/"
cp "$modules/swagger-ui-dist/LICENSE" "$dest/swagger-ui-LICENSE"
cp "$modules/redoc/bundles/redoc.standalone.js" "$dest/"
cp "$modules/redoc/LICENSE" "$dest/redoc-LICENSE"
