#!/bin/sh
# Wrap dist/Traymind.app (built by `python -m tools.build --bundle-only` on macOS, from the
# BUNDLE step of build.spec, which sets LSUIElement: a menu-bar app with no Dock icon) in
# dist/traymind-<version>-macos-<arch>.dmg, with a link to /Applications to drag it onto.
#
# NOT VERIFIED: needs macOS (hdiutil); written for the macOS job of
# .github/workflows/installers.yml, never run on the Linux machine Traymind is developed on.
# The .app is not signed or notarized: Gatekeeper asks users to open it with right-click > Open.
set -eu
cd "$(dirname "$0")/../.."
version=$(python3 -c 'import tomllib; print(tomllib.load(open("pyproject.toml", "rb"))["project"]["version"])')
out="dist/traymind-$version-macos-$(uname -m).dmg"
stage=$(mktemp -d)
trap 'rm -rf "$stage"' EXIT
cp -R dist/Traymind.app "$stage/"
ln -s /Applications "$stage/Applications"
/usr/libexec/PlistBuddy -c "Print :LSUIElement" "$stage/Traymind.app/Contents/Info.plist" | grep -qx true
hdiutil create -volname Traymind -srcfolder "$stage" -fs HFS+ -format UDZO -ov "$out"
echo "$out"
