#!/usr/bin/env bash
# Screenshot of the default GTKWave view of a run (docs/waveforms.md):
#   tools/waves_screenshot.sh build/sim docs/img/gtkwave-default-view.png
# Opens <run>/training.gtkw in GTKWave on a virtual X server and grabs the screen.
# Needs: gtkwave (tools/setup.sh installs it), Xvfb and ImageMagick's `import`
# (apt-get install xvfb imagemagick; only this script uses them).
set -euo pipefail
run_dir=${1:?usage: $0 RUN_DIR OUT.png}
png=${2:?usage: $0 RUN_DIR OUT.png}
for tool in gtkwave Xvfb import; do
  command -v "$tool" >/dev/null || { echo "$0: $tool not found (apt-get install gtkwave xvfb imagemagick)" >&2; exit 2; }
done
[ -f "$run_dir/training.gtkw" ] || { echo "$0: $run_dir/training.gtkw not found (run cosim sim first)" >&2; exit 2; }
display=:$((90 + RANDOM % 100))
Xvfb "$display" -screen 0 1500x900x24 -nolisten tcp >/dev/null 2>&1 &
xvfb=$!
gtk=""
cleanup() { [ -n "$gtk" ] && kill "$gtk" 2>/dev/null; kill "$xvfb" 2>/dev/null; wait 2>/dev/null || true; }
trap cleanup EXIT
sleep 1
DISPLAY=$display gtkwave "$run_dir/training.gtkw" >/dev/null 2>&1 &
gtk=$!
sleep "${WAVES_SCREENSHOT_WAIT:-6}"
DISPLAY=$display import -window root "$png"
echo "$png"
